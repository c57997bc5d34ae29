"""Benchmark: what reruns after a small edit of a built experiment.

    .venv/bin/python bench/incremental.py                          # tests/config/tiny.yaml in a temp folder
    .venv/bin/python bench/incremental.py --model mlp --workdir /tmp/built

Builds the config (`snakemake all`; nothing to do if --workdir is already built with it), checks
that a dry run then plans no job, and makes two edits in turn, each followed by `snakemake all`:

1. one model's learning rate (`models.<model>.train.lr` times --lr-factor);
2. one of that model's figure options (`models.<model>.figures.<key>`).

It prints the jobs that ran per rule (Snakemake's job stats table) and checks them against
what should rerun: after the lr edit, training of the models whose resolved training spec
changed (the model and what inherits from it) and only their evaluation and figures, the
ensembles that hold them, and the aggregates (compare, sweep tables, report); after the figure
edit, that model's figures and the report, and no training. Wall times are printed next to the
full build's. `main()` returns the figures as a dict.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from maskflow.config import load_and_check  # noqa: E402

from bench.workflow_overhead import TINY_CONFIG, job_counts, jobs_run, snakemake, timed  # noqa: E402

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
# Keys of a resolved model that do not affect training (workflow/rules/train.smk NOT_TRAINING).
NOT_TRAINING = ("description", "figures")
# Rules without a model wildcard that depend on every model of a dataset, and those of them
# that the whole config feeds (the report's plan carries the config's hash).
# Jobs without a {model} that any model's change may rerun: the comparisons, the report, and the
# run history's per-dataset logging (track_history; track_store once per working folder).
AGGREGATES = {"compare", "sweep", "report_plan", "report", "all", "track_history", "track_store", "argument_file"}
WHOLE_CONFIG = {"report_plan", "report", "all"}


def resolved(config: dict) -> dict:
    return load_and_check(copy.deepcopy(config), SCHEMA)


def changed_models(before: dict, after: dict, keys: tuple[str, ...] | None) -> set[str]:
    """Resolved models whose spec differs: in `keys` only, or outside NOT_TRAINING when None."""

    def part(spec: dict) -> dict:
        return {k: v for k, v in spec.items() if (k in keys if keys else k not in NOT_TRAINING)}

    return {name for name, spec in after["models"].items() if part(spec) != part(before["models"].get(name, {}))}


def with_dependants(models: set[str], plan: dict) -> set[str]:
    """`models` plus the ensembles that have one of them as a member."""
    return models | {name for name, spec in plan["ensembles"].items() if models & set(spec["members"])}


def unexpected_jobs(jobs: list[tuple[str, dict]], allowed_models: set[str], aggregates: set[str]) -> list[str]:
    """Jobs outside the allowed models and aggregate rules, as 'rule[wildcards]'."""
    odd = []
    for rule, wildcards in jobs:
        model = wildcards.get("model")
        if (model in allowed_models) if model else rule in aggregates:
            continue
        odd.append(f"{rule}[{', '.join(f'{k}={v}' for k, v in wildcards.items())}]")
    return odd


def run_edit(workdir: Path, config: dict, name: str) -> tuple[float, str]:
    """Write `config` as {name}.yaml in workdir, run `snakemake all` with it; (seconds, log)."""
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    wall, _, log = timed(workdir, path, "all")
    return wall, log


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=TINY_CONFIG)
    parser.add_argument("--model", default="cnn_aug", help="a key of the config's `models:` to edit")
    parser.add_argument("--lr-factor", type=float, default=2.0)
    parser.add_argument("--figure-key", default="misclassified", help="a `figures:` option of the model")
    parser.add_argument("--figure-value", type=yaml.safe_load, default=16)
    parser.add_argument("--workdir", type=Path, help="a folder to build in and keep (default: a temporary one)")
    args = parser.parse_args(argv)

    base = yaml.safe_load(args.config.read_text())
    if args.model not in base.get("models", {}):
        parser.error(f"--model {args.model!r} is not a key of models: in {args.config} ({', '.join(base['models'])})")
    plans = {"base": resolved(base)}
    lr_config = copy.deepcopy(base)
    lr_before = next(s["train"]["lr"] for s in plans["base"]["models"].values() if s["group"] == args.model)
    lr_config["models"][args.model].setdefault("train", {})["lr"] = lr_before * args.lr_factor
    plans["lr"] = resolved(lr_config)
    figure_config = copy.deepcopy(lr_config)
    figure_config["models"][args.model].setdefault("figures", {})[args.figure_key] = args.figure_value
    plans["figure"] = resolved(figure_config)

    retrain = changed_models(plans["base"], plans["lr"], None)
    redraw = changed_models(plans["lr"], plans["figure"], ("figures",))
    edits = {
        "lr": (
            lr_config,
            f"models.{args.model}.train.lr {lr_before:g} -> {lr_before * args.lr_factor:g}",
            with_dependants(retrain, plans["lr"]),
            AGGREGATES,
        ),
        "figure": (
            figure_config,
            f"models.{args.model}.figures.{args.figure_key} -> {args.figure_value}",
            redraw,
            WHOLE_CONFIG,
        ),
    }

    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        full_seconds, log = run_edit(workdir, base, "base")
        counts = {"full": job_counts(log)}
        print(f"{args.config.name}: full build {full_seconds:.1f} s, {sum(counts['full'].values())} jobs")
        planned = job_counts(snakemake(workdir, workdir / "base.yaml", "-n", "all").stdout)
        print(f"dry run after the build: {sum(planned.values())} jobs planned {dict(planned) if planned else ''}")
        figures: dict = {
            "config": args.config.name,
            "full_s": full_seconds,
            "full_jobs": sum(counts["full"].values()),
            "noop_planned": sum(planned.values()),
        }
        for edit, (config, label, allowed, aggregates) in edits.items():
            seconds, log = run_edit(workdir, config, edit)
            counts[edit] = job_counts(log)
            jobs = jobs_run(log)
            trained = sorted(w["model"] for rule, w in jobs if rule == "train")
            odd = unexpected_jobs(jobs, allowed, aggregates)
            expected_train = sorted(retrain) if edit == "lr" else []
            print(f"\nedit {label}: {sum(counts[edit].values())} jobs in {seconds:.1f} s")
            print(f"  trained: {', '.join(trained) or 'nothing'} (expected: {', '.join(expected_train) or 'nothing'})")
            print(
                f"  jobs outside the edited model{'s' if len(allowed) > 1 else ''} ({', '.join(sorted(allowed))}) "
                f"and {', '.join(sorted(aggregates))}: {', '.join(odd) or 'none'}"
            )
            figures.update(
                {
                    f"{edit}_s": seconds,
                    f"{edit}_jobs": sum(counts[edit].values()),
                    f"{edit}_trained": len(trained),
                    f"{edit}_expected_trained": len(expected_train),
                    f"{edit}_unexpected": odd,
                    f"{edit}_ok": trained == expected_train and not odd,
                }
            )

    rules = sorted(
        set().union(*counts.values()), key=lambda r: list(counts["full"]).index(r) if r in counts["full"] else 99
    )
    print(f"\n{'jobs per rule':<28}" + "".join(f"{name:>8}" for name in counts))
    for rule in [*rules, "total"]:
        row = [sum(c.values()) if rule == "total" else c.get(rule, 0) for c in counts.values()]
        print(f"{rule:<28}" + "".join(f"{n:>8}" for n in row))
    figures["jobs_per_rule"] = {name: dict(c) for name, c in counts.items()}
    return figures


if __name__ == "__main__":
    main()
