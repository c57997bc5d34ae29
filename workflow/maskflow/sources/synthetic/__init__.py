"""Synthetic medical-mask photos: the embedded default data set, generated offline from a seed.

The fetch stage calls it for a source of kind `synthetic`; people can call it to look at photos:

    from maskflow.sources.synthetic import generate
    generate(Path("resources/masks/raw"), photos=400, seed=7)

    python -m maskflow.sources.synthetic /tmp/masks --photos 24 --seed 3

The parts, one module each: `names` (file names), `layout` (face boxes and labels),
`backgrounds`, `faces` (heads and masks), `camera` (effects); this module renders and writes.

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
through `maskflow.io.atomic`.
"""

from __future__ import annotations

import argparse
import logging
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from maskflow.errors import ConfigError
from maskflow.io import atomic
from maskflow.sources.synthetic.backgrounds import BACKGROUNDS, _clutter, _draw_body
from maskflow.sources.synthetic.camera import EFFECTS
from maskflow.sources.synthetic.faces import _render_face
from maskflow.sources.synthetic.names import photo_names
from maskflow.sources.synthetic.placement import LABELS, MAX_FACE, MIN_FACE, Face, _overlap, plan_photo, quota_labels

__all__ = [
    "COLUMNS",
    "LABELS",
    "DEFAULT_MIX",
    "LABELS",
    "MAX_FACE",
    "MIN_FACE",
    "Face",
    "_overlap",
    "_render_face",
    "generate",
    "main",
]

log = logging.getLogger(__name__)

COLUMNS = ["filename", "width", "height", "label", "xmin", "ymin", "xmax", "ymax"]
DEFAULT_MIX = {"good": 0.80, "bad": 0.17, "none": 0.03}


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
        raise ConfigError(
            f"{where}: need 64 <= min_width <= max_width, got min_width {min_width}, max_width {max_width}"
        )
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


def _write_photo(task: tuple) -> list:
    """Render, encode and write one photo; its boxes (a task is self-contained, so workers can run it)."""
    path, width, height, placed, face_labels, render_seed = task
    rng = np.random.default_rng(render_seed)
    pixels, boxes = render_photo(rng, width, height, placed, face_labels)
    atomic.write_bytes(path, encode_jpeg(pixels, int(rng.integers(60, 96))))
    return boxes


def _write_photos(tasks: list[tuple], workers: int) -> list[list]:
    """Each task's boxes, in task order; photos written by `workers` processes (same bytes for any count)."""
    if workers <= 1 or len(tasks) < 2:
        return [_write_photo(task) for task in tasks]
    # A photo takes ~40 ms; chunks of several keep the pool's pickling cost small beside that.
    chunk = max(1, len(tasks) // (workers * 8))
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
        return list(pool.map(_write_photo, tasks, chunksize=chunk))


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
    workers: int = 1,
) -> None:
    """Write `photos` synthetic photos to raw_dir/images/ and their boxes to train.csv / test.csv.

    `workers` processes render the photos; the files are byte-identical whatever their number.
    """
    faces, mix = _check_arguments(photos, test_fraction, min_width, max_width, faces, class_mix)
    raw_dir = Path(raw_dir)
    # Independent streams: layouts, rendering and bookkeeping never shift one another, and
    # photo i's size and face places do not depend on the number of photos. Each photo renders
    # from its own stream, which is also what lets workers render photos in any order.
    layout_seeds, render_seeds, book_seed = np.random.SeedSequence(seed).spawn(3)
    layout_rngs = [np.random.default_rng(s) for s in layout_seeds.spawn(photos)]
    book = np.random.default_rng(book_seed)

    plans = [plan_photo(rng, min_width, max_width, faces) for rng in layout_rngs]
    labels = iter(quota_labels(book, sum(len(plan[2]) for plan in plans), mix))
    names = photo_names(book, photos)
    n_test = min(max(1, round(photos * test_fraction)), photos - 1) if photos > 1 else 0
    test = set(book.choice(photos, size=n_test, replace=False).tolist())

    tasks = [
        (raw_dir / "images" / name, width, height, placed, [next(labels) for _ in placed], render_seed)
        for (width, height, placed), render_seed, name in zip(plans, render_seeds.spawn(photos), names)
    ]
    rows: dict[str, list] = {"train": [], "test": []}
    for index, ((_, width, height, _, face_labels, _), boxes) in enumerate(zip(tasks, _write_photos(tasks, workers))):
        name = names[index]
        split = "test" if index in test else "train"
        # Rows left to right, as people annotate.
        for box, label in sorted(zip(boxes, face_labels)):
            rows[split].append((name, width, height, label, *box))
    for split, split_rows in rows.items():
        atomic.write_csv(raw_dir / f"{split}.csv", pd.DataFrame(split_rows, columns=COLUMNS))
    log.info(
        "synthetic: %d photos, %d faces (%d train photos, %d test) in %s",
        photos,
        sum(map(len, rows.values())),
        photos - n_test,
        n_test,
        raw_dir,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate synthetic medical-mask photos (see module docstring).")
    parser.add_argument("raw_dir", type=Path)
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--min-width", type=int, default=480)
    parser.add_argument("--max-width", type=int, default=1600)
    parser.add_argument("--workers", type=int, default=1, help="processes rendering photos (same files for any count)")
    args = parser.parse_args(argv)
    generate(
        args.raw_dir,
        photos=args.photos,
        seed=args.seed,
        min_width=args.min_width,
        max_width=args.max_width,
        workers=args.workers,
    )


if __name__ == "__main__":
    main()
