"""The `sklearn` source: scikit-learn's bundled datasets written as raw files (real data, offline).

`name: digits` writes `digits.npz` with `image` (N x 8 x 8 uint8: scikit-learn's 0..16 gray
levels scaled by 255/16 and rounded) and `label` (int64 0..9), plus a README.txt saying where
the data came from. The npz is written with fixed zip timestamps, so the same scikit-learn
data always gives the same bytes and the same manifest checksum.

    python -m maskflow.sources.sklearn_data digits OUT_DIR
"""

from __future__ import annotations

import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from maskflow.errors import ConfigError
from maskflow.io.atomic import atomic_path, write_text

# The earliest date a zip entry can carry: a constant, so the archive bytes are reproducible.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def save_npz_reproducibly(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like np.savez (loadable by np.load), but byte-identical for identical arrays."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for key, array in arrays.items():
            with zf.open(zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_EPOCH), "w") as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)


def write_digits(raw_dir: Path) -> None:
    import sklearn
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.rint(digits.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    labels = digits.target.astype(np.int64)
    save_npz_reproducibly(raw_dir / "digits.npz", {"image": images, "label": labels})
    write_text(
        raw_dir / "README.txt",
        "digits.npz: scikit-learn's bundled copy of the UCI ML hand-written digits data set\n"
        f"(sklearn.datasets.load_digits, scikit-learn {sklearn.__version__}; E. Alpaydin and\n"
        "C. Kaynak, Optical Recognition of Handwritten Digits, UCI Machine Learning Repository).\n\n"
        f"image: {images.shape[0]} x 8 x 8 uint8, gray levels 0..16 scaled by 255/16 and rounded\n"
        f"label: {labels.shape[0]} int64 digits 0..9\n",
    )


# `name` -> writer. One entry per bundled dataset maskflow knows how to lay out.
DATASETS: dict[str, Callable[[Path], None]] = {"digits": write_digits}


def write_dataset(name: str, raw_dir: Path) -> None:
    writer = DATASETS.get(name)
    if writer is None:
        raise ConfigError(f"source.name: unknown sklearn dataset {name!r}; allowed values: {', '.join(DATASETS)}")
    raw_dir.mkdir(parents=True, exist_ok=True)
    writer(raw_dir)


if __name__ == "__main__":
    write_dataset(sys.argv[1], Path(sys.argv[2]))
