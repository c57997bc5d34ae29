"""`maskflow summary`: the per-layer table of one model, in torchsummary's familiar layout.

    maskflow summary --config config.yaml --model cnn_baseline
    maskflow summary --config configs/fer2013.yaml --model fer_vgg64

prints, for the resolved model on its dataset's crops:

    ----------------------------------------------------------------
            Layer (type)               Output Shape         Param #
    ================================================================
                Conv2d-1           [-1, 64, 64, 64]             640
    ...
    Total params: 39,569,799

A forward hook on every leaf module records its output shape and own parameters while a
2-sample dummy batch goes through the model in eval mode; rows are numbered in the order the
hooks fire, from 1, over all leaf modules (the appended classifier included), as torchsummary
does. The sizes below the table are torchsummary's float32 estimates per sample: input, the
forward outputs twice (their gradients), the parameters. Every architecture type works
(numpy_mlp through its torch twin). The train stage writes the same table as
`architecture.txt` (maskflow.layout.MODEL["architecture"], passed as `maskflow train --architecture`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from maskflow.errors import ConfigError

RULE, DOUBLE = "-" * 64, "=" * 64
MB = 1024.0**2


def _shape(output) -> list[int]:
    if isinstance(output, (list, tuple)):
        output = output[0]
    return [-1, *list(output.shape[1:])]


def layer_rows(model, channels: int, size: int) -> list[dict]:
    """One {name, shape, params, trainable} per leaf module call, in call order."""
    import torch

    rows: list[dict] = []

    def hook(module, inputs, output):
        kind = type(module).__name__
        own = list(module.parameters(recurse=False))
        rows.append(
            {
                "name": f"{kind}-{len(rows) + 1}",
                "shape": _shape(output),
                "params": sum(p.numel() for p in own),
                "trainable": sum(p.numel() for p in own if p.requires_grad),
            }
        )

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = model.training
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    try:
        model.eval()  # a summary must not move batch-norm statistics of a model being trained
        with torch.no_grad():
            model(torch.zeros(2, channels, size, size, device=device, dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return rows


def summary_table(model, channels: int, size: int) -> str:
    """The torchsummary-style table of `model` on channels x size x size inputs."""
    rows = layer_rows(model, channels, size)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return format_table(rows, channels * size * size, total, trainable)


def format_table(rows: list[dict], input_values: int, total: int, trainable: int) -> str:
    """The table text from its rows ({name, shape, params}) and totals; sizes as torchsummary's."""
    lines = [RULE, f"{'Layer (type)':>20}  {'Output Shape':>25} {'Param #':>15}", DOUBLE]
    for row in rows:
        lines.append(f"{row['name']:>20}  {str(row['shape']):>25} {row['params']:>15,}")
    input_mb = input_values * 4.0 / MB
    outputs = sum(abs(_product(row["shape"])) for row in rows)
    forward_mb = 2.0 * outputs * 4.0 / MB  # x2: the gradients of every output
    params_mb = total * 4.0 / MB
    lines += [
        DOUBLE,
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
        RULE,
        f"Input size (MB): {input_mb:.2f}",
        f"Forward/backward pass size (MB): {forward_mb:.2f}",
        f"Params size (MB): {params_mb:.2f}",
        f"Estimated Total Size (MB): {input_mb + forward_mb + params_mb:.2f}",
        RULE,
    ]
    return "\n".join(lines) + "\n"


# numpy_mlp activation -> the torch twin's module name (maskflow.models.numpy_mlp.twin)
TWIN_ACTIVATIONS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh"}


def numpy_mlp_table(arch: dict, channels: int, size: int, num_classes: int) -> str:
    """The table of a numpy_mlp's torch twin, computed without torch (its trainer imports none):
    Linear + activation per hidden layer, then the output Linear."""
    widths = [channels * size * size, *arch.get("hidden", [64]), num_classes]
    act = TWIN_ACTIVATIONS[arch.get("activation", "relu")]
    rows: list[dict] = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        rows.append({"name": f"Linear-{len(rows) + 1}", "shape": [-1, fan_out], "params": (fan_in + 1) * fan_out})
        if i < len(widths) - 2:
            rows.append({"name": f"{act}-{len(rows) + 1}", "shape": [-1, fan_out], "params": 0})
    total = sum(row["params"] for row in rows)
    return format_table(rows, widths[0], total, total)


def _product(shape: list[int]) -> int:
    total = 1
    for n in shape:
        total *= n
    return total


def model_table(spec: dict, num_classes: int) -> str:
    """The table of a resolved model (maskflow.config) built untrained on its dataset's crops."""
    import torch

    from maskflow.models import CHANNELS, build_model

    preprocess = spec.get("preprocess") or {}
    channels, size = CHANNELS[preprocess.get("channels", "rgb")], preprocess.get("size", 32)
    torch.manual_seed(spec.get("seed", 1))
    return summary_table(build_model(spec["arch"], channels, size, num_classes), channels, size)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", nargs="+", default=["config.yaml"], type=Path, help="config file(s), layered key by key"
    )
    parser.add_argument("--model", required=True, help="a model name as resolved (sweep members and -s<seed> too)")


def load_config(paths: list[Path]) -> dict:
    """The config files merged key by key, as Snakemake merges several --configfile."""
    from maskflow.config import deep_merge

    merged: dict = {}
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        merged = deep_merge(merged, yaml.safe_load(path.read_text()) or {})
    return merged


def run(args: argparse.Namespace) -> None:
    from maskflow.config import load_and_check

    schema = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"
    resolved = load_and_check(load_config(args.config), schema)
    models = resolved["models"]
    if args.model not in models:
        raise ConfigError(f"--model: unknown model {args.model!r}; models: {', '.join(sorted(models))}")
    spec = models[args.model]
    classes = resolved["datasets"][spec["dataset"]]["classes"]
    print(model_table(spec, len(classes)), end="")
