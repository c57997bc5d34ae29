"""Saliency is the gradient of the *predicted* class's logit, checked against autograd directly.

Maps are scaled per crop, so a check of range or shape alone would pass for any class's
gradient or for the summed logits'. Here one crop's map is compared with torch autograd of the
predicted class's logit (computed in the test, not by maskflow), and shown to differ from
another class's and from the summed logits'. The NumPy MLP's map, by its own chain rule, is held
to the same autograd reference on its torch twin.

Run: pytest -q tests/unit/evaluation/test_saliency_class.py
"""

from __future__ import annotations

import numpy as np
import torch

from helpers.evaluation import write_cache, write_checkpoint, write_numpy_checkpoint


def reference_maps(model, ckpt: dict, crop: np.ndarray) -> tuple[int, list[np.ndarray], np.ndarray]:
    """(predicted class, the scaled map of each class's logit, the summed logits' map) of one crop."""
    from maskflow.inference import Normalizer, as_nchw

    x = Normalizer(ckpt["normalization"])(as_nchw(crop[None])).double().requires_grad_(True)
    model = model.double()
    logits = model(x)[0]

    def scaled_map(output: torch.Tensor) -> np.ndarray:
        (grad,) = torch.autograd.grad(output, x, retain_graph=True)
        heat = grad[0].abs().amax(dim=0).numpy()
        return heat / heat.max()

    per_class = [scaled_map(logits[c]) for c in range(len(logits))]
    return int(logits.argmax()), per_class, scaled_map(logits.sum())


def assert_the_predicted_class(ours: np.ndarray, predicted: int, reference: tuple) -> None:
    expected_class, per_class, summed = reference
    assert predicted == expected_class
    np.testing.assert_allclose(ours, per_class[predicted], atol=1e-5)
    for other, heat in enumerate(per_class):
        if other != predicted:  # a check that another class's gradient would fail
            assert np.abs(heat - per_class[predicted]).max() > 1e-2, other
    assert np.abs(summed - per_class[predicted]).max() > 1e-2


def test_a_cnns_saliency_is_autograd_of_its_predicted_logit(tmp_path):
    from maskflow.evaluation.explain import saliency_maps
    from maskflow.models.checkpoint import load_model

    cache_dir = write_cache(tmp_path / "cache")
    model, ckpt = load_model(write_checkpoint(tmp_path / "m" / "checkpoint.pt", cache_dir, seed=4), "cpu")
    crops = np.load(cache_dir / "test_x.npy")[:3]
    maps, predicted, _ = saliency_maps(model, ckpt, crops)
    for i, crop in enumerate(crops):
        assert_the_predicted_class(maps[i], int(predicted[i]), reference_maps(model, ckpt, crop))


def test_a_numpy_mlps_saliency_is_autograd_of_its_twins_predicted_logit(tmp_path):
    from maskflow.evaluation.explain import numpy_saliency_maps
    from maskflow.models.checkpoint import load_model
    from maskflow.models.numpy_mlp.network import init_params

    cache_dir = write_cache(tmp_path / "cache")
    arch = {"type": "numpy_mlp", "hidden": [16, 8], "activation": "tanh", "dtype": "float64"}
    state = init_params([12 * 12 * 3, 16, 8, 3], {}, np.random.default_rng(3), dtype=np.float64)
    twin, ckpt = load_model(write_numpy_checkpoint(tmp_path / "n" / "checkpoint.pt", cache_dir, arch, state), "cpu")
    crops = np.load(cache_dir / "test_x.npy")[:3]
    maps, predicted, _ = numpy_saliency_maps(ckpt, crops)
    for i, crop in enumerate(crops):
        assert_the_predicted_class(maps[i], int(predicted[i]), reference_maps(twin, ckpt, crop))
