"""Batch-wise augmentation: seeded, exact flips, geometric and photometric changes as configured."""

from __future__ import annotations

import torch

from maskflow.training.augment import Augmenter

ALL = {"hflip": True, "vflip": True, "rotate": 20, "translate": 0.1, "brightness": 0.3, "contrast": 0.3}


def batch(n: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


def augment(spec: dict, x: torch.Tensor, seed: int = 1) -> torch.Tensor:
    return Augmenter(spec, torch.Generator().manual_seed(seed))(x)


def test_same_seed_same_augmentation_different_seed_different():
    x = batch()
    assert torch.equal(augment(ALL, x), augment(ALL, x))
    assert not torch.equal(augment(ALL, x), augment(ALL, x, seed=2))
    out = augment(ALL, x)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= 0 and out.max() <= 1


def test_successive_batches_get_fresh_draws():
    augmenter = Augmenter(ALL, torch.Generator().manual_seed(1))
    x = batch()
    assert not torch.equal(augmenter(x), augmenter(x))


def test_disabled_augmentation_is_off():
    assert not Augmenter({}, torch.Generator()).enabled
    assert not Augmenter({"hflip": False, "rotate": 0.0}, torch.Generator()).enabled
    assert Augmenter({"contrast": 0.1}, torch.Generator()).enabled


def test_flips_are_exact_and_about_half_of_the_images():
    x = batch(200)
    out = augment({"hflip": True}, x)
    same = [torch.equal(o, i) for o, i in zip(out, x)]
    flipped = [torch.equal(o, i.flip(2)) for o, i in zip(out, x)]
    assert all(s or f for s, f in zip(same, flipped))
    assert 70 < sum(flipped) < 130
    out = augment({"vflip": True}, x)
    assert all(torch.equal(o, i) or torch.equal(o, i.flip(1)) for o, i in zip(out, x))


def test_rotation_moves_content_and_fills_corners_with_zeros():
    x = torch.ones(32, 1, 16, 16)
    out = augment({"rotate": 45}, x)
    # the centre stays (a constant image), corners of strongly rotated images become empty
    assert torch.allclose(out[:, :, 6:10, 6:10], torch.ones(32, 1, 4, 4), atol=1e-5)
    assert (out[:, 0, 0, 0] < 0.5).sum() > 5
    assert not torch.allclose(augment({"rotate": 45}, batch(8)), batch(8))


def test_translation_shifts_an_image():
    x = torch.zeros(16, 1, 16, 16)
    x[:, :, 7:9, 7:9] = 1.0
    out = augment({"translate": 0.25}, x)
    centres = [(o[0] * torch.arange(16.0).view(16, 1)).sum() / o[0].sum() for o in out]
    assert max(abs(float(c) - 7.5) for c in centres) > 1.0  # moved by more than a pixel
    assert torch.allclose(out.sum(dim=(1, 2, 3)), x.sum(dim=(1, 2, 3)), atol=1e-4)  # nothing lost off-edge


def test_brightness_scales_and_contrast_keeps_the_mean():
    x = batch(32) * 0.5 + 0.25  # room on both sides, so clamping does not interfere
    bright = augment({"brightness": 0.2}, x)
    ratio = bright / x
    per_image = ratio.flatten(1)
    assert torch.allclose(per_image, per_image[:, :1].expand_as(per_image), atol=1e-5)
    assert ((per_image[:, 0] >= 0.8 - 1e-6) & (per_image[:, 0] <= 1.2 + 1e-6)).all()
    contrast = augment({"contrast": 0.2}, x)
    assert torch.allclose(contrast.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)), atol=1e-5)
    assert not torch.allclose(contrast, x)


def test_identity_settings_leave_images_unchanged():
    x = batch(8)
    assert torch.allclose(augment({"rotate": 1e-9}, x), x, atol=1e-5)
