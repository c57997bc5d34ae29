"""What a network's figures need from the model itself, computed once while evaluate has it loaded.

    arrays = explanations(ckpt, model, test_x, test_y)     # model: torch module, None for numpy_mlp
    write_explanations("results/masks/models/cnn/explanations.npz", arrays)

The saliency, filters and filter_maximization figures used to load the checkpoint each (importing
torch, 2 CPU s a job, for a few milliseconds of gradients); `maskflow evaluate` now writes
`explanations.npz` beside the predictions and those figure jobs only plot it. Nothing here
depends on a figure option, so changing one still reruns that figure alone: saliency is kept for
the first SALIENCY_KEPT test crops of each class (the config's `figures.saliency_per_class` is
capped at it by the schema) and each figure picks what it shows.

Contents (docs/contracts.md): `format`, `classes`; saliency for every trained model (torch
autograd, or the NumPy MLP's own chain rule without torch); for a network with convolutions, the
first conv's kernels, test crop 0 with every channel of the last conv's activation, and the
inputs found by gradient ascent for a seeded sample of the last conv's filters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from maskflow.io.atomic import atomic_path

if TYPE_CHECKING:
    import torch

FORMAT = "maskflow-explanations/1"
SALIENCY_KEPT = 10  # test crops per class kept with their saliency (the schema caps saliency_per_class)
SAMPLE = 8  # last-conv filters whose maximizing input is searched
STEPS = 60  # gradient-ascent steps
LEARNING_RATE = 0.1  # Adam, in normalised input units
L2 = 1e-3  # penalty on the mean squared input
NOISE = 0.1  # std of the starting noise around gray, in normalised units


# --------------------------------------------------------------------------- saliency


def pick_per_class(labels: np.ndarray, k: int, per_class: int) -> list[np.ndarray]:
    """Indices of the first `per_class` samples of each class (empty for an absent class)."""
    return [np.flatnonzero(labels == c)[:per_class] for c in range(k)]


def saliency_maps(model, ckpt: dict, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H x W saliency in [0, 1] per crop, predicted class, its probability) for uint8 crops.

    The gradient of the predicted class's logit with respect to the normalised input, i.e. what
    the network sees (Simonyan et al. 2014); the map is the largest absolute gradient over the
    colour channels, scaled per crop."""
    import torch

    from maskflow.inference import Normalizer, as_nchw

    x = Normalizer(ckpt["normalization"])(as_nchw(crops)).requires_grad_(True)
    logits = model(x)
    predicted = logits.argmax(dim=1)
    # Summing the chosen logits gives each crop's own gradient: samples do not interact in eval mode.
    logits.gather(1, predicted[:, None]).sum().backward()
    grad = x.grad.detach().abs().amax(dim=1).numpy()
    proba = torch.softmax(logits.detach().double(), dim=1).numpy()
    return _scaled(grad), predicted.numpy(), proba[np.arange(len(proba)), predicted.numpy()]


def numpy_saliency_maps(ckpt: dict, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`saliency_maps` of a NumPy MLP checkpoint, by its own forward pass and chain rule (no torch)."""
    from threadpoolctl import threadpool_limits

    from maskflow.inference import normalize_numpy
    from maskflow.models.numpy_mlp.network import forward, input_gradient, softmax

    state, arch = ckpt["model_state"], ckpt["arch"]
    activation = arch.get("activation", "relu")
    x = normalize_numpy(np.asarray(crops).transpose(0, 3, 1, 2), ckpt["normalization"]).astype(state["w0"].dtype)
    # one BLAS thread, as the NumPy model's evaluation runs (maskflow.inference.numpy_forward): the
    # same bits whatever the machine's core count
    with threadpool_limits(1):
        logits, tape = forward(state, x, activation)
        predicted = logits.argmax(axis=1)
        chosen = np.zeros_like(logits)
        chosen[np.arange(len(logits)), predicted] = 1.0  # d(sum of the chosen logits) / d logits
        grad = np.abs(input_gradient(state, tape, chosen, activation).reshape(x.shape)).max(axis=1)
    proba = softmax(logits.astype(np.float64))
    return _scaled(grad), predicted, proba[np.arange(len(proba)), predicted]


def _scaled(grad: np.ndarray) -> np.ndarray:
    top = grad.reshape(len(grad), -1).max(axis=1).reshape(-1, 1, 1) if len(grad) else np.zeros((0, 1, 1))
    return np.divide(grad, top, out=np.zeros_like(grad), where=top > 0).astype(np.float32)


# --------------------------------------------------------------------------- convolutions


def _activation_types():
    from torch import nn

    return (nn.ReLU, nn.LeakyReLU, nn.RReLU, nn.Tanh, nn.Sigmoid, nn.ELU, nn.GELU)


def conv_layers(model) -> tuple[object | None, object | None]:
    """(first Conv2d, the module whose output is the last conv layer's activation)."""
    from torch import nn

    modules = list(model.modules())
    convs = [i for i, m in enumerate(modules) if isinstance(m, nn.Conv2d)]
    if not convs:
        return None, None
    last = convs[-1]
    tapped = modules[last]
    for module in modules[last + 1 :]:
        if isinstance(module, nn.BatchNorm2d):
            continue
        if isinstance(module, _activation_types()):
            tapped = module
        break
    return modules[convs[0]], tapped


def last_conv_maps(model, ckpt: dict, crop: np.ndarray, tapped) -> np.ndarray:
    """Every channel of the tapped last-conv output for one uint8 crop: C x h x w."""
    import torch

    from maskflow.inference import Normalizer, as_nchw

    captured = {}
    handle = tapped.register_forward_hook(lambda module, inputs, output: captured.__setitem__("maps", output.detach()))
    try:
        with torch.no_grad():
            model(Normalizer(ckpt["normalization"])(as_nchw(crop[None])))
    finally:
        handle.remove()
    return captured["maps"][0].float().numpy()


def sample_filters(n_filters: int, seed: int, sample: int = SAMPLE) -> list[int]:
    """Sorted indices of the filters to show: all when few, else a seeded sample."""
    if n_filters <= sample:
        return list(range(n_filters))
    return sorted(np.random.default_rng(seed).choice(n_filters, size=sample, replace=False).tolist())


class InputAdam:
    """torch.optim.Adam's update of one tensor (its single-tensor path, the CPU default), written
    out: the same bits (tested), without torch.optim, whose first optimizer imports torch._dynamo
    (1.5 CPU s, more than the whole search) for its compile guards."""

    def __init__(self, x: torch.Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        import torch

        self.x, self.lr, self.betas, self.eps, self.steps = x, lr, betas, eps, 0
        self.exp_avg = torch.zeros_like(x, memory_format=torch.preserve_format)
        self.exp_avg_sq = torch.zeros_like(x, memory_format=torch.preserve_format)

    def step(self) -> None:
        import torch

        beta1, beta2 = self.betas
        self.steps += 1
        with torch.no_grad():
            grad = self.x.grad
            self.exp_avg.lerp_(grad, 1 - beta1)
            self.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step = float(self.steps)
            step_size = self.lr / (1 - beta1**step)
            denom = (self.exp_avg_sq.sqrt() / (1 - beta2**step) ** 0.5).add_(self.eps)
            self.x.addcdiv_(self.exp_avg, denom, value=-step_size)


def maximize(model, ckpt: dict, tapped, filters: list[int], seed: int, steps: int = STEPS):
    """(inputs F x C x H x W in normalised units, mean activation of each filter at the start and at
    the end) for the model's own crop size and channels, by gradient ascent from gray.

    Erhan et al. 2009; Simonyan et al. 2014: start from a mid-gray image with a little seeded noise
    (so filters that see no contrast in flat gray still get a gradient), and follow the gradient of
    the filter's mean activation, minus a small L2 penalty that keeps the image from growing
    without bound, in the normalised space the network sees. The model's weights are left as
    they were (their gradients are switched off for the search and back on after)."""
    import torch

    from maskflow.inference import Normalizer

    size, channels = ckpt["image"]["size"], ckpt["image"]["channels"]
    normalizer = Normalizer(ckpt["normalization"])
    gray = normalizer(torch.full((len(filters), channels, size, size), 128, dtype=torch.uint8))
    noise = torch.randn(gray.shape, generator=torch.Generator().manual_seed(seed)) * NOISE
    x = (gray + noise).requires_grad_(True)
    trainable = [p for p in model.parameters() if p.requires_grad]
    for parameter in trainable:
        parameter.requires_grad_(False)  # only the input is optimised
    captured = {}
    handle = tapped.register_forward_hook(lambda module, inputs, output: captured.__setitem__("maps", output))
    index = torch.tensor(filters)

    def activations() -> torch.Tensor:
        model(x)
        maps = captured["maps"]
        # sample f drives filter filters[f]: one batch, every filter optimised at once
        return maps[torch.arange(len(filters)), index].mean(dim=(1, 2))

    adam = InputAdam(x, LEARNING_RATE)
    try:
        with torch.no_grad():
            start = activations().numpy()
        for _ in range(steps):
            x.grad = None
            act = activations()
            # the batch shares nothing in eval mode: each sample gets its own filter's gradient
            (-(act.sum()) + L2 * x.pow(2).mean(dim=(1, 2, 3)).sum()).backward()
            adam.step()
        with torch.no_grad():
            end = activations().numpy()
    finally:
        handle.remove()
        for parameter in trainable:
            parameter.requires_grad_(True)
    return x.detach().numpy(), start, end


# --------------------------------------------------------------------------- the file


def explanations(ckpt: dict, model, test_x: np.ndarray, test_y: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays of explanations.npz for a checkpoint (its torch module, or None for a NumPy one)
    and its uint8 test crops and labels."""
    classes = list(ckpt["classes"])
    picks = np.concatenate(pick_per_class(np.asarray(test_y), len(classes), SALIENCY_KEPT)).astype(np.int64)
    picks.sort()  # test-split order; each figure regroups by class
    crops = np.asarray(test_x)[picks]
    if model is None:
        maps, predicted, confidence = numpy_saliency_maps(ckpt, crops)
    elif len(picks):
        model.eval()
        maps, predicted, confidence = saliency_maps(model, ckpt, crops)
    else:
        maps, predicted, confidence = np.zeros((0, *crops.shape[1:3]), np.float32), np.zeros(0, int), np.zeros(0)
    arrays = {
        "format": np.array(FORMAT),
        "classes": np.array(classes, dtype=str),
        "saliency_index": picks,
        "saliency_label": np.asarray(test_y)[picks].astype(np.int64),
        "saliency_crop": crops,
        "saliency_map": maps,
        "saliency_predicted": np.asarray(predicted, dtype=np.int64),
        "saliency_confidence": np.asarray(confidence, dtype=np.float64),
    }
    first, tapped = conv_layers(model) if model is not None else (None, None)
    if first is None:
        return arrays
    arrays["first_conv_weight"] = first.weight.detach().float().numpy()
    if len(test_x):
        arrays["probe_crop"] = np.asarray(test_x[0])
        arrays["probe_label"] = np.int64(test_y[0])
        arrays["probe_maps"] = last_conv_maps(model, ckpt, np.asarray(test_x[0]), tapped)
    from torch import nn

    seed = int(ckpt.get("seed", 1))
    n_filters = [m for m in model.modules() if isinstance(m, nn.Conv2d)][-1].out_channels
    filters = sample_filters(n_filters, seed)
    inputs, start, end = maximize(model, ckpt, tapped, filters, seed)
    arrays.update(
        maximization_seed=np.int64(seed),
        maximization_filter_count=np.int64(n_filters),
        maximization_filters=np.array(filters, dtype=np.int64),
        maximization_input=inputs.astype(np.float32),
        maximization_start=start.astype(np.float64),
        maximization_end=end.astype(np.float64),
    )
    return arrays


def write_explanations(path, arrays: dict[str, np.ndarray]) -> None:
    """explanations.npz, atomically (a figure never reads half a file)."""
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)
