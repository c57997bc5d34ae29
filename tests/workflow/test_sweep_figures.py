"""A sweep is read through its table and plots (issue 26): `snakemake all` draws no figures of a
sweep member's own unless the sweep's `figures:` lists it (or says `all`); naming a member's
figure path still draws it; the report shows the sweep's table and plots, not a section per member.

Real Snakemake dry runs on the tiny config (its sweep `lr` has two members) count the jobs per
rule; the report check reads the report of the full tiny run.
"""

from __future__ import annotations

import re

import pytest
import yaml

from maskflow import layout
from maskflow.config import load_and_check
from maskflow.errors import ConfigError
from maskflow.report.html import anchor
from maskflow.report.plan import build_plan

from helpers import ROOT, TINY_CONFIG
from helpers.snakemake import job_stats, run_snakemake

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
MEMBERS = ("lr-lr0.01", "lr-lr0.1")
FIGURE_RULES = ("figure_confusion_matrix", "figure_learning_curves", "figure_per_class_accuracy")


def tiny_config(**sweep_settings) -> dict:
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["sweeps"]["lr"].update(sweep_settings)
    return config


def experiment(config: dict) -> layout.Experiment:
    return layout.Experiment(load_and_check(config, SCHEMA))


def test_a_member_gets_figures_only_when_its_sweep_lists_it():
    unlisted = experiment(tiny_config())
    assert [unlisted.model_figures(m) for m in MEMBERS] == [[], []]
    assert not [path for path in unlisted.all_targets() if "/figures/lr-" in path]

    listed = experiment(tiny_config(figures=["lr-lr0.1"]))
    assert listed.model_figures("lr-lr0.01") == []
    # a listed member is explained like any model of its kind (the same figures as its base)
    assert listed.model_figures("lr-lr0.1") == listed.model_figures("mlp")
    everyone = experiment(tiny_config(figures="all"))
    assert all(everyone.model_figures(m) == everyone.model_figures("mlp") for m in MEMBERS)


def test_a_listed_name_that_is_no_member_stops_naming_the_key():
    with pytest.raises(ConfigError) as error:
        load_and_check(tiny_config(figures=["lr-lr0.5"]), SCHEMA)
    assert str(error.value) == (
        "sweeps.lr.figures: 'lr-lr0.5' is not a member of the sweep (its 2 members: lr-lr0.01, lr-lr0.1)"
    )


def test_the_report_plan_shows_a_sweep_as_its_table_and_plots():
    plan = build_plan(load_and_check(tiny_config(), SCHEMA), {}, configfiles=[], repo_dir=str(ROOT))
    (dataset,) = plan["datasets"]
    shown = [model["name"] for model in dataset["models"]]
    assert not set(MEMBERS) & set(shown) and "mlp" in shown
    (sweep,) = dataset["sweeps"]
    assert sweep["members"] == 2 and sweep["shown"] == []
    assert {"table", "plot", "curves"} <= set(sweep)

    plan = build_plan(load_and_check(tiny_config(figures=["lr-lr0.1"]), SCHEMA), {}, configfiles=[], repo_dir=".")
    assert "lr-lr0.1" in [model["name"] for model in plan["datasets"][0]["models"]]
    assert plan["datasets"][0]["sweeps"][0]["shown"] == ["lr-lr0.1"]


def dry_run_jobs(tmp_path, config: dict, *targets: str) -> dict[str, int]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    process = run_snakemake(tmp_path / "run", "-n", *targets, config=path)
    return job_stats(process.stdout + process.stderr)


@pytest.mark.workflow
def test_all_draws_the_figures_of_the_listed_members_alone(tmp_path):
    """Per figure rule, listing one member adds exactly that member's figures to `all`."""
    unlisted = dry_run_jobs(tmp_path, tiny_config(), "all")
    listed = dry_run_jobs(tmp_path, tiny_config(figures=["lr-lr0.1"]), "all")
    mlp_figures = experiment(tiny_config()).model_figures("mlp")
    for rule in FIGURE_RULES:
        family = rule.removeprefix("figure_")
        per_member = sum(1 for name in mlp_figures if re.fullmatch(rf"{family}(_\w+)?", name))
        assert listed[rule] - unlisted[rule] == per_member, rule
    # train and evaluate run for every member either way
    assert unlisted["train"] == listed["train"] and unlisted["evaluate_model"] == listed["evaluate_model"]
    assert listed["total"] - unlisted["total"] == len(mlp_figures)


@pytest.mark.workflow
def test_naming_a_members_figure_draws_it(tmp_path):
    jobs = dry_run_jobs(tmp_path, tiny_config(), "results/masks/figures/lr-lr0.1/confusion_matrix_val.png")
    assert jobs["figure_confusion_matrix"] == 1 and jobs["train"] == 1 and jobs["evaluate_model"] == 1


@pytest.mark.workflow
def test_the_report_has_the_sweep_and_no_section_per_member(tiny_run):
    page = (tiny_run / layout.REPORT["html"]).read_text(encoding="utf-8")
    assert f'id="{anchor("sweep", "masks", "lr")}"' in page
    assert "2 members, compared in this table and these plots" in page
    for member in MEMBERS:
        assert f'id="{anchor("model", "masks", member)}"' not in page
    assert f'id="{anchor("model", "masks", "mlp")}"' in page
