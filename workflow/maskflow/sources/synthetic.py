"""Synthetic medical-mask photos: the embedded default data set, generated offline from a seed.

The fetch stage calls it for a source of kind `synthetic`; people can call it to look at photos:

    from maskflow.sources.synthetic import generate
    generate(Path("resources/masks/raw"), photos=400, seed=7)

    python -m maskflow.sources.synthetic /tmp/masks --photos 24 --seed 3

It writes, like the real "homework" data set:

    raw_dir/images/<photo>.jpg     JPEG photos, several faces each
    raw_dir/train.csv, test.csv    filename,width,height,label,xmin,ymin,xmax,ymax (one row per face;
                                   filename relative to images/, xmax/ymax exclusive pixel corners)

Labels: `good` (mask covers nose and mouth), `bad` (mask below the nose, or on the chin), `none`
(no mask); about 80/17/3 % by default. The data is meant to be learnable but not trivial: a
`bad` mask can sit just under the nose tip, `none` faces may wear beards or mask-coloured
scarves, and photos get blur, noise and low light, so a small CNN on 32x32 crops lands well
below 100 %. File names are like real ones too: about 10 % each are long (over 150
characters), non-ASCII, or contain spaces.

Determinism: one numpy Generator per purpose and per photo, all derived from `seed`, and a
fixed JPEG encoder, so the same arguments give byte-identical files. Every file is written
through `maskflow.atomic`.
"""

from __future__ import annotations

import argparse
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
import pandas as pd

from maskflow import atomic
from maskflow.errors import ConfigError

log = logging.getLogger(__name__)

COLUMNS = ["filename", "width", "height", "label", "xmin", "ymin", "xmax", "ymax"]
LABELS = ("good", "bad", "none")
DEFAULT_MIX = {"good": 0.80, "bad": 0.17, "none": 0.03}

MIN_FACE = 30  # face box width in pixels: smaller faces are not worth annotating
MAX_FACE = 250
MAX_NAME_BYTES = 240  # ext4 allows 255 bytes; leave room for temporary-file suffixes
MAX_OVERLAP = 0.08  # a face may cover at most this share of a smaller neighbour's box
SPECIAL_NAME_SHARE = 0.10  # share of photos for each of the long / non-ASCII / spaced names

# ---------------------------------------------------------------- palettes (RGB)

SKIN = [(255, 224, 196), (241, 194, 167), (224, 172, 130), (198, 140, 100), (160, 105, 70), (110, 72, 50), (80, 52, 38)]
HAIR = [(25, 20, 18), (60, 40, 28), (105, 70, 45), (200, 170, 110), (150, 150, 150), (140, 60, 30), (230, 230, 225)]
IRIS = [(70, 45, 30), (40, 30, 25), (70, 110, 150), (80, 110, 70), (110, 80, 50)]
# mask colour -> weight: mostly surgical light blue and white, as in photos of the period.
MASK_COLOURS = {
    (165, 200, 230): 0.32,  # light blue
    (238, 240, 240): 0.20,  # white
    (35, 35, 40): 0.14,  # black
    (100, 150, 210): 0.08,  # blue
    (140, 140, 145): 0.06,  # grey
    (235, 170, 190): 0.06,  # pink
    (40, 50, 95): 0.06,  # navy
    (120, 170, 140): 0.04,  # green
    (215, 190, 165): 0.04,  # beige, close to some skin tones
}

# ---------------------------------------------------------------- file names

_LONG_WORDS = (
    "crowd station platform morning commute masks survey camera batch export final copy resized "
    "street market queue entrance hospital corridor bus stop people wearing face coverings weekend "
    "shopping centre pharmacy waiting room school gate"
).split()
_NON_ASCII_PREFIXES = ("visage_été_", "маска_", "口罩_", "Gesichtsmaske_Straße_", "mascarilla_niño_", "μάσκα_")
_SPACED_STEMS = ("street crowd", "photo", "IMG", "queue at the bakery", "bus stop", "Copy of photo")


def _plain_name(rng: np.random.Generator, index: int) -> str:
    styles = (f"IMG_{index:04d}.jpg", f"photo_{index:04d}.jpg", f"DSC{index:05d}.JPG", f"maksssksksss{index}.jpg")
    return styles[rng.integers(len(styles))]


def _spaced_name(rng: np.random.Generator, index: int) -> str:
    stem = _SPACED_STEMS[rng.integers(len(_SPACED_STEMS))]
    return f"{stem} {index:04d}{' (1)' if rng.random() < 0.3 else ''}.jpg"


def _non_ascii_name(rng: np.random.Generator, index: int) -> str:
    return f"{_NON_ASCII_PREFIXES[rng.integers(len(_NON_ASCII_PREFIXES))]}{index:04d}.jpg"


def _long_name(rng: np.random.Generator, index: int) -> str:
    # Over 150 characters, under MAX_NAME_BYTES bytes: ASCII words, sometimes one non-ASCII
    # word in front (2-3 bytes a character, so it must be counted in bytes, not characters).
    tail = f"_{index:04d}.jpg"
    target = int(rng.integers(155, 200))
    words: list[str] = []
    while len("_".join(words)) + len(tail) < target:
        words.append(_LONG_WORDS[rng.integers(len(_LONG_WORDS))])
    name = "_".join(words) + tail
    if rng.random() < 0.5:
        prefixed = _NON_ASCII_PREFIXES[rng.integers(len(_NON_ASCII_PREFIXES))] + name
        if len(prefixed.encode("utf-8")) < MAX_NAME_BYTES:
            name = prefixed
    return name


# name style -> maker; "plain" takes the photos the other styles leave.
NAME_STYLES: dict[str, Callable[[np.random.Generator, int], str]] = {
    "long": _long_name,
    "non_ascii": _non_ascii_name,
    "spaces": _spaced_name,
    "plain": _plain_name,
}


def photo_names(rng: np.random.Generator, photos: int) -> list[str]:
    """One unique file name per photo (the index is part of every name)."""
    # Quotas rather than coin flips, so even a 24-photo test set has every kind of name.
    special = max(1, round(SPECIAL_NAME_SHARE * photos)) if photos >= 4 else 0
    styles = [style for style in NAME_STYLES if style != "plain" for _ in range(special)]
    styles += ["plain"] * (photos - len(styles))
    styles = [styles[i] for i in rng.permutation(photos)]
    names = [NAME_STYLES[style](rng, index + 1) for index, style in enumerate(styles)]
    assert len(set(names)) == photos and all(len(n.encode("utf-8")) < MAX_NAME_BYTES for n in names)
    return names


# ---------------------------------------------------------------- layout


@dataclass
class Face:
    """Where one face goes: centre, face-ellipse half axes (pixels), in-plane rotation (degrees)."""

    cx: float
    cy: float
    a: float
    b: float
    angle: float

    def box(self, margin: float = 0.0) -> tuple[float, float, float, float]:
        # Axis-aligned box of the rotated ellipse: exact, so boxes are tight without a pixel scan.
        t = math.radians(self.angle)
        half_w = math.hypot(self.a * math.cos(t), self.b * math.sin(t)) * (1 + margin)
        half_h = math.hypot(self.a * math.sin(t), self.b * math.cos(t)) * (1 + margin)
        return self.cx - half_w, self.cy - half_h, self.cx + half_w, self.cy + half_h


def _overlap(box: Sequence[float], other: Sequence[float]) -> float:
    """Intersection as a share of the smaller box."""
    w = min(box[2], other[2]) - max(box[0], other[0])
    h = min(box[3], other[3]) - max(box[1], other[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((box[2] - box[0]) * (box[3] - box[1]), (other[2] - other[0]) * (other[3] - other[1]))
    return w * h / smaller


def plan_photo(rng: np.random.Generator, min_width: int, max_width: int, faces: tuple[int, int]):
    """Photo size and non-overlapping face places: (width, height, [Face, ...]), faces far to near."""
    width = int(rng.integers(min_width, max_width + 1))
    height = max(64, int(round(width * rng.uniform(0.56, 1.34))))  # 16:9 landscape to 3:4 portrait
    count = int(rng.integers(faces[0], faces[1] + 1))
    # A crowded photo shows smaller faces; every face still fits the photo.
    upper = min(MAX_FACE, 0.55 * math.sqrt(width * height / count), 0.45 * width, 0.55 * height)
    base = math.exp(rng.uniform(math.log(MIN_FACE), math.log(max(upper, MIN_FACE) + 1e-9)))
    placed: list[Face] = []
    for _ in range(count):
        size = min(max(base * rng.uniform(0.75, 1.3), MIN_FACE), upper)
        face = None
        for attempt in range(80):
            if attempt and attempt % 20 == 0:
                size = max(MIN_FACE * 0.8, size * 0.85)  # crowded: try a smaller face
            a = size / 2
            b = a * rng.uniform(1.15, 1.35)
            angle = rng.uniform(-14, 14)
            probe = Face(0.0, 0.0, a, b, angle).box()
            half_w, half_h = probe[2] + 1, probe[3] + 1
            if 2 * half_w >= width or 2 * half_h >= height:
                continue
            candidate = Face(rng.uniform(half_w, width - half_w), rng.uniform(half_h, height - half_h), a, b, angle)
            envelope = candidate.box(margin=0.1)  # hair and ears around the face
            if all(_overlap(envelope, other.box()) <= MAX_OVERLAP for other in placed):
                face = candidate
                break
        if face is not None:
            placed.append(face)
    if not placed:  # a photo always shows somebody: one small face in the middle
        a = min(MIN_FACE, width * 0.4, height * 0.3) / 2
        placed.append(Face(width / 2, height / 2, a, a * 1.25, 0.0))
    placed.sort(key=lambda f: f.a)  # draw far (small) faces first: near faces hide them
    return width, height, placed


def quota_labels(rng: np.random.Generator, total: int, mix: dict[str, float]) -> list[str]:
    """`total` labels in proportions `mix` (largest remainder), shuffled."""
    shares = {label: total * weight for label, weight in mix.items()}
    counts = {label: int(math.floor(share)) for label, share in shares.items()}
    by_remainder = sorted(shares, key=lambda label: (-(shares[label] - counts[label]), LABELS.index(label)))
    for label in by_remainder[: total - sum(counts.values())]:
        counts[label] += 1
    labels = [label for label in LABELS for _ in range(counts.get(label, 0))]
    return [labels[i] for i in rng.permutation(total)]


# ---------------------------------------------------------------- backgrounds


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
    cv2.fillPoly(image, [np.array([(centre[0] - shoulders[0], centre[1]), (centre[0] + shoulders[0], centre[1]),
                                   (centre[0] + waist, image.shape[0]), (centre[0] - waist, image.shape[0])], np.int32)],
                 colour)


# ---------------------------------------------------------------- faces


class _Patch:
    """A face drawn upright at a comfortable scale: premultiplied RGB and its coverage.

    Shapes are drawn without anti-aliasing; downscaling the patch (INTER_AREA) anti-aliases, and
    because empty pixels are black in `rgb` and 0 in `alpha`, `rgb` stays premultiplied.
    """

    def __init__(self, size: int, a: float, b: float, yaw: float):
        self.rgb = np.zeros((size, size, 3), np.float32)
        self.alpha = np.zeros((size, size), np.float32)
        self.c = (size - 1) / 2
        self.a, self.b, self.yaw = a, b, yaw

    def at(self, u: float, v: float, turn: float = 1.0) -> tuple[int, int]:
        """Pixel of face coordinates (u, v): u -1..1 ear to ear, v -1..1 forehead to chin.

        `turn` is how much a point follows the head's yaw (features 1, outline 0)."""
        return int(round(self.c + (u + self.yaw * turn) * self.a)), int(round(self.c + v * self.b))

    def axes(self, ku: float, kv: float) -> tuple[int, int]:
        return max(1, int(round(ku * self.a))), max(1, int(round(kv * self.b)))

    def ellipse(self, centre, axes, colour, thickness: int = -1) -> None:
        for layer, value in ((self.rgb, colour), (self.alpha, 1.0)):
            cv2.ellipse(layer, centre, axes, 0, 0, 360, value, thickness)

    def poly(self, points, colour) -> None:
        points = np.asarray(points, np.int32)
        for layer, value in ((self.rgb, colour), (self.alpha, 1.0)):
            cv2.fillPoly(layer, [points], value)

    def line(self, start, end, colour, thickness: int) -> None:
        for layer, value in ((self.rgb, colour), (self.alpha, 1.0)):
            cv2.line(layer, start, end, value, max(1, thickness))


def _pick(rng: np.random.Generator, palette: Sequence, jitter: float = 12.0) -> tuple[float, float, float]:
    base = np.asarray(palette[rng.integers(len(palette))], np.float32)
    return tuple(float(c) for c in np.clip(base + rng.normal(0, jitter, 3), 0, 255))


def _shade(colour, factor: float) -> tuple[float, float, float]:
    return tuple(min(255.0, c * factor) for c in colour)


def _mask_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    colours = list(MASK_COLOURS)
    weights = np.array(list(MASK_COLOURS.values()))
    return _pick(rng, [colours[rng.choice(len(colours), p=weights / weights.sum())]], jitter=8)


def _arc(centre, axes, start: int, end: int) -> np.ndarray:
    return cv2.ellipse2Poly(centre, axes, 0, start, end, 5)


def _draw_head(rng: np.random.Generator, patch: _Patch, skin, hair) -> None:
    """Long hair behind, neck, ears, face, then the hair (or a hat) on top."""
    if rng.random() < 0.3:
        patch.ellipse(patch.at(0, 0.15, 0), patch.axes(1.2, 1.15), hair)
    neck = [patch.at(-0.42, 0.5, 0), patch.at(0.42, 0.5, 0), patch.at(0.48, 1.5, 0), patch.at(-0.48, 1.5, 0)]
    patch.poly(neck, _shade(skin, 0.85))
    for side in (-1, 1):
        patch.ellipse(patch.at(side * 0.98, 0.02, 0.3), patch.axes(0.16, 0.22), _shade(skin, 0.9))
    patch.ellipse(patch.at(0, 0, 0), patch.axes(1, 1), skin)
    patch.ellipse(patch.at(0, 0, 0), patch.axes(1, 1), _shade(skin, 0.8), max(1, int(patch.a * 0.04)))  # jaw line
    roll = rng.random()
    if roll < 0.12:  # a hat: crown above the forehead and a brim
        colour, brim = _rgb(rng), rng.uniform(-0.6, -0.45)
        arc = _arc(patch.at(0, -0.1, 0), patch.axes(1.08, 1.1), 180, 360)
        patch.poly(arc[arc[:, 1] < patch.at(0, brim, 0)[1]], colour)
        patch.line(patch.at(-1.15, brim, 0), patch.at(1.15, brim, 0), _shade(colour, 0.7), int(patch.b * 0.08))
    elif roll < 0.92:  # hair down to a hairline; the rest are bald
        hairline = patch.at(0, rng.uniform(-0.72, -0.45), 0)[1]
        arc = _arc(patch.at(0, -0.06, 0), patch.axes(1.1, 1.02), 180, 360)
        patch.poly(arc[arc[:, 1] < hairline], hair)
        for side in (-1, 1):  # sideburns
            patch.poly([patch.at(side * 1.08, -0.5, 0), patch.at(side * 0.9, -0.6, 0),
                        patch.at(side * 0.92, 0.1, 0), patch.at(side * 1.02, 0.1, 0)], hair)


def _draw_features(rng: np.random.Generator, patch: _Patch, skin, hair) -> None:
    """Eyebrows, eyes (sometimes glasses), nose, optional beard, mouth."""
    brow = int(patch.b * rng.uniform(0.04, 0.08))
    for side in (-1, 1):
        patch.line(patch.at(side * 0.2, -0.3), patch.at(side * 0.55, -0.33), _shade(hair, 0.8), brow)
    iris = _pick(rng, IRIS, 8)
    closed = rng.random() < 0.08
    for side in (-1, 1):
        centre = patch.at(side * 0.37, -0.13)
        if closed:
            patch.line(patch.at(side * 0.22, -0.12), patch.at(side * 0.52, -0.12), _shade(skin, 0.45), brow)
            continue
        patch.ellipse(centre, patch.axes(0.17, 0.075), (240.0, 238.0, 232.0))
        patch.ellipse(centre, patch.axes(0.075, 0.065), iris)
        patch.ellipse(centre, patch.axes(0.035, 0.03), (15.0, 12.0, 12.0))
    if rng.random() < 0.15:  # glasses (sunglasses sometimes)
        frame = _pick(rng, HAIR[:3], 10)
        thickness = max(1, int(patch.a * 0.04))
        tinted = rng.random() < 0.3
        for side in (-1, 1):
            if tinted:
                patch.ellipse(patch.at(side * 0.37, -0.13), patch.axes(0.24, 0.13), (25.0, 25.0, 30.0))
            patch.ellipse(patch.at(side * 0.37, -0.13), patch.axes(0.25, 0.14), frame, thickness)
        patch.line(patch.at(-0.12, -0.15), patch.at(0.12, -0.15), frame, thickness)
    nose = _shade(skin, 0.78)
    patch.line(patch.at(0.02, -0.05), patch.at(0.06, 0.2), nose, int(patch.a * 0.06))
    patch.ellipse(patch.at(0, 0.24), patch.axes(0.15, 0.07), nose)
    for side in (-1, 1):
        patch.ellipse(patch.at(side * 0.08, 0.28), patch.axes(0.045, 0.025), _shade(skin, 0.35))
    if rng.random() < 0.12:  # a beard: dark lower face, easy to mistake for a black mask
        arc = _arc(patch.at(0, 0, 0.5), patch.axes(1.0, 1.0), 0, 180)
        patch.poly(arc[arc[:, 1] > patch.at(0, 0.35)[1]], hair)
        patch.ellipse(patch.at(0, 0.42), patch.axes(0.32, 0.06), hair)
    lips = _shade((0.6 * skin[0] + 0.4 * 200, 0.6 * skin[1] + 0.4 * 90, 0.6 * skin[2] + 0.4 * 90), 0.95)
    patch.ellipse(patch.at(0, 0.56), patch.axes(0.28, rng.uniform(0.06, 0.1)), lips)
    if rng.random() < 0.2:  # open mouth
        patch.ellipse(patch.at(0, 0.56), patch.axes(0.18, 0.05), (60.0, 20.0, 25.0))
    else:
        patch.line(patch.at(-0.26, 0.56), patch.at(0.26, 0.56), _shade(lips, 0.55), max(1, int(patch.b * 0.02)))


# Fabric patterns draw a second colour over `fabric` (already filled with the mask colour);
# `unit` is a tenth of the face width, so patterns scale with the face.


def _plain_fill(rng: np.random.Generator, fabric: np.ndarray, unit: float) -> None:
    pass


def _striped_fill(rng: np.random.Generator, fabric: np.ndarray, unit: float) -> None:
    other, step = _rgb(rng), max(2, int(unit * rng.uniform(0.6, 1.5)))
    for y in range(0, fabric.shape[0], 2 * step):
        cv2.rectangle(fabric, (0, y), (fabric.shape[1], y + step - 1), other, -1)


def _dotted_fill(rng: np.random.Generator, fabric: np.ndarray, unit: float) -> None:
    other, step = _rgb(rng), max(4, int(unit * rng.uniform(1.0, 2.0)))
    for row, y in enumerate(range(step // 2, fabric.shape[0], step)):
        for x in range(step // 2 + (row % 2) * step // 2, fabric.shape[1], step):
            cv2.circle(fabric, (x, y), max(1, step // 4), other, -1)


def _checked_fill(rng: np.random.Generator, fabric: np.ndarray, unit: float) -> None:
    other, step = _rgb(rng), max(2, int(unit * rng.uniform(0.8, 1.8)))
    for row, y in enumerate(range(0, fabric.shape[0], step)):
        for x in range((row % 2) * step, fabric.shape[1], 2 * step):
            cv2.rectangle(fabric, (x, y), (x + step - 1, y + step - 1), other, -1)


# mask fabric -> (painter of the mask's bounding rectangle, weight); most masks are plain.
MASK_FILLS: dict[str, tuple[Callable, float]] = {
    "plain": (_plain_fill, 0.7),
    "striped": (_striped_fill, 0.1),
    "dotted": (_dotted_fill, 0.1),
    "checked": (_checked_fill, 0.1),
}

# where a mask sits: (top edge range, bottom edge range) in face v units (nose tip 0.24,
# nostrils 0.28, mouth 0.56, chin 1.0)
MASK_PLACEMENTS = {
    "over_nose": ((-0.02, 0.17), (0.92, 1.06)),
    "under_nose": ((0.15, 0.34), (0.94, 1.08)),  # nose tip visible, barely at first: the hard `bad` case
    "on_chin": ((0.68, 0.80), (1.12, 1.26)),  # mouth visible
}
# label -> [(placement or None for no mask, weight)]
LABEL_PLACEMENTS = {
    "good": [("over_nose", 1.0)],
    "bad": [("under_nose", 0.75), ("on_chin", 0.25)],
    "none": [(None, 1.0)],
}


def _choose(rng: np.random.Generator, weighted: Sequence[tuple]):
    weights = np.array([w for _, w in weighted], np.float64)
    return weighted[rng.choice(len(weighted), p=weights / weights.sum())][0]


def _mask_polygon(patch: _Patch, top: float, bottom: float) -> list[tuple[int, int]]:
    """A mask from `top` to `bottom` (v units), as wide as the face there and a little more."""
    vs = np.linspace(top, bottom, 10)
    half = 1.06 * np.sqrt(np.clip(1 - vs**2, 0.1, None))
    right = [patch.at(h, v, 0.4) for h, v in zip(half, vs)]
    left = [patch.at(-h, v, 0.4) for h, v in zip(half[::-1], vs[::-1])]
    return [patch.at(0, top - 0.05, 0.4), *right, patch.at(0, bottom + 0.04, 0.4), *left]


def _draw_mask(rng: np.random.Generator, patch: _Patch, placement: str, colour) -> None:
    (top_low, top_high), (bottom_low, bottom_high) = MASK_PLACEMENTS[placement]
    top, bottom = rng.uniform(top_low, top_high), rng.uniform(bottom_low, bottom_high)
    outline = np.asarray(_mask_polygon(patch, top, bottom), np.int32)
    # Paint the fabric over the mask's bounding rectangle only, then keep what the outline covers.
    size = patch.alpha.shape[0]
    x, y, w, h = cv2.boundingRect(outline)
    x0, y0, x1, y1 = max(0, x), max(0, y), min(size, x + w), min(size, y + h)
    fabric = np.empty((y1 - y0, x1 - x0, 3), np.float32)
    fabric[:] = colour
    painter = MASK_FILLS[_choose(rng, [(name, w) for name, (_, w) in MASK_FILLS.items()])][0]
    painter(rng, fabric, patch.a / 10)
    cover = np.zeros(fabric.shape[:2], np.uint8)
    cv2.fillPoly(cover, [outline - (x0, y0)], 1)
    inside = cover.astype(bool)
    patch.rgb[y0:y1, x0:x1][inside] = fabric[inside]
    patch.alpha[y0:y1, x0:x1][inside] = 1.0
    fold = _shade(colour, 0.8)
    for k in range(1, int(rng.integers(0, 4)) + 1):  # pleats
        v = top + (bottom - top) * k / 4
        patch.line(patch.at(-0.8, v, 0.4), patch.at(0.8, v, 0.4), fold, int(patch.b * 0.02))
    strap = _shade(colour, 0.9)
    for side in (-1, 1):
        patch.line(patch.at(side * 0.95, top + 0.04, 0.4), patch.at(side * 1.02, -0.05, 0.3), strap, int(patch.b * 0.025))
        patch.line(patch.at(side * 0.8, bottom - 0.1, 0.4), patch.at(side * 1.0, 0.2, 0.3), strap, int(patch.b * 0.025))


def _draw_scarf(rng: np.random.Generator, patch: _Patch) -> None:
    """A mask-coloured scarf or collar at the neck: mask colours, but nose and mouth stay bare."""
    top = rng.uniform(0.98, 1.12)
    patch.poly([patch.at(-1.15, top + 0.1, 0), patch.at(0, top, 0), patch.at(1.15, top + 0.1, 0),
                patch.at(1.2, 1.5, 0), patch.at(-1.2, 1.5, 0)], _mask_colour(rng))


SCARF_CHANCE = {"good": 0.05, "bad": 0.05, "none": 0.35}


def draw_face(rng: np.random.Generator, label: str, draw_width: int, ratio: float) -> _Patch:
    """An upright face of `label` drawn at face width `draw_width` pixels in a square patch."""
    a = draw_width / 2
    b = a * ratio
    size = int(2 * 1.6 * b) | 1  # odd: the face centre falls on a pixel centre
    patch = _Patch(size, a, b, yaw=rng.uniform(-0.15, 0.15))
    skin, hair = _pick(rng, SKIN), _pick(rng, HAIR)
    _draw_head(rng, patch, skin, hair)
    _draw_features(rng, patch, skin, hair)
    placement = _choose(rng, LABEL_PLACEMENTS[label])
    if rng.random() < SCARF_CHANCE[label]:
        _draw_scarf(rng, patch)
    if placement is not None:
        _draw_mask(rng, patch, placement, _mask_colour(rng))
    return patch


def _paste(image: np.ndarray, rgb: np.ndarray, alpha: np.ndarray, face: Face) -> None:
    """Composite a premultiplied patch onto `image` (float32), rotated, centred on the face."""
    size = alpha.shape[0]
    c = (size - 1) / 2
    height, width = image.shape[:2]
    reach = int(math.ceil(size * 0.71)) + 1  # the rotated patch stays within this of the centre
    x0, y0 = max(0, int(face.cx) - reach), max(0, int(face.cy) - reach)
    x1, y1 = min(width, int(face.cx) + reach + 1), min(height, int(face.cy) + reach + 1)
    matrix = cv2.getRotationMatrix2D((c, c), face.angle, 1.0)
    matrix[0, 2] += face.cx - c - x0
    matrix[1, 2] += face.cy - c - y0
    region = (x1 - x0, y1 - y0)
    warped = cv2.warpAffine(rgb, matrix, region, flags=cv2.INTER_LINEAR, borderValue=0)
    cover = cv2.warpAffine(alpha, matrix, region, flags=cv2.INTER_LINEAR, borderValue=0)[..., None]
    roi = image[y0:y1, x0:x1]
    roi[:] = roi * (1 - cover) + warped


def _render_face(rng: np.random.Generator, image: np.ndarray, face: Face, label: str) -> tuple[int, int, int, int]:
    """Draw one face (supersampled, downscaled, maybe defocused) and return its tight box."""
    target = 2 * face.a
    draw_width = max(96, int(round(1.5 * target)))
    patch = draw_face(rng, label, draw_width, face.b / face.a)
    size = patch.alpha.shape[0]
    # An odd target size keeps the face centre on a pixel centre; the box uses the real scale.
    new_size = max(3, int(round(size * target / draw_width)) | 1)
    rgb = cv2.resize(patch.rgb, (new_size, new_size), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(patch.alpha, (new_size, new_size), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.3:  # out of focus: blur colour and coverage alike (stays premultiplied)
        sigma = rng.uniform(0.5, 1.5) * max(1.0, target / 60)
        rgb, alpha = cv2.GaussianBlur(rgb, (0, 0), sigma), cv2.GaussianBlur(alpha, (0, 0), sigma)
    scale = new_size / size
    drawn = Face(face.cx, face.cy, patch.a * scale, patch.b * scale, face.angle)
    _paste(image, rgb, alpha, drawn)
    xmin, ymin, xmax, ymax = drawn.box()
    height, width = image.shape[:2]
    return (max(0, int(round(xmin))), max(0, int(round(ymin))),
            min(width, int(round(xmax))), min(height, int(round(ymax))))


# ---------------------------------------------------------------- camera effects


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


# ---------------------------------------------------------------- photos and files


def render_photo(rng: np.random.Generator, width: int, height: int, faces: list[Face], labels: list[str]):
    """Pixels of one photo (uint8 H x W x 3 RGB) and each face's box, in the order of `faces`."""
    background = BACKGROUNDS[list(BACKGROUNDS)[rng.integers(len(BACKGROUNDS))]]
    image = np.ascontiguousarray(background(rng, width, height), dtype=np.float32)
    _clutter(rng, image)
    for face in faces:  # all bodies first, so no shoulder hides a face
        _draw_body(rng, image, face)
    boxes = [_render_face(rng, image, face, label) for face, label in zip(faces, labels)]
    state: dict = {}
    for chance, effect in EFFECTS.values():
        if rng.random() < chance:
            image = effect(rng, image, state)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8), boxes


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    """Baseline JPEG, 4:2:0, no optimisation flags: fixed settings, so the bytes are reproducible."""
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality), cv2.IMWRITE_JPEG_OPTIMIZE, 0, cv2.IMWRITE_JPEG_PROGRESSIVE, 0]
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:  # pragma: no cover - OpenCV only fails here on an empty image
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()


def _check_arguments(photos, test_fraction, min_width, max_width, faces, class_mix) -> tuple[tuple[int, int], dict]:
    where = "source (kind: synthetic)"
    if int(photos) < 1:
        raise ConfigError(f"{where}: photos must be at least 1, got {photos}")
    if not 0 < test_fraction < 1:
        raise ConfigError(f"{where}: test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    if not 64 <= min_width <= max_width:
        raise ConfigError(f"{where}: need 64 <= min_width <= max_width, got min_width {min_width}, max_width {max_width}")
    faces = tuple(int(n) for n in faces)
    if len(faces) != 2 or not 1 <= faces[0] <= faces[1]:
        raise ConfigError(f"{where}: faces must be [least, most] with 1 <= least <= most, got {list(faces)}")
    mix = dict(DEFAULT_MIX if class_mix is None else class_mix)
    unknown = sorted(set(mix) - set(LABELS))
    if unknown:
        raise ConfigError(f"{where}: class_mix has unknown labels {unknown}; allowed: {list(LABELS)}")
    if any(weight < 0 for weight in mix.values()) or sum(mix.values()) <= 0:
        raise ConfigError(f"{where}: class_mix weights must be >= 0 and not all 0, got {mix}")
    total = sum(mix.values())
    return faces, {label: mix.get(label, 0.0) / total for label in LABELS}


def generate(
    raw_dir: Path,
    *,
    photos: int,
    seed: int,
    test_fraction: float = 0.2,
    min_width: int = 480,
    max_width: int = 1600,
    faces: tuple[int, int] = (1, 6),
    class_mix: dict[str, float] | None = None,
) -> None:
    """Write `photos` synthetic photos to raw_dir/images/ and their boxes to train.csv / test.csv."""
    faces, mix = _check_arguments(photos, test_fraction, min_width, max_width, faces, class_mix)
    raw_dir = Path(raw_dir)
    # Independent streams: layouts, rendering and bookkeeping never shift one another, and
    # photo i's size and face places do not depend on the number of photos.
    layout_seeds, render_seeds, book_seed = np.random.SeedSequence(seed).spawn(3)
    layout_rngs = [np.random.default_rng(s) for s in layout_seeds.spawn(photos)]
    render_rngs = [np.random.default_rng(s) for s in render_seeds.spawn(photos)]
    book = np.random.default_rng(book_seed)

    plans = [plan_photo(rng, min_width, max_width, faces) for rng in layout_rngs]
    labels = iter(quota_labels(book, sum(len(plan[2]) for plan in plans), mix))
    names = photo_names(book, photos)
    n_test = min(max(1, round(photos * test_fraction)), photos - 1) if photos > 1 else 0
    test = set(book.choice(photos, size=n_test, replace=False).tolist())

    rows: dict[str, list] = {"train": [], "test": []}
    for index, ((width, height, placed), rng, name) in enumerate(zip(plans, render_rngs, names)):
        face_labels = [next(labels) for _ in placed]
        pixels, boxes = render_photo(rng, width, height, placed, face_labels)
        atomic.write_bytes(raw_dir / "images" / name, encode_jpeg(pixels, int(rng.integers(60, 96))))
        split = "test" if index in test else "train"
        # Rows left to right, as people annotate.
        for box, label in sorted(zip(boxes, face_labels)):
            rows[split].append((name, width, height, label, *box))
    for split, split_rows in rows.items():
        atomic.write_csv(raw_dir / f"{split}.csv", pd.DataFrame(split_rows, columns=COLUMNS))
    log.info("synthetic: %d photos, %d faces (%d train photos, %d test) in %s",
             photos, sum(map(len, rows.values())), photos - n_test, n_test, raw_dir)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate synthetic medical-mask photos (see module docstring).")
    parser.add_argument("raw_dir", type=Path)
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--min-width", type=int, default=480)
    parser.add_argument("--max-width", type=int, default=1600)
    args = parser.parse_args(argv)
    generate(args.raw_dir, photos=args.photos, seed=args.seed, min_width=args.min_width, max_width=args.max_width)


if __name__ == "__main__":
    main()
