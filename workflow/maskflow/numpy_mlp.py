"""A multilayer perceptron written from scratch in NumPy: the `numpy_mlp` model type.

Forward pass, softmax cross-entropy and back-propagation are written by hand (no autograd),
trained by mini-batch SGD (optionally with momentum / Nesterov) or Adam, all seeded. It exists
for the classic "DNN from scratch" exercise and its studies (zero vs random initialisation,
activations, depth, batch size), and is trained and evaluated by the same workflow as the torch
models:

- `train(x_train, y_train, x_val, y_val, arch, train_spec, seed, on_epoch)` mirrors the torch
  trainer: it returns the weights and one history row per epoch with the columns of
  history.csv (`epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds`);
- `to_torch(state, arch)` builds the equivalent torch module (`forward`, `features`), so
  checkpoints, evaluation and saliency go through the one torch inference path; `build` is
  its untrained form for the model registry (maskflow.models), which reloads checkpoints;
- `train_cached(spec, data, paths)` is the train stage for this type: cached arrays in;
  checkpoint, history.csv and latent.npz out, written by maskflow.train_outputs as for torch.

Inputs are float arrays laid out as the torch models receive them (N x C x H x W, already
normalised); they are flattened in C order, exactly like `nn.Flatten`, so the numpy and the
torch model see the same feature vector.

    python -m maskflow.numpy_mlp        # trains on scikit-learn's digits and prints the history

arch keys: `hidden` (list of layer widths, default [64]), `activation` (relu | sigmoid | tanh),
`dtype` (float32 | float64, default float32; float64 for gradient checks).
train keys used: optimizer (sgd | adam | adamw), lr, momentum, nesterov, weight_decay,
schedule, batch_size, epochs, early_stopping, init, label_smoothing. Augmentation, imbalance
methods and mixed precision are torch-trainer features: `check_spec` refuses them here.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from maskflow.errors import ConfigError

log = logging.getLogger("maskflow.numpy_mlp")

ARCH_DEFAULTS = {"hidden": [64], "activation": "relu", "dtype": "float32"}
DTYPES = {"float32": np.float32, "float64": np.float64}


# --- activations: name -> (f(z), f'(z) given z and a = f(z)) -----------------------------------
def _sigmoid(z: np.ndarray) -> np.ndarray:
    # The tanh form never overflows, unlike 1 / (1 + exp(-z)) for large negative z.
    return 0.5 * (1.0 + np.tanh(0.5 * z))


ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(z.dtype)),
    "sigmoid": (_sigmoid, lambda z, a: a * (1 - a)),
    "tanh": (np.tanh, lambda z, a: 1 - a * a),
}


# --- initialisation: name -> draw(rng, fan_in, fan_out, shape, std) -------------------------------
def _torch_default(rng, fan_in, fan_out, shape, std):
    # What torch.nn.Linear does by default, weights and bias alike: U(-1/sqrt(fan_in), +).
    bound = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape)


INITS: dict[str, Callable] = {
    "default": _torch_default,
    "zeros": lambda rng, fan_in, fan_out, shape, std: np.zeros(shape),
    "normal": lambda rng, fan_in, fan_out, shape, std: rng.normal(0.0, std, shape),
    "xavier": lambda rng, fan_in, fan_out, shape, std: rng.uniform(-1, 1, shape) * math.sqrt(6.0 / (fan_in + fan_out)),
    "kaiming": lambda rng, fan_in, fan_out, shape, std: rng.normal(0.0, math.sqrt(2.0 / fan_in), shape),
}


def layer_sizes(state: dict[str, np.ndarray]) -> list[int]:
    """[inputs, hidden..., classes] read back from the weights."""
    count = len(state) // 2
    return [state["w0"].shape[0]] + [state[f"w{i}"].shape[1] for i in range(count)]


def init_params(sizes: list[int], init: dict, rng: np.random.Generator, dtype=np.float64) -> dict[str, np.ndarray]:
    """Weights `w{i}` (fan_in x fan_out, used as x @ w) and biases `b{i}` for each layer."""
    weights, bias = INITS[init.get("weights", "default")], INITS[init.get("bias", "default")]
    std = init.get("std", 0.01)
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"w{i}"] = weights(rng, fan_in, fan_out, (fan_in, fan_out), std).astype(dtype)
        params[f"b{i}"] = bias(rng, fan_in, fan_out, (fan_out,), std).astype(dtype)
    return params


# --- forward, loss, backward ---------------------------------------------------------------------
def forward(params: dict, x: np.ndarray, activation: str) -> tuple[np.ndarray, list]:
    """Logits and the per-layer (input, pre-activation, activation) tape that `backward` needs."""
    act, _ = ACTIVATIONS[activation]
    count = len(params) // 2
    a = x.reshape(len(x), -1)
    tape = []
    for i in range(count):
        z = a @ params[f"w{i}"] + params[f"b{i}"]
        if i == count - 1:  # the output layer stays linear: softmax lives in the loss
            tape.append((a, z, z))
            return z, tape
        out = act(z)
        tape.append((a, z, out))
        a = out
    raise ValueError("a network needs at least one layer")


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def cross_entropy(
    logits: np.ndarray, y: np.ndarray, label_smoothing: float = 0.0
) -> tuple[float, np.ndarray, np.ndarray]:
    """Mean softmax cross-entropy, its gradient with respect to the logits, and the probabilities.

    With label smoothing the target is (1 - e) * one_hot + e / K, as in torch's cross_entropy;
    the gradient of the mean loss is then (p - target) / N.
    """
    n, k = logits.shape
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    target = np.full_like(logits, label_smoothing / k)
    target[np.arange(n), y] += 1.0 - label_smoothing
    loss = float(-(target * log_probs).sum() / n)
    probs = np.exp(log_probs)
    return loss, (probs - target) / n, probs


def backward(params: dict, tape: list, dlogits: np.ndarray, activation: str) -> dict[str, np.ndarray]:
    """Gradients of the loss for every weight and bias, by the chain rule layer by layer."""
    _, act_grad = ACTIVATIONS[activation]
    grads = {}
    delta = dlogits  # d loss / d z of the current layer
    for i in reversed(range(len(tape))):
        a_in, _, _ = tape[i]
        grads[f"w{i}"] = a_in.T @ delta
        grads[f"b{i}"] = delta.sum(axis=0)
        if i > 0:
            _, z_prev, a_prev = tape[i - 1]
            delta = (delta @ params[f"w{i}"].T) * act_grad(z_prev, a_prev)
    return grads


def loss_and_grads(params: dict, x: np.ndarray, y: np.ndarray, activation: str, label_smoothing: float = 0.0):
    """(loss, grads, probs) of one mini-batch: the whole of back-propagation in one call."""
    logits, tape = forward(params, x, activation)
    loss, dlogits, probs = cross_entropy(logits, y, label_smoothing)
    return loss, backward(params, tape, dlogits, activation), probs


def predict_proba(state: dict, x: np.ndarray, arch: dict, batch_size: int = 1024) -> np.ndarray:
    """Class probabilities (N x K), computed in batches so large splits fit in memory."""
    activation = arch.get("activation", "relu")
    dtype = state["w0"].dtype
    k = state[f"b{len(state) // 2 - 1}"].shape[0]
    out = np.zeros((len(x), k), dtype=np.float64)
    for start in range(0, len(x), batch_size):
        logits, _ = forward(state, np.asarray(x[start : start + batch_size], dtype=dtype), activation)
        out[start : start + batch_size] = softmax(logits.astype(np.float64))
    return out


def features(state: dict, x: np.ndarray, arch: dict) -> np.ndarray:
    """Penultimate-layer activations (the input to the output layer): the latent figure's data."""
    _, tape = forward(state, np.asarray(x, dtype=state["w0"].dtype), arch.get("activation", "relu"))
    return tape[-1][0]


# --- optimisers: name -> class with step(params, grads, lr), torch's update rules ----------------
class SGD:
    """torch.optim.SGD: v = mu * v + g; step along v (or g + mu * v with Nesterov)."""

    def __init__(self, params: dict, spec: dict):
        self.momentum, self.nesterov = spec.get("momentum", 0.0), spec.get("nesterov", False)
        self.weight_decay = spec.get("weight_decay", 0.0)
        self.velocity = {name: np.zeros_like(p) for name, p in params.items()}

    def step(self, params: dict, grads: dict, lr: float) -> None:
        for name, p in params.items():
            g = grads[name] + self.weight_decay * p if self.weight_decay else grads[name]
            if self.momentum:
                v = self.velocity[name]
                v *= self.momentum
                v += g
                g = g + self.momentum * v if self.nesterov else v
            p -= lr * g


class Adam:
    """torch.optim.Adam (coupled weight decay) and, with `decoupled`, torch.optim.AdamW."""

    beta1, beta2, eps = 0.9, 0.999, 1e-8

    def __init__(self, params: dict, spec: dict, decoupled: bool = False):
        self.weight_decay, self.decoupled = spec.get("weight_decay", 0.0), decoupled
        self.m = {name: np.zeros_like(p) for name, p in params.items()}
        self.v = {name: np.zeros_like(p) for name, p in params.items()}
        self.t = 0

    def step(self, params: dict, grads: dict, lr: float) -> None:
        self.t += 1
        correction1, correction2 = 1 - self.beta1**self.t, 1 - self.beta2**self.t
        for name, p in params.items():
            g = grads[name]
            if self.weight_decay and self.decoupled:
                p *= 1 - lr * self.weight_decay
            elif self.weight_decay:
                g = g + self.weight_decay * p
            m, v = self.m[name], self.v[name]
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            p -= lr * (m / correction1) / (np.sqrt(v / correction2) + self.eps)


OPTIMIZERS: dict[str, Callable] = {
    "sgd": SGD,
    "adam": Adam,
    "adamw": functools.partial(Adam, decoupled=True),
}

# learning rate of epoch e (1-based): name -> f(lr, e, epochs, schedule); torch's StepLR / CosineAnnealingLR
SCHEDULES: dict[str, Callable] = {
    "none": lambda lr, epoch, epochs, s: lr,
    "step": lambda lr, epoch, epochs, s: lr * s.get("factor", 0.1) ** ((epoch - 1) // s.get("every", 10)),
    "cosine": lambda lr, epoch, epochs, s: lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / epochs)),
}

# early stopping: monitored column -> is `new` better than `best`?
_BETTER = {"val_loss": lambda new, best: new < best, "val_acc": lambda new, best: new > best}


# --- checking a spec before any work --------------------------------------------------------------
def check_arch(arch: dict) -> dict:
    """`arch` with its defaults filled in, or ConfigError naming the key (the model registry's
    check for this type; it imports no torch, so checking a config stays fast)."""
    unknown = sorted(set(arch) - set(ARCH_DEFAULTS) - {"type"})
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key; allowed keys: {', '.join(sorted(ARCH_DEFAULTS))}, type")
    filled = {"type": arch.get("type", "numpy_mlp"), **ARCH_DEFAULTS, **arch}
    hidden = filled["hidden"]
    if not isinstance(hidden, list) or not all(
        isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in hidden
    ):
        raise ConfigError(f"hidden: must be a list of integers >= 1, got {hidden!r}")
    for key, allowed in (("activation", ACTIVATIONS), ("dtype", DTYPES)):
        if filled[key] not in allowed:
            raise ConfigError(f"{key}: {filled[key]!r} is not allowed; allowed values: {', '.join(map(repr, allowed))}")
    return filled


def check_spec(arch: dict, train_spec: dict) -> None:
    """check_arch, plus refuse training options only the torch trainer implements."""
    check_arch(arch)
    if train_spec.get("optimizer", "sgd") not in OPTIMIZERS:
        raise ConfigError(f"train.optimizer: {train_spec['optimizer']!r}; numpy_mlp has {', '.join(OPTIMIZERS)}")
    init = train_spec.get("init") or {}
    for key in ("weights", "bias"):
        if init.get(key, "default") not in INITS:
            raise ConfigError(f"train.init.{key}: {init[key]!r}; numpy_mlp has {', '.join(INITS)}")
    augment = {k: v for k, v in (train_spec.get("augment") or {}).items() if v}
    if augment:
        raise ConfigError(f"train.augment: numpy_mlp trains on fixed arrays; remove {', '.join(sorted(augment))}")
    method = (train_spec.get("imbalance") or {}).get("method", "none")
    if method != "none":
        raise ConfigError(f"train.imbalance.method: {method!r} is a torch-trainer feature; numpy_mlp supports none")


# --- training -------------------------------------------------------------------------------------
class Fit(NamedTuple):
    """What `train` returns: the weights to keep, the history rows, and which epoch they are from."""

    state: dict[str, np.ndarray]
    history: list[dict]
    best_epoch: int


def evaluate(state: dict, x: np.ndarray, y: np.ndarray, arch: dict) -> tuple[float, float]:
    """(mean cross-entropy, accuracy); NaN for an empty split."""
    if len(x) == 0:
        return float("nan"), float("nan")
    probs = predict_proba(state, x, arch)
    loss = float(-np.log(np.maximum(probs[np.arange(len(y)), y], 1e-300)).mean())
    return loss, float((probs.argmax(axis=1) == y).mean())


def train(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    arch: dict,
    train_spec: dict,
    seed: int,
    on_epoch: Callable[[int, dict, dict], None] | None = None,
    n_classes: int | None = None,
    val_metrics: Callable[[dict], tuple[float, float]] | None = None,
) -> Fit:
    """Train by mini-batch gradient descent; deterministic for a given seed.

    `on_epoch(epoch, row, state)` is called after each epoch with its history row and the
    current weights (read them, e.g. for latent snapshots; do not modify them). The returned
    state is the best epoch's when early stopping restores it, else the last epoch's.
    `val_metrics(state) -> (val_loss, val_acc)` replaces the NumPy evaluation of x_val/y_val:
    the workflow passes its torch inference path, so logged metrics are the reproducible ones.
    """
    check_spec(arch, train_spec)
    dtype = DTYPES[arch.get("dtype", "float32")]
    activation = arch.get("activation", "relu")
    x_train = np.asarray(x_train, dtype=dtype).reshape(len(x_train), -1)
    x_val = np.asarray(x_val, dtype=dtype).reshape(len(x_val), -1)
    y_train, y_val = np.asarray(y_train, dtype=np.int64), np.asarray(y_val, dtype=np.int64)
    k = n_classes or int(max(y_train.max(initial=-1), y_val.max(initial=-1))) + 1

    rng = np.random.default_rng(seed)
    sizes = [x_train.shape[1], *arch.get("hidden", [64]), k]
    state = init_params(sizes, train_spec.get("init") or {}, rng, dtype)
    optimizer = OPTIMIZERS[train_spec.get("optimizer", "sgd")](state, train_spec)
    schedule = train_spec.get("schedule") or {"type": "none"}
    epochs, batch_size = train_spec.get("epochs", 20), train_spec.get("batch_size", 64)
    smoothing = train_spec.get("label_smoothing", 0.0)
    stopping = train_spec.get("early_stopping")

    history: list[dict] = []
    best = {"epoch": 0, "value": None, "state": None}
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        lr = SCHEDULES[schedule["type"]](train_spec.get("lr", 0.01), epoch, epochs, schedule)
        order = rng.permutation(len(x_train))
        loss_sum, correct = 0.0, 0
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            loss, grads, probs = loss_and_grads(state, x_train[batch], y_train[batch], activation, smoothing)
            optimizer.step(state, grads, lr)
            # running means over the epoch, as the torch trainer logs them
            loss_sum += loss * len(batch)
            correct += int((probs.argmax(axis=1) == y_train[batch]).sum())
        val_loss, val_acc = val_metrics(state) if val_metrics else evaluate(state, x_val, y_val, arch)
        row = {
            "epoch": epoch,
            "train_loss": loss_sum / max(len(order), 1),
            "train_acc": correct / max(len(order), 1),
            "val_loss": val_loss,
            "val_acc": val_acc,
            "lr": lr,
            "seconds": round(time.perf_counter() - started, 3),
        }
        history.append(row)
        if on_epoch is not None:
            on_epoch(epoch, row, state)
        if stopping is None:
            continue
        value = row[stopping.get("monitor", "val_loss")]
        if best["value"] is None or _BETTER[stopping.get("monitor", "val_loss")](value, best["value"]):
            best = {"epoch": epoch, "value": value, "state": {n: p.copy() for n, p in state.items()}}
        elif epoch - best["epoch"] >= stopping.get("patience", 5):
            break
    if stopping is not None and stopping.get("restore_best", True) and best["state"] is not None:
        return Fit(best["state"], history, best["epoch"])
    return Fit(state, history, len(history))


# --- the torch equivalent -------------------------------------------------------------------------
@functools.cache
def _torch_class():
    # Built on first use: importing torch costs seconds and numpy training does not need it.
    import torch
    from torch import nn

    torch_activations = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}

    class NumpyMLPTorch(nn.Module):
        """The torch twin of a numpy_mlp: Flatten, Linear + activation per hidden layer, Linear."""

        def __init__(self, sizes: list[int], activation: str = "relu", dtype: str = "float32"):
            super().__init__()
            torch_dtype = getattr(torch, dtype)
            hidden = []
            for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
                hidden += [nn.Linear(fan_in, fan_out, dtype=torch_dtype), torch_activations[activation]()]
            self.hidden = nn.Sequential(*hidden)
            self.output = nn.Linear(sizes[-2], sizes[-1], dtype=torch_dtype)

        def features(self, x):
            # Inputs arrive as float32 from the shared inference path; cast to the weights' dtype.
            return self.hidden(x.flatten(1).to(self.output.weight.dtype))

        def forward(self, x):
            return self.output(self.features(x))

    return NumpyMLPTorch


def _twin(arch: dict, in_features: int, n_classes: int):
    check_arch(arch)
    sizes = [in_features, *arch.get("hidden", [64]), n_classes]
    return _torch_class()(sizes, arch.get("activation", "relu"), arch.get("dtype", "float32"))


def build(arch: dict, channels: int, size: int, num_classes: int):
    """An untrained torch twin for `arch` (maskflow.models registry signature): what a
    checkpoint loader builds before load_state_dict."""
    return _twin(arch, channels * size * size, num_classes)


def to_torch(state: dict[str, np.ndarray], arch: dict):
    """The torch module computing exactly what the numpy weights compute (weights copied)."""
    import torch

    sizes = layer_sizes(state)
    module = _twin(arch, sizes[0], sizes[-1])
    linears = [m for m in module.hidden if isinstance(m, torch.nn.Linear)] + [module.output]
    with torch.no_grad():
        for i, linear in enumerate(linears):
            # numpy computes x @ w; torch's Linear computes x @ weight.T
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(state[f"w{i}"].T)))
            linear.bias.copy_(torch.from_numpy(state[f"b{i}"]))
    return module.eval()


# --- the workflow's train stage --------------------------------------------------------------------
@dataclass
class _Trained:
    """The parts of a torch training run (maskflow.train_loop.Run) that build_checkpoint reads."""

    spec: dict
    model: object  # the torch twin holding the weights handed on
    history: list[dict]
    epoch: int
    best_epoch: int
    train_seconds: float

    def output_state(self) -> tuple[dict, int]:
        return self.model.state_dict(), self.best_epoch


def train_cached(spec: dict, data, paths, threads: int = 1) -> dict:
    """`maskflow train` for `numpy_mlp`: the cached arrays in, the same outputs as a torch model out.

    `spec` is the resolved model, `data` is maskflow.train_data's `Data` and `paths` is
    maskflow.train's `Paths`. Inputs are normalised by the checkpoint's `Normalizer`, and every
    validation metric and latent snapshot goes through the torch twin on the shared inference
    path, so evaluating the checkpoint reproduces the logged metrics exactly. Training runs on
    the CPU with `threads` BLAS threads and takes seconds, so it writes its outputs once, at
    the end (no resume state). Returns the checkpoint dict it wrote.
    """
    import dataclasses

    from threadpoolctl import threadpool_limits

    from maskflow import checkpoint as ckpt_io
    from maskflow import train_loop  # its evaluate and features, not this module's numpy ones
    from maskflow.train_data import Split
    from maskflow.train_outputs import build_checkpoint, write_history, write_latent

    def on_cpu(split):
        return Split(split.x.cpu(), split.y.cpu(), split.y_np)

    data = dataclasses.replace(data, train=on_cpu(data.train), val=on_cpu(data.val))
    normalizer = ckpt_io.Normalizer(data.normalization)
    arch, train_spec = spec["arch"], spec["train"]
    x_train, x_val = (
        ckpt_io.forward_in_batches(lambda x: x, split.x, normalizer).numpy() for split in (data.train, data.val)
    )
    latent: dict = {}

    def val_metrics(state: dict) -> tuple[float, float]:
        metrics = train_loop.evaluate(to_torch(state, arch), data.val, normalizer)
        return metrics["loss"], metrics["accuracy"]

    def on_epoch(epoch: int, row: dict, state: dict) -> None:
        if epoch in train_spec["latent_epochs"] and len(data.val.y):
            latent[epoch] = train_loop.features(to_torch(state, arch), data.val, normalizer)
        log.info(
            "epoch %d/%d %s",
            epoch,
            train_spec["epochs"],
            " ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "epoch"),
        )

    with threadpool_limits(threads):
        fit = train(
            x_train, data.train.y_np, x_val, data.val.y_np, arch, train_spec, spec["seed"], on_epoch,
            n_classes=len(data.classes), val_metrics=val_metrics,
        )  # fmt: skip
    seconds = sum(row["seconds"] for row in fit.history)
    trained = _Trained(spec, to_torch(fit.state, arch), fit.history, len(fit.history), fit.best_epoch, seconds)
    checkpoint = build_checkpoint(trained, data, arch, complete=True)
    ckpt_io.save_checkpoint(paths.checkpoint, checkpoint)
    write_history(paths.history, fit.history)
    write_latent(paths.latent, latent, data.val.y_np)
    paths.resume.unlink(missing_ok=True)
    return checkpoint


def _demo() -> None:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = digits.images.reshape(-1, 1, 8, 8) / 16.0
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.5, stratify=digits.target, random_state=0
    )
    arch = {"type": "numpy_mlp", "hidden": [64, 32], "activation": "relu"}
    spec = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "batch_size": 32, "epochs": 30}
    fit = train(x_train, y_train, x_test, y_test, arch, spec, seed=1)
    for row in fit.history:
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    _demo()
