"""Checkpoints: save, load and verify them.

    model, ckpt = load_model("results/masks/models/cnn_baseline/checkpoint.pt", "cpu")
    check_checkpoint(ckpt, model="cnn_baseline")   # finished, its own model, weights intact
    verify_data(ckpt, {"val_x": sha256_file("results/masks/cache/val_x.npy")}, normalization)
    proba = maskflow.inference.predict_proba(model, ckpt, val_x_uint8, "cpu")   # N x K float64

A checkpoint is a dict (docs/contracts.md): weights plus everything needed to use them again
(class names, normalization, image size, resolved config, seed, versions, checksums of the
arrays it was trained on). Inference on them goes through `maskflow.inference`, the one path
that training's validation also takes, which is why a reloaded model reproduces the logged
metrics exactly.

Two containers, told apart by their first bytes, hold the same dict:
- torch models: `torch.save` (a zip archive of tensors), loaded with `weights_only`;
- NumPy models (`weights_format: numpy`, the `numpy_mlp` type): a pickle of plain values whose
  `model_state` arrays are stored as dtype, shape and bytes, so it is written and read without
  importing torch, and read back by an unpickler that refuses every global (no code can run).

The resume state (`save_resume`/`load_resume`) is a larger dict written beside it each epoch.

`check_checkpoint` refuses a checkpoint saved by a training run that did not finish, one saved
for another model, one whose weights no longer match the `weights_sha256` recorded at save time
(torch itself loads a flipped byte in tensor data without complaint), or one that records no
`weights_sha256`; `verify_data` one applied to arrays or a normalization it was not trained on.
"""

from __future__ import annotations

import logging
import pickle
import platform
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import maskflow
from maskflow.errors import CheckpointError
from maskflow.io.atomic import atomic_path
from maskflow.io.hashing import state_sha256

if TYPE_CHECKING:  # annotations only: torch is imported where a torch checkpoint is read or written
    import torch

log = logging.getLogger(__name__)

FORMAT = "maskflow-checkpoint/1"
RESUME_FORMAT = "maskflow-resume/1"
# The normalization fields that must agree between a checkpoint and the arrays it is applied to.
NORMALIZATION_KEYS = ("mean", "std", "scale", "channels", "size", "train_sha256")
ZIP_MAGIC = b"PK\x03\x04"  # how every torch.save file begins


def versions(torch: bool = True) -> dict[str, str]:
    """Versions that produced a checkpoint; `torch=False` for NumPy models (trained without it)."""
    found = {"python": platform.python_version()}
    if torch:
        import torch as torch_module

        found["torch"] = str(torch_module.__version__)
    return {**found, "numpy": str(np.__version__), "maskflow": maskflow.__version__}


def is_numpy(checkpoint: dict) -> bool:
    """Whether the checkpoint's weights are NumPy arrays (saved and loaded without torch)."""
    return checkpoint.get("weights_format") == "numpy"


def _encode_state(state: dict) -> dict:
    return {
        name: {"dtype": array.dtype.str, "shape": list(array.shape), "bytes": np.ascontiguousarray(array).tobytes()}
        for name, array in state.items()
    }


def _decode_state(stored: dict) -> dict:
    return {
        name: np.frombuffer(entry["bytes"], dtype=np.dtype(entry["dtype"])).reshape(entry["shape"]).copy()
        for name, entry in stored.items()
    }


class _PlainUnpickler(pickle.Unpickler):
    """Reads dicts, lists, strings, bytes and numbers only: any global (class, function) is refused."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def save_checkpoint(path: str | Path, checkpoint: dict) -> None:
    if is_numpy(checkpoint):
        stored = {**checkpoint, "model_state": _encode_state(checkpoint["model_state"])}
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            pickle.dump(stored, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return
    import io

    import torch

    # Serialised in memory, then written by Python: torch's own file writer reports a full disk
    # as a RuntimeError without the file's name, Python's write as ENOSPC (maskflow.io.atomic).
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())


def _load_numpy(path: Path) -> dict:
    with open(path, "rb") as handle:
        stored = _PlainUnpickler(handle).load()
    if isinstance(stored, dict) and is_numpy(stored):
        stored["model_state"] = _decode_state(stored["model_state"])
    return stored


def _load_torch(path: Path) -> dict:
    import torch

    # weights_only: a checkpoint holds tensors and plain values, never code to run.
    return torch.load(path, map_location="cpu", weights_only=True)


def _load(path: str | Path, what: str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: {what} not found")
    with open(path, "rb") as handle:
        torch_file = handle.read(len(ZIP_MAGIC)) == ZIP_MAGIC
    try:
        return _load_torch(path) if torch_file else _load_numpy(path)
    except Exception as error:  # torch and pickle raise many types for truncated or foreign files
        # One line: torch's unpickling message runs over several and advises weights_only=False.
        if isinstance(error, pickle.UnpicklingError):
            detail = "not a torch file of tensors" if torch_file else f"not a file of plain values: {error}"
        else:
            detail = (str(error).strip().splitlines() or ["no detail"])[0]
        raise CheckpointError(f"{path}: not a readable {what} ({type(error).__name__}: {detail})") from None


def load_checkpoint(path: str | Path) -> dict:
    checkpoint = _load(path, "checkpoint")
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        found = checkpoint.get("format") if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise CheckpointError(f"{path}: not a maskflow checkpoint (format {found!r}, expected {FORMAT!r})")
    checkpoint["path"] = str(path)
    return checkpoint


def verify_data(checkpoint: dict, arrays_sha: dict[str, str], normalization: dict | None = None) -> None:
    """Refuse arrays or a normalization other than the ones the checkpoint was trained with.

    `arrays_sha` maps array names (`train_x`, `val_y`, ...) to sha256 hex; names the checkpoint
    does not record (the test split) are checked through the normalization's `train_sha256`."""
    where = checkpoint.get("path", "checkpoint")
    trained = checkpoint["data_sha256"]
    for name, sha in sorted(arrays_sha.items()):
        if name in trained and trained[name] != sha:
            raise CheckpointError(
                f"{where}: trained on {name}.npy with sha256 {trained[name][:12]}..., but the array given has "
                f"{sha[:12]}...: the cache was rebuilt after training; retrain the model (Snakemake does this)"
            )
    if normalization is None:
        return
    saved = checkpoint["normalization"]
    differing = [key for key in NORMALIZATION_KEYS if saved.get(key) != normalization.get(key)]
    if differing:
        details = "; ".join(
            f"{key}: checkpoint {saved.get(key)!r}, given {normalization.get(key)!r}" for key in differing
        )
        raise CheckpointError(f"{where}: normalization differs from the one the model was trained with ({details})")


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, dict]:
    """The checkpoint's model with its weights, on `device`, in eval mode, and the checkpoint."""
    checkpoint = load_checkpoint(path)
    return model_of(checkpoint, device), checkpoint


def model_of(checkpoint: dict, device: torch.device | str = "cpu") -> torch.nn.Module:
    """The torch model of a loaded checkpoint, on `device`, in eval mode.

    For a NumPy checkpoint this is its torch twin (maskflow.models.numpy_mlp.twin), for the figures
    that need gradients or features; its probabilities still come from the NumPy weights
    (maskflow.inference.predict_proba), so they are the ones evaluation wrote."""
    from maskflow.models import build_model
    from maskflow.runtime.device import place

    where = checkpoint.get("path", "checkpoint")
    image = checkpoint["image"]
    try:
        if is_numpy(checkpoint):
            from maskflow.models.numpy_mlp.twin import to_torch

            model = to_torch(checkpoint["model_state"], checkpoint["arch"])
        else:
            model = build_model(checkpoint["arch"], image["channels"], image["size"], len(checkpoint["classes"]))
            model.load_state_dict(checkpoint["model_state"])
    except (KeyError, RuntimeError) as error:
        raise CheckpointError(f"{where}: weights do not fit the recorded architecture ({error})") from None
    return place(model, device).eval()


def save_resume(path: str | Path, state: dict) -> None:
    save_checkpoint(path, {"format": RESUME_FORMAT, **state})


# what each part of a resume state's fingerprint covers, for the line that says which changed
FINGERPRINT_PARTS = {
    "settings": "the model's settings",
    "data": "the data (cached arrays, normalization or classes)",
}


def load_resume(path: str | Path, fingerprint: dict[str, str]) -> dict | None:
    """The resume state at `path` if it belongs to these settings and data; None (logged, naming
    which of the two changed) otherwise. `fingerprint`: {"settings": hash, "data": hash}."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = _load(path, "resume state")
    except CheckpointError as error:
        log.warning("%s; starting over", error)
        return None
    if not isinstance(state, dict) or state.get("format") != RESUME_FORMAT:
        log.warning("%s: not a maskflow resume state; starting over", path)
        return None
    saved = state.get("fingerprint")
    saved = saved if isinstance(saved, dict) else {}  # an older format's single hash: all differ
    changed = [part for part in fingerprint if saved.get(part) != fingerprint[part]]
    if changed:
        log.warning(
            "%s was saved before %s changed (%s); starting over",
            path,
            " and ".join(FINGERPRINT_PARTS.get(part, part) for part in changed),
            ", ".join(f"{part} fingerprint {saved.get(part)}, now {fingerprint[part]}" for part in changed),
        )
        return None
    return state


# ---------------------------------------------------------------- checks of a loaded checkpoint


def _unfinished(checkpoint: dict) -> str | None:
    """Why the checkpoint is not the end of its training run, or None."""
    epoch = checkpoint.get("epoch")
    train = (checkpoint.get("spec") or {}).get("train") or {}
    epochs = train.get("epochs")
    if checkpoint.get("complete") is False:
        return f"saved after epoch {epoch} of {epochs} by a training run that has not finished"
    # Checkpoints that do not say: without early stopping, a finished run reached its last epoch.
    if (
        "complete" not in checkpoint
        and not train.get("early_stopping")
        and None not in (epoch, epochs)
        and epoch < epochs
    ):
        return f"saved after epoch {epoch} of {epochs}: its training run did not finish"
    return None


def check_checkpoint(checkpoint: dict, model: str | None = None) -> None:
    """Refuse a loaded checkpoint (load_checkpoint) that is unfinished, belongs
    to another model than `model`, or whose weights differ from its recorded `weights_sha256` (or
    that records none)."""
    where = checkpoint.get("path", "checkpoint")
    retrain = f"retrain it: snakemake --forcerun {where}"
    problem = _unfinished(checkpoint)
    if problem:
        raise CheckpointError(f"{where}: {problem} (interrupted?); {retrain}")
    name = (checkpoint.get("spec") or {}).get("name")
    if model is not None and name != model:
        raise CheckpointError(
            f"{where}: holds the weights of model {name!r}, not {model!r} (copied from another model's folder?); {retrain}"
        )
    recorded = checkpoint.get("weights_sha256")
    if recorded is None:
        # Every checkpoint maskflow trains records it: without it a flipped byte would go unseen.
        raise CheckpointError(
            f"{where}: records no weights_sha256, so its weights cannot be checked (saved by an older maskflow, "
            f"or not by maskflow train?); {retrain}"
        )
    actual = state_sha256(checkpoint["model_state"])
    if actual != recorded:
        raise CheckpointError(
            f"{where}: weights have sha256 {actual[:12]}... but {recorded[:12]}... was recorded when they were saved: "
            f"the file is damaged; {retrain}"
        )
