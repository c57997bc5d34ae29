"""How a box in a photo becomes a size x size crop: the one crop/resize path of maskflow.

`maskflow cache` makes every training crop with it and `maskflow predict` every inference crop
(both through `maskflow.data.cache.crop_rows`); array data sets (FER2013 pixels, npz) go through
`finish`, its resize/channel half. One path, so a model never sees crops made two ways.

Geometry, in source pixels of the EXIF-oriented photo (xmax/ymax exclusive):

1. margin: the box grows by `margin` x its width on the left and on the right, and by
   `margin` x its height at the top and the bottom;
2. square: the shorter side grows to the longer one, centred;
3. the region is mapped to the scale the photo was decoded at (1, 1/2, 1/4, 1/8) and rounded
   to whole pixels (start and length rounded, so a square region stays square);
4. parts outside the photo are filled by replicating the border pixels: a constant black band
   would be a feature that marks faces at the photo's edge, and would drag the channel means;
5. the region is resized with cv2.INTER_AREA (pixel-area averaging: no aliasing when
   shrinking) to size x size, RGB (C = 3) or gray (C = 1).

    from maskflow.data.crop import Preprocess, regions, cut, finish
    prep = Preprocess.from_spec({"size": 32, "channels": "rgb", "margin": 0.1, "square": True})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from maskflow.config import DATASET_DEFAULTS
from maskflow.errors import ConfigError

# channels setting -> array depth C
CHANNELS: dict[str, int] = {"rgb": 3, "gray": 1}

# A photo may be decoded at a reduced scale when every region keeps at least this many pixels
# per output pixel on its shorter side: area averaging from 2x is still clean, and the crops
# agree closely with those from a full decode.
MIN_OVERSAMPLING = 2.0


@dataclass(frozen=True)
class Preprocess:
    """The `preprocess` settings of a data set (config.yaml `datasets.<name>.preprocess`)."""

    size: int = DATASET_DEFAULTS["preprocess"]["size"]
    channels: str = DATASET_DEFAULTS["preprocess"]["channels"]
    margin: float = DATASET_DEFAULTS["preprocess"]["margin"]
    square: bool = DATASET_DEFAULTS["preprocess"]["square"]

    @classmethod
    def from_spec(cls, spec: Mapping | Preprocess | None) -> Preprocess:
        """From a config slice (missing keys take the config defaults); checks the values."""
        if isinstance(spec, Preprocess):
            return spec
        spec = dict(spec or {})
        unknown = sorted(set(spec) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(
                f"preprocess: unknown key(s) {', '.join(unknown)}; allowed: size, channels, margin, square"
            )
        prep = cls(**spec)
        if prep.channels not in CHANNELS:
            raise ConfigError(
                f"preprocess.channels: {prep.channels!r} is not allowed; allowed values: {', '.join(CHANNELS)}"
            )
        if not isinstance(prep.size, int) or prep.size < 1:
            raise ConfigError(f"preprocess.size: {prep.size!r} is not a positive integer")
        if not prep.margin >= 0:
            raise ConfigError(f"preprocess.margin: {prep.margin!r} must be >= 0")
        return prep

    @property
    def depth(self) -> int:
        return CHANNELS[self.channels]

    def shape(self, count: int) -> tuple[int, int, int, int]:
        """Shape of `count` finished crops: N x H x W x C."""
        return (count, self.size, self.size, self.depth)


def regions(boxes: np.ndarray, margin: float, square: bool) -> np.ndarray:
    """Regions to cut (k x 4 float: x0, y0, x1, y1) from boxes (k x 4: xmin, ymin, xmax, ymax)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    width = boxes[:, 2] - boxes[:, 0]
    height = boxes[:, 3] - boxes[:, 1]
    grow = np.stack([-width, -height, width, height], axis=1) * margin
    out = boxes + grow
    if square:
        side = np.maximum(out[:, 2] - out[:, 0], out[:, 3] - out[:, 1])
        centre_x = (out[:, 0] + out[:, 2]) / 2
        centre_y = (out[:, 1] + out[:, 3]) / 2
        out = np.stack([centre_x - side / 2, centre_y - side / 2, centre_x + side / 2, centre_y + side / 2], axis=1)
    return out


def min_scale(region_array: np.ndarray, size: int) -> float:
    """The smallest decode scale at which every region's shorter side keeps 2 x `size` pixels."""
    region_array = np.asarray(region_array, dtype=np.float64).reshape(-1, 4)
    if len(region_array) == 0:
        return 1.0
    shorter = np.minimum(region_array[:, 2] - region_array[:, 0], region_array[:, 3] - region_array[:, 1]).min()
    return float(min(1.0, MIN_OVERSAMPLING * size / shorter)) if shorter > 0 else 1.0


def to_pixels(region: np.ndarray, scale: float) -> tuple[int, int, int, int]:
    """A float region in source pixels -> whole pixels (x0, y0, x1, y1) of a photo decoded at `scale`."""
    x0, y0, x1, y1 = (float(v) * scale for v in region)
    left, top = int(np.floor(x0 + 0.5)), int(np.floor(y0 + 0.5))
    width = max(1, int(np.floor(x1 - x0 + 0.5)))
    height = max(1, int(np.floor(y1 - y0 + 0.5)))
    return left, top, left + width, top + height


def cut(image: Image.Image, region: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """The pixels of `region` (source coordinates) from a photo decoded at `scale`: h x w x C uint8.

    Only the region is copied out of the photo. Parts outside it replicate the border; a region
    wholly outside the photo raises ValueError (the caller names the row).
    """
    x0, y0, x1, y1 = to_pixels(region, scale)
    width, height = image.size
    inner = (min(max(x0, 0), width), min(max(y0, 0), height), min(max(x1, 0), width), min(max(y1, 0), height))
    if inner[2] <= inner[0] or inner[3] <= inner[1]:
        raise ValueError(f"box lies wholly outside the {width}x{height} photo")
    pixels = np.asarray(image.crop(inner), dtype=np.uint8)
    pad = (inner[1] - y0, y1 - inner[3], inner[0] - x0, x1 - inner[2])  # top, bottom, left, right
    if any(pad):
        pixels = cv2.copyMakeBorder(pixels, *pad, cv2.BORDER_REPLICATE)
    return pixels if pixels.ndim == 3 else pixels[:, :, None]


def to_channels(pixels: np.ndarray, channels: str) -> np.ndarray:
    """h x w (x C) uint8 -> h x w x C for `channels`; RGB -> gray with Pillow's formula, as photos."""
    pixels = np.asarray(pixels, dtype=np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    depth = CHANNELS[channels]
    if pixels.shape[2] == depth:
        return pixels
    if pixels.shape[2] == 1:  # gray -> rgb
        return np.repeat(pixels, 3, axis=2)
    if pixels.shape[2] == 3:  # rgb -> gray, the same conversion maskflow.data.photos applies to photos
        return np.asarray(Image.fromarray(pixels, "RGB").convert("L"), dtype=np.uint8)[:, :, None]
    raise ValueError(f"cannot make {channels} pixels from {pixels.shape[2]} channels")


def finish(pixels: np.ndarray, prep: Preprocess) -> np.ndarray:
    """Any uint8 image (a cut region, or an image of an array data set) -> size x size x C crop."""
    pixels = to_channels(pixels, prep.channels)
    if pixels.shape[:2] != (prep.size, prep.size):
        pixels = cv2.resize(pixels, (prep.size, prep.size), interpolation=cv2.INTER_AREA)
    return pixels.reshape(prep.size, prep.size, prep.depth)


def crop(image: Image.Image, region: np.ndarray, prep: Preprocess, scale: float = 1.0) -> np.ndarray:
    """One finished crop of `region` (source coordinates) from a photo decoded at `scale`."""
    return finish(cut(image, region, scale), prep)
