"""maskflow.data.photos on real files written with Pillow: EXIF orientation, mode conversion,
reduced-scale JPEG decoding and the errors a bad file gives."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from maskflow.data.photos import load_photo, open_photo, probe_photo
from maskflow.errors import DataError


def smooth_rgb(width: int, height: int) -> np.ndarray:
    """A smooth colour image (JPEG keeps it well, so decodes can be compared closely)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 128 + 100 * np.sin(x / 37.0)
    g = 128 + 100 * np.cos(y / 23.0)
    b = 255 * (x + y) / (width + height)
    return np.clip(np.stack([r, g, b], axis=2), 0, 255).astype(np.uint8)


def save_with_orientation(path, array: np.ndarray, orientation: int) -> None:
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(path, quality=95, exif=exif)


def test_exif_rotated_jpeg_is_displayed_upright(tmp_path):
    stored = np.zeros((40, 64, 3), dtype=np.uint8)  # landscape as stored by the camera
    stored[:10, :16] = (255, 0, 0)  # red block at the stored top-left
    path = tmp_path / "rotated.jpg"
    save_with_orientation(path, stored, 6)  # 6: rotate 90 degrees clockwise to display

    assert probe_photo(path) == (40, 64)  # displayed portrait: width 40, height 64
    pixels, scale = load_photo(path)
    assert pixels.shape == (64, 40, 3) and scale == 1.0
    # Rotating clockwise moves the stored top-left corner to the displayed top-right.
    assert pixels[:16, -10:, 0].mean() > 200 and pixels[:16, -10:, 1].mean() < 60
    assert pixels[-16:, :10, 0].mean() < 60


def test_exif_rotation_and_reduced_scale_together(tmp_path):
    path = tmp_path / "rotated.jpg"
    save_with_orientation(path, smooth_rgb(400, 240), 8)
    full, _ = load_photo(path)
    quarter, scale = load_photo(path, min_scale=0.25)
    assert full.shape == (400, 240, 3) and quarter.shape == (100, 60, 3) and scale == 0.25
    # Same orientation: the quarter-scale image is the block average of the full one.
    blocks = full.reshape(100, 4, 60, 4, 3).mean(axis=(1, 3))
    assert np.abs(blocks - quarter).mean() < 4


@pytest.mark.parametrize(
    "mode, value, rgb",
    [
        ("L", 77, (77, 77, 77)),
        ("RGBA", (255, 0, 0, 0), (255, 255, 255)),  # fully transparent: the white background
        ("RGBA", (0, 0, 255, 255), (0, 0, 255)),
        ("LA", (10, 255), (10, 10, 10)),
        ("P", 3, None),
    ],
)
def test_modes_become_rgb_png(tmp_path, mode, value, rgb):
    image = Image.new(mode, (8, 6), value)
    if mode == "P":
        image.putpalette([0, 0, 0] * 3 + [12, 200, 34] + [0, 0, 0] * 252)
        rgb = (12, 200, 34)
    path = tmp_path / f"{mode}.png"
    image.save(path)
    pixels, _ = load_photo(path, "rgb")
    assert pixels.shape == (6, 8, 3) and pixels.dtype == np.uint8
    assert tuple(pixels[0, 0]) == rgb


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path, quality=95)  # pure red ink
    pixels, _ = load_photo(path, "rgb")
    assert pixels.shape == (16, 16, 3)
    assert pixels[..., 0].mean() > 230 and pixels[..., 1].mean() < 30 and pixels[..., 2].mean() < 30
    gray, _ = load_photo(path, "gray")
    assert gray.shape == (16, 16, 1) and 60 < gray.mean() < 90  # red's luma: 0.299 * 255


def test_16_bit_png_scales_by_the_format_range(tmp_path):
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    pixels, _ = load_photo(path, "gray")
    assert pixels[0, :, 0].tolist() == [0, 1, 128, 255]
    # A dark 16-bit photo stays dark (not stretched as if it were 8-bit).
    dark = tmp_path / "dark.png"
    Image.fromarray(np.full((2, 2), 200, dtype=np.uint16)).save(dark)
    assert load_photo(dark, "gray")[0].max() == 1


def test_gray_channels_from_rgb_jpeg_match_pillow_luma(tmp_path):
    path = tmp_path / "colour.jpg"
    Image.fromarray(smooth_rgb(96, 64)).save(path, quality=95)
    gray, _ = load_photo(path, "gray")
    with Image.open(path) as image:
        reference = np.asarray(image.convert("L"), dtype=np.float64)
    assert gray.shape == (64, 96, 1)
    assert np.abs(gray[..., 0] - reference).mean() < 1.5


@pytest.mark.parametrize("min_scale, factor", [(1.0, 1), (0.6, 1), (0.5, 2), (0.3, 2), (0.25, 4), (0.2, 4), (0.01, 8)])
def test_reduced_scale_is_exactly_one_over_the_factor(tmp_path, min_scale, factor):
    path = tmp_path / "odd.jpg"
    Image.fromarray(smooth_rgb(203, 117)).save(path, quality=90)  # sizes not multiples of 8
    pixels, scale = load_photo(path, min_scale=min_scale)
    assert scale == 1.0 / factor
    assert pixels.shape == (-(-117 // factor), -(-203 // factor), 3)  # libjpeg rounds the size up


def test_png_ignores_min_scale(tmp_path):
    path = tmp_path / "flat.png"
    Image.fromarray(smooth_rgb(64, 48)).save(path)
    pixels, scale = load_photo(path, min_scale=0.125)
    assert scale == 1.0 and pixels.shape == (48, 64, 3)


def test_open_photo_returns_a_detached_image(tmp_path):
    path = tmp_path / "a.jpg"
    Image.fromarray(smooth_rgb(32, 32)).save(path)
    image, _ = open_photo(path)
    path.unlink()  # the pixels must not depend on the file any more
    assert image.mode == "RGB" and np.asarray(image).shape == (32, 32, 3)


def test_long_and_non_ascii_names(tmp_path):
    name = "маска_口罩_visage_été " + "x" * 150 + ".jpg"
    path = tmp_path / name
    Image.fromarray(smooth_rgb(20, 10)).save(path)
    assert probe_photo(path) == (20, 10)
    assert load_photo(path)[0].shape == (10, 20, 3)


def _truncated_jpeg(path):
    Image.fromarray(smooth_rgb(256, 256)).save(path, quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])  # header intact, scan data cut


BAD_FILES = {
    "missing": (lambda path: None, "photo not found"),
    "empty": (lambda path: path.write_bytes(b""), "empty file"),
    "text": (lambda path: path.write_text("not a photo"), "not an image"),
    "truncated": (_truncated_jpeg, "corrupt or truncated"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
@pytest.mark.parametrize("reader", [load_photo, probe_photo])
def test_bad_files_raise_data_error_naming_the_file(tmp_path, kind, reader):
    write, message = BAD_FILES[kind]
    path = tmp_path / f"{kind}.jpg"
    write(path)
    with pytest.raises(DataError, match=f"{kind}.jpg: {message}"):
        reader(path)
