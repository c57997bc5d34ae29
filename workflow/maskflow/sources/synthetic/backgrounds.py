"""Photo backgrounds (gradients, blotches, tiles), clutter and the bodies under the faces."""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from maskflow.sources.synthetic.palettes import MASK_COLOURS, SKIN
from maskflow.sources.synthetic.placement import Face


def _colour(rng: np.random.Generator, low: int = 0, high: int = 256) -> np.ndarray:
    return rng.integers(low, high, size=3).astype(np.float32)


def _rgb(rng: np.random.Generator, low: int = 0, high: int = 256) -> tuple[float, float, float]:
    """A random colour as OpenCV drawing functions take it."""
    return tuple(float(c) for c in _colour(rng, low, high))


def _ramp(n: int) -> np.ndarray:
    return np.linspace(-0.5, 0.5, n, dtype=np.float32)


# Smooth fields (gradients, light) are computed on a grid this many times coarser and upsampled:
# bilinear upsampling of a smooth field is invisible and ~50x cheaper than full resolution.
COARSE = 8


def _coarse_ramps(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """x (1 x w) and y (h x 1) coordinates, -0.5..0.5, of the coarse grid."""
    return _ramp(max(2, width // COARSE))[None, :], _ramp(max(2, height // COARSE))[:, None]


def _upsample(field: np.ndarray, width: int, height: int) -> np.ndarray:
    return cv2.resize(np.ascontiguousarray(field, dtype=np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


def _linear_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    theta = rng.uniform(0, 2 * math.pi)
    x, y = _coarse_ramps(width, height)
    t = np.cos(theta) * x + np.sin(theta) * y
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    start, end = _colour(rng), _colour(rng)
    return _upsample(start + t[..., None] * (end - start), width, height)


def _radial_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    cx, cy = rng.uniform(-0.5, 0.5, size=2)
    x, y = _coarse_ramps(width, height)
    r2 = (x - cx) ** 2 + (y - cy) ** 2
    t = np.sqrt(r2 / r2.max())
    inner, outer = _colour(rng, 60), _colour(rng, 0, 200)
    return _upsample(inner + t[..., None] * (outer - inner), width, height)


def _blotch_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    # A coarse random grid upsampled: walls, foliage, out-of-focus crowds.
    grid = rng.uniform(0, 255, size=(int(rng.integers(2, 10)), int(rng.integers(2, 10)), 3)).astype(np.float32)
    tint = _colour(rng)
    smooth = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0, rng.uniform(2, 14), size=(height // 4 + 1, width // 4 + 1, 3)).astype(np.float32)
    fine = cv2.resize(fine, (width, height), interpolation=cv2.INTER_NEAREST)
    return 0.6 * smooth + 0.4 * tint + fine


def _tile_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    # Bricks or tiles: a base colour with mortar lines, every other row offset for bricks.
    image = np.empty((height, width, 3), np.uint8)
    image[:] = _colour(rng, 40, 230).astype(np.uint8)
    mortar = _rgb(rng, 80, 256)
    tile_h = int(rng.integers(12, max(13, height // 6)))
    tile_w = int(tile_h * rng.uniform(1.0, 3.0))
    offset = rng.random() < 0.6
    thickness = int(rng.integers(1, 4))
    for row, y in enumerate(range(0, height, tile_h)):
        cv2.line(image, (0, y), (width, y), mortar, thickness)
        shift = tile_w // 2 if offset and row % 2 else 0
        for x in range(shift, width, tile_w):
            cv2.line(image, (x, y), (x, y + tile_h), mortar, thickness)
    return image.astype(np.float32)


# background kind -> painter (float32 H x W x 3, roughly 0..255)
BACKGROUNDS: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "linear": _linear_background,
    "radial": _radial_background,
    "blotches": _blotch_background,
    "tiles": _tile_background,
}


def _clutter(rng: np.random.Generator, image: np.ndarray) -> None:
    """Random shapes in place: signs, windows, bags; some in skin and mask colours on purpose."""
    height, width = image.shape[:2]
    colours = [*SKIN, *MASK_COLOURS]
    for _ in range(int(rng.integers(0, 30))):
        if rng.random() < 0.3:
            colour = tuple(float(c) for c in colours[rng.integers(len(colours))])
        else:
            colour = _rgb(rng)
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(4, max(5, min(width, height) // 4)))
        shape = rng.integers(4)
        if shape == 0:
            cv2.rectangle(image, (x, y), (x + size, y + int(size * rng.uniform(0.3, 2))), colour, -1)
        elif shape == 1:
            cv2.circle(image, (x, y), size // 2, colour, -1)
        elif shape == 2:
            end = (x + int(rng.integers(-size, size)), y + int(rng.integers(-size, size)))
            cv2.line(image, (x, y), end, colour, int(rng.integers(1, 6)))
        else:
            points = np.array([(x, y), *rng.integers(-size, size, size=(2, 2)) + (x, y)], np.int32)
            cv2.fillPoly(image, [points], colour)


def _draw_body(rng: np.random.Generator, image: np.ndarray, face: Face) -> None:
    """Shoulders and chest under a face, in a clothes colour (drawn before any face)."""
    colour = _rgb(rng, 10, 240)
    top = face.cy + face.b * 1.25
    centre = (int(face.cx), int(top + face.a * 1.2))
    shoulders = (int(face.a * rng.uniform(2.6, 3.2)), int(face.a * 1.3))
    cv2.ellipse(image, centre, shoulders, 0, 180, 360, colour, -1)
    waist = int(shoulders[0] * rng.uniform(0.8, 0.95))
    cv2.fillPoly(
        image,
        [
            np.array(
                [
                    (centre[0] - shoulders[0], centre[1]),
                    (centre[0] + shoulders[0], centre[1]),
                    (centre[0] + waist, image.shape[0]),
                    (centre[0] - waist, image.shape[0]),
                ],
                np.int32,
            )
        ],
        colour,
    )
