"""Weight and bias initialisation of conv and linear layers, from the train config:

    init: {weights: default | zeros | normal | xavier | kaiming, bias: default | zeros | normal, std: 0.01}

`default` keeps what the layer (or torchvision, for resnet) chose. Batch-norm layers are
never touched. Draws come from torch's global generator, seeded before the model is built.
"""

from __future__ import annotations

from torch import nn

WEIGHT_INITS = {
    "default": None,
    "zeros": lambda w, std: nn.init.zeros_(w),
    "normal": lambda w, std: nn.init.normal_(w, 0.0, std),
    "xavier": lambda w, std: nn.init.xavier_uniform_(w),
    # fan_in keeps activations' variance through ReLU layers (He et al. 2015).
    "kaiming": lambda w, std: nn.init.kaiming_normal_(w, nonlinearity="relu"),
}

BIAS_INITS = {
    "default": None,
    "zeros": lambda b, std: nn.init.zeros_(b),
    "normal": lambda b, std: nn.init.normal_(b, 0.0, std),
}

LAYERS = (nn.Conv2d, nn.Linear)


def initialise(model: nn.Module, spec: dict) -> nn.Module:
    """Apply `spec` ({weights, bias, std}) to every conv and linear layer, in module order."""
    weight_init = WEIGHT_INITS[spec.get("weights", "default")]
    bias_init = BIAS_INITS[spec.get("bias", "default")]
    std = spec.get("std", 0.01)
    for module in model.modules():
        if not isinstance(module, LAYERS):
            continue
        if weight_init:
            weight_init(module.weight, std)
        if bias_init and module.bias is not None:
            bias_init(module.bias, std)
    return model
