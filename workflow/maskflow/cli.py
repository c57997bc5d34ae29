"""The `maskflow` command: one subcommand per workflow stage, plus `predict` for new photos.

Snakemake rules call these (`maskflow cache --annotations ... --out-dir ...`); people can too:

    maskflow --help
    maskflow predict --checkpoint results/masks/models/cnn_baseline/checkpoint.pt \
        --annotations new.csv --images photos/ --out preds.csv

Each subcommand lives in its own module, imported only when it runs (torch is slow to import),
and exposes `add_arguments(parser)` and `run(args)`. A `MaskflowError` (a user mistake) is
printed as one clear line and exits with status 2; anything else keeps its traceback. Options
that take JSON (`--spec`, `--columns`, ...) say "JSON" in their help and are read with
`maskflow.options.json_option`, so a bad value is that one line too.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import sys

from maskflow.errors import MaskflowError

# subcommand -> (module, one-line help). A registry, so adding a stage is one line.
COMMANDS: dict[str, tuple[str, str]] = {
    "fetch": ("maskflow.sources.fetch", "download, copy or generate a dataset's raw files and manifest"),
    "validate": ("maskflow.annotations.validate", "read annotations, write clean rows and the quality report"),
    "split": ("maskflow.data.split", "assign train/val/test, grouped by source photo"),
    "cache": ("maskflow.data.cache", "crop, resize and cache every split as uint8 arrays"),
    "stats": ("maskflow.data.stats", "class counts, balance plot, normalization, example crops"),
    "train": ("maskflow.training.command", "train one model from the cached arrays"),
    "evaluate": ("maskflow.evaluation.evaluate", "predictions and metrics of a model or ensemble"),
    "figure": ("maskflow.figures.command", "render one figure of one model"),
    "compare": ("maskflow.compare.table", "comparison table and plot of a dataset's models"),
    "sweep": ("maskflow.compare.sweep", "table and plot of one sweep"),
    "report": ("maskflow.report.build", "the self-contained HTML report"),
    "predict": ("maskflow.evaluation.predict", "predict classes of boxes in new photos from a checkpoint"),
    "summary": ("maskflow.models.summary", "per-layer table (output shapes, parameters) of one configured model"),
    "track": ("maskflow.tracking.command", "record trained models as MLflow runs (the workflow's tracking steps)"),
    "history": ("maskflow.tracking.history", "a dataset's or model's runs: what changed and what it did"),
}


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    # `@file` stands for the file's lines, one argument each: the workflow passes the lists of a
    # dataset's files this way (workflow/rules/arguments.smk), past what a command line holds.
    parser = argparse.ArgumentParser(prog="maskflow", description=__doc__.splitlines()[0], fromfile_prefix_chars="@")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        subparser = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module_name).add_arguments(subparser)
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if a in COMMANDS), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        sys.exit(1)
    _setup_logging(args.verbose)
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        module.run(args)
    except MaskflowError as error:
        print(f"maskflow {args.command}: error: {error}", file=sys.stderr)
        sys.exit(2)
    except OSError as error:
        # A full disk met outside maskflow.io.atomic (a library writing on its own): one line too.
        if error.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise
        print(
            f"maskflow {args.command}: error: {error.filename or 'a file'}: {error.strerror.lower()}", file=sys.stderr
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
