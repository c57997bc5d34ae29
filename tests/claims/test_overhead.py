"""What a job pays before it works (issue 17): a NumPy model's train and evaluate commands run
as the workflow runs them, in a fresh Python process each, and must import neither torch (3 CPU
seconds and 900 MB a job) nor pandas (0.45 s); a sweep member's two figures not torch either, nor
a network's saliency and conv figures (evaluate computed what they plot). Their results are
the same run to run, and evaluation reproduces the metrics training logged, exactly.

The commands run through a wrapper that runs maskflow's command line as `python -m maskflow ...`
does (without its fast exit, which would end the process before the report) and prints which of
the heavy modules the process imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from helpers.evaluation import CLASSES, write_cache

# The heavy modules a job can pull in. torch._dynamo and torch._inductor (torch.compile's
# machinery, over a CPU second) come with torch.optim's first optimizer and with
# torch.use_deterministic_algorithms, not with torch itself.
HEAVY = ("torch", "torch._dynamo", "torch._inductor", "pandas", "matplotlib")

# `python -m maskflow ARGS`, then which heavy modules the process ended up importing (last line).
WRAPPER = f"""
import json, sys
from maskflow.cli import main
try:
    main(sys.argv[1:])
finally:
    print(json.dumps({{name: name in sys.modules for name in {HEAVY!r}}}), file=sys.stderr)
"""


def only(*names: str) -> dict[str, bool]:
    """The report of a process that imported exactly these of the heavy modules."""
    return {name: name in names for name in HEAVY}


SPEC = {
    "name": "dnn",
    "seed": 2,
    "arch": {"type": "numpy_mlp", "hidden": [16, 8], "activation": "relu"},
    "train": {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "batch_size": 8, "epochs": 3, "mixed_precision": False},
}


def maskflow(*args: str) -> dict[str, bool]:
    """Run one maskflow command in a fresh process; which heavy modules it imported."""
    process = subprocess.run([sys.executable, "-c", WRAPPER, *args], capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stderr.strip().splitlines()[-1])


def train(cache: Path, out: Path) -> dict[str, bool]:
    return maskflow(
        "train", "--spec", json.dumps(SPEC), "--classes", json.dumps(CLASSES), "--cache-dir", str(cache),
        "--normalization", str(cache.parent / "normalization.json"), "--checkpoint", str(out / "checkpoint.pt"),
        "--history", str(out / "history.csv"), "--latent", str(out / "latent.npz"), "--resume", str(out / "resume.pt"),
        "--architecture", str(out / "architecture.txt"), "--threads", "2",
    )  # fmt: skip


def evaluate(cache: Path, out: Path) -> dict[str, bool]:
    return maskflow(
        "evaluate", "--checkpoint", str(out / "checkpoint.pt"), "--model", "dnn", "--cache-dir", str(cache),
        "--normalization", str(cache.parent / "normalization.json"), "--out-dir", str(out),
        "--metrics", str(out / "metrics.json"), "--explanations", str(out / "explanations.npz"),
    )  # fmt: skip


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return write_cache(tmp_path_factory.mktemp("overhead") / "cache")


def test_numpy_model_train_and_evaluate_import_no_torch_and_reproduce_the_logged_metrics(cache, tmp_path):
    out = tmp_path / "dnn"
    assert train(cache, out) == only()
    assert evaluate(cache, out) == only()

    from maskflow.models.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(out / "checkpoint.pt")
    assert checkpoint["weights_format"] == "numpy" and checkpoint["complete"]
    metrics = json.loads((out / "metrics.json").read_text())
    val = metrics["splits"]["val"]
    assert val["accuracy"] == checkpoint["val_metrics"]["accuracy"]  # exactly
    assert metrics["training"]["val_metrics"] == checkpoint["val_metrics"]
    assert (out / "architecture.txt").is_file()

    # A sweep member's two figures: matplotlib, but neither torch nor (for the curves) pandas.
    history, metrics_file = str(out / "history.csv"), str(out / "metrics.json")
    curves = maskflow(
        "figure", "learning_curves", "--history", history, "--metrics", metrics_file, "--out", str(out / "lc.png")
    )
    assert curves == only("matplotlib")
    confusion = maskflow("figure", "confusion_matrix_test", "--metrics", metrics_file, "--out", str(out / "cm.png"))
    assert confusion == only("matplotlib")
    # its saliency, named by a user (not drawn by default), from its own chain rule: no torch either
    saliency = maskflow(
        "figure", "saliency", "--explanations", str(out / "explanations.npz"), "--out", str(out / "s.png")
    )
    assert saliency == only("matplotlib")


def test_a_networks_saliency_and_conv_figures_import_no_torch(cache, tmp_path):
    """evaluate computes what they plot while it has the model loaded (explanations.npz)."""
    from helpers.evaluation import write_checkpoint

    out = tmp_path / "cnn"
    write_checkpoint(out / "checkpoint.pt", cache, name="dnn")
    # the network's own evaluation needs torch, but neither torch.compile's machinery (which
    # use_deterministic_algorithms or an optimizer in the filter search would import) nor pandas
    assert evaluate(cache, out) == only("torch")
    for name in ("saliency", "filters", "filter_maximization"):
        imported = maskflow(
            "figure", name, "--explanations", str(out / "explanations.npz"), "--out", str(out / f"{name}.png")
        )
        assert imported == only("matplotlib"), name
        with Image.open(out / f"{name}.png") as image:
            assert image.format == "PNG" and image.width >= 300


def test_numpy_model_results_are_identical_run_to_run(cache, tmp_path):
    runs = []
    for name in ("first", "second"):
        out = tmp_path / name
        train(cache, out)
        evaluate(cache, out)
        history = [line.rsplit(",", 1)[0] for line in (out / "history.csv").read_text().splitlines()]  # less seconds
        runs.append((history, (out / "predictions_test.csv").read_bytes(), (out / "latent.npz").read_bytes()))
    assert runs[0] == runs[1]


def test_deterministic_kernels_are_switched_on_without_importing_torch_compile():
    """configure() (every torch train and evaluate job) sets the flag that
    torch.use_deterministic_algorithms sets, without that function's 1.3 CPU s import of
    torch._inductor; checked in a fresh process."""
    probe = (
        "import sys, torch; from maskflow.runtime.device import configure; configure(torch.device('cpu'), 1); "
        "print(torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(), "
        "'torch._inductor' in sys.modules)"
    )
    process = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stderr[-2000:]
    assert process.stdout.split() == ["True", "False", "False"]
