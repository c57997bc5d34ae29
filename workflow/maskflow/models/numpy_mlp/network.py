"""The NumPy MLP itself: forward pass, softmax cross-entropy and back-propagation by hand.

No autograd: every gradient is written out, and tests/unit/models/test_numpy_mlp.py checks them against
torch autograd. Inputs are float arrays laid out as the torch models receive them (N x C x H x W,
already normalised); they are flattened in C order, exactly like `nn.Flatten`, so the numpy
and the torch model (`maskflow.models.numpy_mlp.twin`) see the same feature vector.

arch keys: `hidden` (list of layer widths, default [64]), `activation` (relu | sigmoid | tanh),
`dtype` (float32 | float64, default float32; float64 for gradient checks).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from maskflow.errors import ConfigError

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


def input_gradient(params: dict, tape: list, dlogits: np.ndarray, activation: str) -> np.ndarray:
    """d (sum of dlogits * logits) / d input, N x features: `backward` carried one layer further
    (the saliency figure's gradient, without torch)."""
    _, act_grad = ACTIVATIONS[activation]
    delta = dlogits
    for i in reversed(range(1, len(tape))):
        _, z_prev, a_prev = tape[i - 1]
        delta = (delta @ params[f"w{i}"].T) * act_grad(z_prev, a_prev)
    return delta @ params["w0"].T


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


# --- checking an arch before any work -------------------------------------------------------------
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
