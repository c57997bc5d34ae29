"""A model's settings as people read them: the comparison table's columns and the report's list.

    from maskflow.models.settings import table_settings, listed_settings
    table_settings(spec)    # {"arch": "cnn 16k3p2-32k3p2 fc 64", "optimizer": "adam", "lr": 0.001, ...}
    listed_settings(spec)   # {"architecture": {...}, "seed": 0, "device": "auto", "optimizer": ..., ...}

`spec` is a resolved model (config.py) with the `kind` its metrics carry ("model" or
"ensemble"). comparison.csv and the report's model tables take `table_settings` (one short
column each: the architecture in one line, augmentation and early stopping summarised); the
report's per-model "settings" box takes `listed_settings` (every training setting as given).
Both read the training keys from TRAIN_SETTINGS, so a setting added there shows in both.
No torch, no pandas: the compare and report jobs import this.
"""

from __future__ import annotations

# Training settings shown for a model, in the order a reader expects (table columns take a subset).
TRAIN_SETTINGS = (
    "optimizer",
    "lr",
    "momentum",
    "weight_decay",
    "schedule",
    "batch_size",
    "epochs",
    "early_stopping",
    "init",
    "label_smoothing",
    "augment",
    "imbalance",
    "latent_epochs",
)
ENSEMBLE_RULE = "mean of the members' class probabilities"


def _blocks(arch: dict) -> str:
    """A compact CNN description: 16k3s1p2 = 16 channels, 3x3 kernel, stride 1, pool 2."""
    parts = []
    for block in arch.get("blocks") or []:
        text = f"{block.get('channels')}k{block.get('kernel', 3)}"
        if block.get("stride", 1) != 1:
            text += f"s{block['stride']}"
        if block.get("pool"):
            text += f"p{block['pool']}"
        if block.get("batch_norm"):
            text += "bn"
        parts.append(text)
    return "-".join(parts)


def _layers(arch: dict) -> str:
    hidden = "-".join(str(h) for h in arch.get("hidden") or arch.get("head") or [])
    if arch.get("bottleneck"):
        hidden += f"-({arch['bottleneck']})"
    return hidden


def _sequential(arch: dict) -> str:
    """`sequential 14 layers: conv2d x4, linear x2` (the weighted layers say what the network is)."""
    layers = arch.get("layers") or []
    kinds = [layer.get("type") for layer in layers]
    weighted = [f"{kind} x{kinds.count(kind)}" for kind in ("conv2d", "linear") if kind in kinds]
    return f"sequential {len(layers)} layers" + (f": {', '.join(weighted)}" if weighted else "")


# arch type -> its one-line description (a registry: a new architecture adds one line).
ARCH_SUMMARY = {
    "cnn": lambda a: f"cnn {_blocks(a)}" + (f" fc {_layers(a)}" if _layers(a) else ""),
    "mlp": lambda a: f"mlp {_layers(a)}".strip(),
    "numpy_mlp": lambda a: f"numpy_mlp {_layers(a)}".strip(),
    "resnet": lambda a: f"resnet18 width {a.get('width', 64)}",
    "sequential": lambda a: _sequential(a),
}


def arch_summary(arch: dict) -> str:
    return ARCH_SUMMARY.get(arch.get("type"), lambda a: str(a.get("type")))(arch)


def _ensemble(spec: dict) -> dict:
    return {"arch": "ensemble of " + " + ".join(spec.get("members", [])), "rule": ENSEMBLE_RULE}


def table_settings(spec: dict) -> dict:
    """The key settings of a model (or an ensemble) as table columns, each one short value."""
    if spec.get("kind") == "ensemble":
        return {"arch": _ensemble(spec)["arch"]}
    train = spec.get("train") or {}
    augment = [k for k, v in (train.get("augment") or {}).items() if v]
    stopping = train.get("early_stopping")
    shown = {key: train.get(key) for key in ("optimizer", "lr", "batch_size", "epochs")}
    return {
        "arch": arch_summary(spec.get("arch") or {}),
        **shown,
        "imbalance": (train.get("imbalance") or {}).get("method"),
        "augment": "+".join(augment) or "none",
        "early_stopping": f"{stopping['monitor']}/{stopping['patience']}" if stopping else "no",
    }


def listed_settings(spec: dict) -> dict:
    """Every setting of a model (or an ensemble) as given, for the report's settings box."""
    if spec.get("kind") == "ensemble":
        return {"members": spec.get("members"), "rule": ENSEMBLE_RULE}
    train = spec.get("train") or {}
    settings = {"architecture": spec.get("arch"), "seed": spec.get("seed"), "device": spec.get("device")}
    settings.update({key: train.get(key) for key in TRAIN_SETTINGS})
    if spec.get("sweep"):
        settings["sweep"] = {"name": spec["sweep"], "values": spec.get("sweep_values")}
    return settings
