"""maskflow.layout: the one table of results paths and targets, which the rules and the package
share. Light to import (Snakemake imports it at every start), and agreeing with what the
package writes and the rules declare."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from maskflow import layout
from maskflow.annotations import PHOTO_FORMATS
from maskflow.config import load_and_check
from maskflow.figures.families import FAMILIES, all_names

from helpers import ROOT, TINY_CONFIG

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
RULES = ROOT / "workflow" / "rules"


@pytest.fixture(scope="module")
def tiny():
    return layout.Experiment(load_and_check(yaml.safe_load(TINY_CONFIG.read_text()), SCHEMA))


def test_importing_layout_imports_no_heavy_library():
    code = "import sys, maskflow.layout; print(sorted({'torch', 'pandas', 'matplotlib'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_cache_files_are_the_names_the_cache_stage_writes(tmp_path):
    from maskflow.data import integrity

    assert layout.cache_files("masks", ("val",)) == [
        "results/masks/cache/val_x.npy",
        "results/masks/cache/val_y.npy",
        "results/masks/cache/val_index.csv",
    ]
    assert integrity.cache_path(tmp_path, "val", "index").name == layout.cache_names(("val",))[2]


def test_stats_figures_are_the_ones_maskflow_stats_draws():
    from maskflow.data import stats

    assert set(stats.FIGURES) == set(layout.STATS_FIGURES)


def test_photo_formats_are_the_ones_cached_from_photos():
    from maskflow.data.cache import BUILDERS, build_from_photos

    assert PHOTO_FORMATS == {name for name, build in BUILDERS.items() if build is build_from_photos}


@pytest.mark.parametrize(
    "model, figures",
    [
        (
            "cnn-s1",
            [
                "confusion_matrix_val",
                "confusion_matrix_test",
                "per_class_accuracy",
                "misclassified_test",
                "overlays_test",
                "learning_curves",
                "saliency",
                "filters",
                "filter_maximization",
                "latent",
            ],
        ),
        (
            "seq",  # a sequential model with a conv layer gets the conv figures too
            ["confusion_matrix_val", "confusion_matrix_test", "per_class_accuracy", "misclassified_test"]
            + ["overlays_test", "learning_curves", "saliency", "filters", "filter_maximization", "latent"],
        ),
        (
            "mlp",
            ["confusion_matrix_val", "confusion_matrix_test", "per_class_accuracy", "misclassified_test"]
            + ["overlays_test", "learning_curves", "saliency", "latent"],
        ),
        (
            "ens",
            ["confusion_matrix_val", "confusion_matrix_test", "per_class_accuracy", "misclassified_test"]
            + ["overlays_test"],
        ),
        ("lr-lr0.1", []),  # a sweep member: read through its table and plots (test_sweep_figures.py)
    ],
)
def test_a_models_figures(tiny, model, figures):
    assert tiny.model_figures(model) == figures


def test_every_figure_family_has_its_rule_and_caption():
    rules = (RULES / "figures.smk").read_text()
    for family in FAMILIES:
        assert re.search(rf"^rule figure_{family}:", rules, re.M), family
        assert (ROOT / "workflow" / "report" / f"figure_{family}.rst").is_file(), family


def test_drawn_figures_are_figures_maskflow_figure_knows(tiny):
    known = set(all_names())
    for name in tiny.evaluated:
        assert set(tiny.model_figures(name)) <= known


def test_all_targets_cover_every_stage_once(tiny):
    targets = tiny.all_targets()
    assert len(targets) == len(set(targets))
    assert targets[-1] == "results/report.html"
    for expected in (
        "results/masks/data/quality.json",
        "results/masks/cache/test_index.csv",
        "results/masks/stats/box_sizes.png",
        "results/masks/models/cnn-s2/checkpoint.pt",
        "results/masks/models/ens/predictions_train.csv",
        "results/masks/figures/cnn_aug/saliency.png",
        "results/masks/comparison_groups.csv",
        "results/masks/sweeps/lr_curves.png",
    ):
        assert expected in targets
    assert not any("/models/ens/checkpoint.pt" in path for path in targets)  # an ensemble trains nothing


def test_report_plan_lists_files_rule_all_makes(tiny):
    from maskflow.report.plan import build_plan, plan_paths

    resolved = load_and_check(yaml.safe_load(TINY_CONFIG.read_text()), SCHEMA)
    plan = build_plan(resolved, {}, ["tests/config/tiny.yaml"], str(ROOT))
    made = set(tiny.all_targets()) | {layout.DATA["manifest"].format(dataset="masks")}
    # the run history's files: `rule all` asks for them through the tracking plan (workflow/rules/track.smk)
    made |= {layout.TRACKING[key].format(dataset="masks") for key in ("history", "plot")}
    made |= {t.format(dataset="masks", model=m, split="test") for t in layout.MODEL.values() for m in tiny.models}
    assert set(plan_paths(plan)) <= made
    assert plan["command"] == "snakemake --cores all --configfile tests/config/tiny.yaml all"


def test_the_html_report_captions_each_figure_with_its_snakemake_report_caption():
    from maskflow.report.models import figure_caption

    for family, spec in FAMILIES.items():
        split = "test" if spec.per_split else None
        caption = figure_caption(family, "model_q", split)
        rst = (ROOT / "workflow" / "report" / f"figure_{family}.rst").read_text().strip()
        assert caption and "{{" not in caption and "model_q" in caption, family
        assert caption == rst.replace("{{ snakemake.wildcards.model }}", "model_q").replace(
            "{{ snakemake.wildcards.split }}", "test"
        )
