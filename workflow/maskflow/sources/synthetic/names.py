"""File names like real ones: plain, long (over 150 characters), non-ASCII, with spaces."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

MAX_NAME_BYTES = 240  # ext4 allows 255 bytes; leave room for temporary-file suffixes
SPECIAL_NAME_SHARE = 0.10  # share of photos for each of the long / non-ASCII / spaced names


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
