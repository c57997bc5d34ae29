"""Camera effects: lighting, defocus, motion blur, desaturation, sensor noise."""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from maskflow.sources.synthetic.backgrounds import _coarse_ramps, _upsample


def _lighting(rng: np.random.Generator, image: np.ndarray, state: dict) -> np.ndarray:
    """Light falling from one side, vignetting, colour cast and exposure (sometimes dim)."""
    height, width = image.shape[:2]
    slope_x, slope_y = rng.uniform(-0.6, 0.6, size=2)
    vignette = rng.uniform(0, 0.8)
    x, y = _coarse_ramps(width, height)
    light = np.clip(1 + slope_x * x + slope_y * y - vignette * (x**2 + y**2), 0.2, None)
    state["gain"] = rng.uniform(0.25, 0.5) if rng.random() < 0.2 else rng.uniform(0.8, 1.2)
    cast = rng.uniform(0.88, 1.12, size=3).astype(np.float32) * np.float32(state["gain"])
    image *= _upsample(light[..., None] * cast, width, height)  # in place: photos are large
    return image


def _defocus(rng: np.random.Generator, image: np.ndarray, state: dict) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), rng.uniform(0.8, 3.0))


def _motion_blur(rng: np.random.Generator, image: np.ndarray, state: dict) -> np.ndarray:
    length = int(rng.integers(3, 10))
    kernel = np.zeros((length, length), np.float32)
    theta = rng.uniform(0, math.pi)
    half = (length - 1) / 2
    end = (int(round(half + half * math.cos(theta))), int(round(half + half * math.sin(theta))))
    start = (length - 1 - end[0], length - 1 - end[1])
    cv2.line(kernel, start, end, 1.0, 1)
    return cv2.filter2D(image, -1, kernel / kernel.sum())


def _desaturate(rng: np.random.Generator, image: np.ndarray, state: dict) -> np.ndarray:
    gray = image.mean(axis=2, keepdims=True)
    keep = rng.uniform(0, 0.6)
    return keep * image + (1 - keep) * gray


def _sensor_noise(rng: np.random.Generator, image: np.ndarray, state: dict) -> np.ndarray:
    # Grain at half resolution, upsampled: demosaicing correlates neighbours, and it is 4x cheaper.
    height, width = image.shape[:2]
    sigma = rng.uniform(1.5, 9) / math.sqrt(state.get("gain", 1.0))  # dim photos are pushed: noisier
    grain = rng.standard_normal((height // 2 + 1, width // 2 + 1, 3), dtype=np.float32) * np.float32(sigma)
    return image + cv2.resize(grain, (width, height), interpolation=cv2.INTER_LINEAR)


# effect -> (chance, function), applied in this order to the float32 photo.
EFFECTS: dict[str, tuple[float, Callable[[np.random.Generator, np.ndarray, dict], np.ndarray]]] = {
    "lighting": (1.0, _lighting),
    "defocus": (0.4, _defocus),
    "motion_blur": (0.08, _motion_blur),
    "desaturate": (0.05, _desaturate),
    "noise": (0.9, _sensor_noise),
}
