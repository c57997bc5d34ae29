"""Reading photos: the one place a photo file becomes pixels.

Validation (`probe_photo`) and caching and prediction (`load_photo`) share this module, so a
photo is oriented and converted the same way everywhere:

- EXIF orientation is applied (phones store portrait photos as rotated landscape);
- gray, palette, RGBA/LA (alpha dropped onto white), CMYK and 16-bit photos become 8-bit RGB
  or gray;
- a decompression bomb (more pixels than MAX_PIXELS) is refused with a clear message instead of
  exhausting memory;
- JPEGs can be decoded at a reduced scale (1/2, 1/4, 1/8: libjpeg's DCT scaling) when the
  caller says how much resolution it needs, which is much cheaper than a full decode.

Paths are opened as given (any length the filesystem allows, any Unicode): no re-encoding.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from maskflow.errors import DataError

# Pillow warns above ~89 Mpx and raises above twice that; we decide ourselves, with a message.
MAX_PIXELS = 120_000_000
Image.MAX_IMAGE_PIXELS = None

_EXIF_ORIENTATION = 0x0112
_TRANSPOSED = {5, 6, 7, 8}  # orientations that swap width and height


def _open(path: str | os.PathLike) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: photo not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file (0 bytes)")
    try:
        image = Image.open(path)
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image Pillow can read") from None
    except OSError as error:
        raise DataError(f"{path}: cannot open photo ({error})") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise DataError(
            f"{path}: {width}x{height} = {width * height / 1e6:.0f} Mpx exceeds the {MAX_PIXELS / 1e6:.0f} Mpx "
            "limit (maskflow.photos.MAX_PIXELS; a decompression bomb or a scan far larger than needed)"
        )
    return image


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # a broken EXIF block must not make a good photo unreadable
        return 1


def probe_photo(path: str | os.PathLike, verify: bool = True) -> tuple[int, int]:
    """(width, height) of the photo as it is displayed (EXIF orientation applied).

    With `verify`, the pixel data is decoded too (JPEGs at 1/8 scale, which is cheap), so a
    truncated or corrupt file is caught here rather than in the middle of caching.
    """
    with _open(path) as image:
        width, height = image.size
        if _orientation(image) in _TRANSPOSED:
            width, height = height, width
        if verify:
            try:
                if image.format == "JPEG":
                    image.draft(image.mode, (max(1, image.size[0] // 8), max(1, image.size[1] // 8)))
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # Pillow only *warns* about some truncations
                    image.load()
            except Exception as error:
                raise DataError(f"{path}: corrupt or truncated photo ({error})") from None
    return width, height


def _to_mode(image: Image.Image, channels: str) -> Image.Image:
    """8-bit RGB or L from whatever the file holds."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit gray: scale to 8 bits by the actual range of the format, not by clipping.
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if array.max(initial=0) > 255 else 255.0
        image = Image.fromarray(np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Composite onto white: a transparent background must not turn black.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    target = "RGB" if channels == "rgb" else "L"
    if image.mode != target:
        image = image.convert("RGB").convert(target) if image.mode == "CMYK" and target == "L" else image.convert(target)
    return image


def load_photo(path: str | os.PathLike, channels: str = "rgb", min_scale: float = 1.0) -> tuple[np.ndarray, float]:
    """Decode a photo to a uint8 H x W x C array (C = 3 for rgb, 1 for gray), EXIF-oriented.

    `min_scale` (<= 1) is the smallest fraction of full resolution the caller can use: a JPEG
    may then be decoded at 1/2, 1/4 or 1/8 scale (never below `min_scale`). Returns the array
    and the scale actually used, so the caller maps box coordinates by multiplying them.
    """
    with _open(path) as image:
        full_width, full_height = image.size
        if image.format == "JPEG" and min_scale < 1.0:
            for factor in (8, 4, 2):
                if 1.0 / factor >= min_scale:
                    image.draft(image.mode, (max(1, full_width // factor), max(1, full_height // factor)))
                    break
        try:
            image.load()
        except Exception as error:
            raise DataError(f"{path}: corrupt or truncated photo ({error})") from None
        scale = image.size[0] / full_width
        orientation = _orientation(image)
        if orientation != 1:
            image = ImageOps.exif_transpose(image)
        image = _to_mode(image, channels)
        array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return array, scale
