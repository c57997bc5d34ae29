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
_WIDE_GRAY = ("I;16", "I;16B", "I;16L", "I")
_JPEG_FACTORS = (8, 4, 2)  # the reduced scales libjpeg decodes directly (1/8, 1/4, 1/2)


def _open(path: str | os.PathLike) -> Image.Image:
    path = Path(path)
    if path.is_dir():  # `a_directory.jpg`: named like a photo, but a folder
        raise DataError(f"{path}: is a folder, not a photo file")
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
            "limit (maskflow.data.photos.MAX_PIXELS; a decompression bomb or a scan far larger than needed)"
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
    if image.mode in _WIDE_GRAY:
        # 16/32-bit gray: scale to 8 bits by the range of the format, not by clipping. A 16-bit
        # file always spans 0..65535 (a dark one must stay dark); 32-bit "I" has no fixed range,
        # so it is read as 16-bit when its values need it and as 8-bit otherwise.
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode != "I" or array.max(initial=0) > 255 else 255.0
        image = Image.fromarray(np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Composite onto white: a transparent background must not turn black.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    target = "RGB" if channels == "rgb" else "L"
    if image.mode != target:
        image = (
            image.convert("RGB").convert(target) if image.mode == "CMYK" and target == "L" else image.convert(target)
        )
    return image


def _jpeg_draft(image: Image.Image, channels: str, min_scale: float) -> float:
    """Ask libjpeg for the cheapest decode that still serves the caller; return its scale.

    The scale is exactly 1/factor: libjpeg's scaled IDCT maps source pixels [f*i, f*i + f) to
    output pixel i (the last one partial when the size is not a multiple of f), so box
    coordinates map by multiplying with 1/f, not with the rounded-up size ratio.
    Gray output is decoded as the JPEG's own luma channel (no chroma work at all), at every
    scale, so reduced and full decodes convert colour the same way.
    """
    factor = next((f for f in _JPEG_FACTORS if 1.0 / f >= min_scale), 1)
    mode = "L" if channels == "gray" and image.mode == "RGB" else image.mode
    if factor == 1 and mode == image.mode:
        return 1.0
    width, height = image.size
    result = image.draft(mode, (max(1, width // factor), max(1, height // factor)) if factor > 1 else None)
    if result is None:  # Pillow declined (e.g. several tiles): a full decode
        return 1.0
    return result[1][2] / width  # Pillow's box is the full size divided by the factor


def open_photo(path: str | os.PathLike, channels: str = "rgb", min_scale: float = 1.0) -> tuple[Image.Image, float]:
    """Decode a photo to an 8-bit RGB or L Pillow image, EXIF-oriented; and the scale used.

    Same as `load_photo` without the final copy into a NumPy array, for callers that only need
    regions of the photo (cropping a few boxes out of a large photo copies only the boxes).
    """
    image = _open(path)
    try:
        full_width = image.size[0]
        scale = _jpeg_draft(image, channels, min_scale) if image.format == "JPEG" else 1.0
        try:
            image.load()
        except Exception as error:
            raise DataError(f"{path}: corrupt or truncated photo ({error})") from None
        if scale == 1.0 and image.size[0] != full_width:  # a decoder that scaled on its own
            scale = image.size[0] / full_width
        oriented = ImageOps.exif_transpose(image) if _orientation(image) != 1 else image
        result = _to_mode(oriented, channels)
        if result is image and getattr(image, "fp", None) is not None:
            # Single-frame files are closed by load(); multi-frame ones (GIF, TIFF) keep their
            # file open, so detach the pixels from it.
            result = image.copy()
    except BaseException:
        image.close()
        raise
    if result is not image:
        image.close()
    return result, scale


def load_photo(path: str | os.PathLike, channels: str = "rgb", min_scale: float = 1.0) -> tuple[np.ndarray, float]:
    """Decode a photo to a uint8 H x W x C array (C = 3 for rgb, 1 for gray), EXIF-oriented.

    `min_scale` (<= 1) is the smallest fraction of full resolution the caller can use: a JPEG
    may then be decoded at 1/2, 1/4 or 1/8 scale (never below `min_scale`). Returns the array
    and the scale actually used (exactly 1, 1/2, 1/4 or 1/8), so the caller maps box
    coordinates by multiplying them.
    """
    image, scale = open_photo(path, channels, min_scale)
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return array, scale
