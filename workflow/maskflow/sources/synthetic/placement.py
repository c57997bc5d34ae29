"""Where the faces go in a photo (non-overlapping boxes) and which label each gets (exact quotas)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LABELS = ("good", "bad", "none")
MIN_FACE = 30  # face box width in pixels: smaller faces are not worth annotating
MAX_FACE = 250
MAX_OVERLAP = 0.08  # a face may cover at most this share of a smaller neighbour's box


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
