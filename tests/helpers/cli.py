"""Running `maskflow ...` in the test process, and checking a user mistake's one-line error."""

from __future__ import annotations

import json

from maskflow.cli import main


def cli(*argv: str, capsys) -> tuple[int, str]:
    """Run `maskflow ...` in this process (its real parser and error handling): (status, stderr)."""
    try:
        main([str(a) for a in argv])
        status = 0
    except SystemExit as stop:
        status = int(stop.code)
    return status, capsys.readouterr().err


def assert_clear_error(status: int, err: str, *fragments: str) -> None:
    """Exit 2, no traceback, and every fragment in the last line of stderr."""
    assert status == 2, err
    assert "Traceback" not in err
    message = err.strip().splitlines()[-1]
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def validate_args(raw_dir, spec: dict, out, quality) -> list[str]:
    """`maskflow validate` of `raw_dir` under `spec` (annotations, classes), writing `out` and `quality`."""
    return [
        "validate",
        "--raw-dir",
        str(raw_dir),
        "--spec",
        json.dumps(spec),
        "--out",
        str(out),
        "--quality",
        str(quality),
    ]


def stats_args(cache_dir, classes, counts, normalization) -> list[str]:
    """`maskflow stats` on a cache folder, writing `counts` and `normalization`."""
    spec = json.dumps({"classes": list(classes)})
    return [
        "stats",
        "--cache-dir",
        str(cache_dir),
        "--spec",
        spec,
        "--counts",
        str(counts),
        "--normalization",
        str(normalization),
    ]


def evaluate_args(model_dir, cache_dir) -> list[str]:
    """`maskflow evaluate` of model_dir's checkpoint on a cache folder (its stats beside it)."""
    return [
        "evaluate",
        "--checkpoint", str(model_dir / "checkpoint.pt"),
        "--cache-dir", str(cache_dir),
        "--normalization", str(cache_dir.parent / "normalization.json"),
        "--out-dir", str(model_dir),
        "--metrics", str(model_dir / "metrics.json"),
        "--explanations", str(model_dir / "explanations.npz"),
    ]  # fmt: skip
