"""Faces: head, features, and the mask (worn well, below the nose, on the chin) or a scarf."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from maskflow.sources.synthetic.backgrounds import _rgb
from maskflow.sources.synthetic.palettes import HAIR, IRIS, MASK_COLOURS, SKIN
from maskflow.sources.synthetic.placement import Face


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
            patch.poly(
                [
                    patch.at(side * 1.08, -0.5, 0),
                    patch.at(side * 0.9, -0.6, 0),
                    patch.at(side * 0.92, 0.1, 0),
                    patch.at(side * 1.02, 0.1, 0),
                ],
                hair,
            )


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
        patch.line(
            patch.at(side * 0.95, top + 0.04, 0.4), patch.at(side * 1.02, -0.05, 0.3), strap, int(patch.b * 0.025)
        )
        patch.line(patch.at(side * 0.8, bottom - 0.1, 0.4), patch.at(side * 1.0, 0.2, 0.3), strap, int(patch.b * 0.025))


def _draw_scarf(rng: np.random.Generator, patch: _Patch) -> None:
    """A mask-coloured scarf or collar at the neck: mask colours, but nose and mouth stay bare."""
    top = rng.uniform(0.98, 1.12)
    patch.poly(
        [
            patch.at(-1.15, top + 0.1, 0),
            patch.at(0, top, 0),
            patch.at(1.15, top + 0.1, 0),
            patch.at(1.2, 1.5, 0),
            patch.at(-1.2, 1.5, 0),
        ],
        _mask_colour(rng),
    )


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
    return (
        max(0, int(round(xmin))),
        max(0, int(round(ymin))),
        min(width, int(round(xmax))),
        min(height, int(round(ymax))),
    )
