"""maskflow.data.crop: box geometry (margin, square, padding), resizing and channels, on pixel
patterns whose values say where they came from; and agreement of reduced-scale decoding."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from maskflow.data.crop import Preprocess, crop, cut, finish, min_scale, regions, to_channels, to_pixels
from maskflow.data.photos import open_photo
from maskflow.errors import ConfigError


def coordinate_image(width: int = 60, height: int = 40) -> Image.Image:
    """R = x, G = y, B = 7: every pixel says where it is."""
    y, x = np.mgrid[0:height, 0:width]
    return Image.fromarray(np.stack([x, y, np.full_like(x, 7)], axis=2).astype(np.uint8), "RGB")


def test_margin_grows_each_side_by_a_fraction_of_the_box():
    out = regions(np.array([[10, 20, 30, 60]]), margin=0.1, square=False)
    np.testing.assert_allclose(out, [[8, 16, 32, 64]])


def test_square_grows_the_shorter_side_centred():
    out = regions(np.array([[10, 20, 30, 60], [0, 0, 50, 10]]), margin=0.0, square=True)
    np.testing.assert_allclose(out, [[0, 20, 40, 60], [0, -20, 50, 30]])
    both = regions(np.array([[10, 20, 30, 60]]), margin=0.5, square=True)  # margin first: 40 x 80
    np.testing.assert_allclose(both, [[-20, 0, 60, 80]])


def test_to_pixels_keeps_square_regions_square():
    for region in ([0.4, 0.6, 10.4, 10.6], [3.5, 2.5, 13.25, 12.25]):
        x0, y0, x1, y1 = to_pixels(np.array(region), 1.0)
        assert x1 - x0 == y1 - y0 == round(region[2] - region[0])
    assert to_pixels(np.array([8, 16, 40, 48]), 0.25) == (2, 4, 10, 12)


def test_cut_inside_the_photo_is_exact():
    pixels = cut(coordinate_image(), np.array([5, 10, 9, 13]))
    assert pixels.shape == (3, 4, 3)
    assert pixels[..., 0].tolist() == [[5, 6, 7, 8]] * 3  # x; xmax exclusive
    assert pixels[:, 0, 1].tolist() == [10, 11, 12]  # y; ymax exclusive


def test_cut_outside_the_photo_replicates_the_border():
    pixels = cut(coordinate_image(60, 40), np.array([-3, 37, 2, 43]))  # past the left and bottom edges
    assert pixels.shape == (6, 5, 3)
    assert pixels[0, :, 0].tolist() == [0, 0, 0, 0, 1]  # columns left of x = 0 repeat column 0
    assert pixels[:, 0, 1].tolist() == [37, 38, 39, 39, 39, 39]  # rows below y = 39 repeat row 39
    assert (pixels[..., 2] == 7).all()


def test_cut_wholly_outside_is_an_error():
    with pytest.raises(ValueError, match="wholly outside the 60x40 photo"):
        cut(coordinate_image(60, 40), np.array([70, 0, 80, 10]))


def test_cut_at_reduced_scale_maps_coordinates():
    quarter = coordinate_image(15, 10)  # stands for a 60 x 40 photo decoded at 1/4
    pixels = cut(quarter, np.array([8, 4, 24, 20]), scale=0.25)
    assert pixels.shape == (4, 4, 3) and pixels[0, :, 0].tolist() == [2, 3, 4, 5]


def test_area_resize_averages_blocks():
    blocks = np.kron(np.array([[10, 20], [30, 250]], dtype=np.uint8), np.ones((4, 4), dtype=np.uint8))
    out = finish(blocks, Preprocess(size=2, channels="gray"))
    assert out.shape == (2, 2, 1) and out[..., 0].tolist() == [[10, 20], [30, 250]]
    checker = np.indices((8, 8)).sum(axis=0) % 2 * 200  # shrinking must average, not alias
    assert (finish(checker.astype(np.uint8), Preprocess(size=4, channels="gray")) == 100).all()


def test_finish_channels():
    rgb = np.zeros((8, 8, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    gray = finish(rgb, Preprocess(size=4, channels="gray"))
    assert gray.shape == (4, 4, 1) and (gray == 76).all()  # Pillow's luma of pure red
    back = finish(np.full((8, 8), 9, dtype=np.uint8), Preprocess(size=4, channels="rgb"))
    assert back.shape == (4, 4, 3) and (back == 9).all()
    with pytest.raises(ValueError, match="from 2 channels"):
        to_channels(np.zeros((2, 2, 2), dtype=np.uint8), "rgb")


def test_crop_of_a_known_pattern():
    prep = Preprocess(size=4, channels="rgb", margin=0.5, square=True)
    box = np.array([[20, 10, 28, 18]])  # 8 x 8; margin 0.5 -> 16 x 16 at (16, 6)
    out = crop(coordinate_image(), regions(box, prep.margin, prep.square)[0], prep)
    assert out.shape == (4, 4, 3)
    # Each output pixel averages a 4 x 4 block: x = 16..19 -> 17.5 (rounded by OpenCV to 18).
    assert out[0, :, 0].tolist() == [18, 22, 26, 30] and out[:, 0, 1].tolist() == [8, 12, 16, 20]


def test_min_scale_keeps_twice_the_target_size():
    boxes = np.array([[0, 0, 256, 300], [0, 0, 400, 128]])
    assert min_scale(boxes, 32) == pytest.approx(0.5)  # shorter side 128 -> 64 px at 1/2
    assert min_scale(boxes, 100) == 1.0
    assert min_scale(np.zeros((0, 4)), 32) == 1.0


def test_preprocess_spec_checks():
    assert Preprocess.from_spec({"size": 16}).channels == "rgb"
    assert Preprocess.from_spec({"size": 16, "channels": "gray"}).shape(5) == (5, 16, 16, 1)
    with pytest.raises(ConfigError, match="channels: 'bgr' is not allowed"):
        Preprocess.from_spec({"channels": "bgr"})
    with pytest.raises(ConfigError, match="unknown key"):
        Preprocess.from_spec({"sizes": 3})


def textured_photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Smooth shapes plus mild noise: something like a photo, with detail at every scale."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    image = np.stack([128 + 90 * np.sin(x / 41 + c) * np.cos(y / 29 - c) for c in range(3)], axis=2)
    for _ in range(30):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(10, 80)
        image[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0, 255, 3)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


BOX_SETS = {
    # shorter region side 140 x 1.2 = 168 px: 2 x 32 still fits at 1/2
    "half": ([[100, 80, 380, 360], [500, 200, 760, 500], [850, 550, 990, 690], [30, 400, 300, 690]], 0.5),
    # every region >= 256 px: 1/4
    "quarter": ([[100, 80, 380, 360], [500, 150, 760, 500], [600, 420, 900, 690]], 0.25),
}


@pytest.mark.parametrize("channels", ["rgb", "gray"])
@pytest.mark.parametrize("box_set", sorted(BOX_SETS))
def test_reduced_decode_agrees_with_full_decode(tmp_path, channels, box_set):
    path = tmp_path / "photo.jpg"
    Image.fromarray(textured_photo(1000, 700)).save(path, quality=92)
    prep = Preprocess(size=32, channels=channels, margin=0.1, square=True)
    boxes, expected_scale = BOX_SETS[box_set]
    cut_regions = regions(np.array(boxes), prep.margin, prep.square)
    full, full_scale = open_photo(path, channels, 1.0)
    reduced, reduced_scale = open_photo(path, channels, min_scale(cut_regions, prep.size))
    assert full_scale == 1.0 and reduced_scale == expected_scale
    diffs = []
    for region in cut_regions:
        a = crop(full, region, prep).astype(np.float64)
        b = crop(reduced, region, prep, reduced_scale).astype(np.float64)
        diffs.append(np.abs(a - b).mean())
    # Out of 255: the same crops, to within the scaled IDCT and a region edge rounded at the
    # reduced scale (at most half a decoded pixel: 2 source pixels at 1/4).
    assert max(diffs) < 4.0 and np.mean(diffs) < 2.0, diffs
