"""Stand-ins for the real data sets of the presets in configs/: the real file names, columns,
label values, layouts and file types, with generated pixels. Tests run each preset on small
ones; bench/real_scale.py on full-size ones.

    from helpers.standins import write_fer2013, write_medical_masks, write_face_mask_detection, write_mnist
    write_fer2013(tmp / "fer2013.csv", rows=100)                 # emotion,pixels,Usage
    write_medical_masks(tmp / "medical-masks", photos=10)        # train.csv, test.csv, images/
    write_face_mask_detection(tmp / "face-mask-detection", photos=6)   # images/*.png, annotations/*.xml
    write_mnist(tmp / "mnist.npz", train=200, test=50)            # x_train, y_train, x_test, y_test
    write_image_folder(tmp / "photos", per_class=8)               # photos/{train,test}/{class}/*.png|jpg

The pixels are made learnable (each class has its own pattern, each image its own shift and
noise), so an accuracy on a stand-in says the pipeline learns; it says nothing about the real
data. Every writer is seeded: the same arguments give the same files.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from maskflow.sources.synthetic import generate, render_photo
from maskflow.sources.synthetic.placement import plan_photo, quota_labels

# FER2013 as published: 28,709 Training rows with these class counts (Angry, Disgust, Fear,
# Happy, Sad, Surprise, Neutral), 3,589 PublicTest and 3,589 PrivateTest rows.
FER_CLASSES = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
FER_TRAINING_COUNTS = (3995, 436, 4097, 7215, 4830, 3171, 4965)
FER_PUBLIC_TEST = FER_PRIVATE_TEST = 3589
FER_ROWS = sum(FER_TRAINING_COUNTS) + FER_PUBLIC_TEST + FER_PRIVATE_TEST  # 35,887

# Kaggle's Face Mask Detection labels -> the maskflow class they are renamed to in the preset.
FACE_MASK_LABELS = {"good": "with_mask", "bad": "mask_weared_incorrect", "none": "without_mask"}
# Its label shares (with_mask 3,232, without_mask 717, mask_weared_incorrect 123 of 4,072 boxes).
FACE_MASK_MIX = {"good": 0.79, "none": 0.18, "bad": 0.03}

LONG_NAME = "crowd at the station platform on a monday morning, everyone wearing masks " * 2 + "0001.jpg"
NON_ASCII_NAME = "маска_口罩_visage_été_0002.jpg"


def _smooth_fields(rng: np.random.Generator, count: int, size: int, coarse: int = 6) -> np.ndarray:
    """`count` smooth random images (float32 0..1, size x size): coarse noise upsampled."""
    fields = rng.random((count, coarse, coarse)).astype(np.float32)
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_CUBIC) for f in fields]).clip(0, 1)


def fer_images(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """uint8 N x 48 x 48 faces-to-be: one smooth pattern per class, shifted, with noise."""
    rng = np.random.default_rng(seed)
    templates = _smooth_fields(rng, len(FER_CLASSES), 48)
    images = np.empty((len(labels), 48, 48), dtype=np.uint8)
    for start in range(0, len(labels), 4096):  # blocks: bounded memory at 35,887 rows
        chunk = labels[start : start + 4096]
        base = templates[chunk]
        shifts = rng.integers(-3, 4, size=(len(chunk), 2))
        shifted = np.stack([np.roll(b, tuple(s), axis=(0, 1)) for b, s in zip(base, shifts)])
        noise = rng.normal(0, 0.18, shifted.shape).astype(np.float32)
        images[start : start + len(chunk)] = np.clip((0.15 + 0.7 * shifted + noise) * 255, 0, 255).astype(np.uint8)
    return images


def _pixel_text(images: np.ndarray) -> list[str]:
    """FER2013's pixel cells: the values of each image, row-major, separated by single spaces."""
    table = [str(v) for v in range(256)]
    return [" ".join([table[v] for v in image.ravel().tolist()]) for image in images]


def fer_labels(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(emotion 0..6, Usage) for `rows` rows in FER2013's proportions, in a shuffled order.

    At rows == FER_ROWS the counts are exactly the published ones."""
    scale = rows / FER_ROWS
    counts = [max(1, round(c * scale)) for c in FER_TRAINING_COUNTS]
    public = private = max(len(FER_CLASSES), round(FER_PUBLIC_TEST * scale))
    counts[3] += rows - sum(counts) - public - private  # Happy, the largest, absorbs rounding
    train = np.repeat(np.arange(len(FER_CLASSES)), counts)
    rng = np.random.default_rng(seed)
    # The test splits get FER's training class shares (every class at least once).
    shares = np.array(FER_TRAINING_COUNTS) / sum(FER_TRAINING_COUNTS)
    tests = [np.concatenate([np.arange(len(FER_CLASSES)), rng.choice(7, n - 7, p=shares)]) for n in (public, private)]
    emotion = np.concatenate([train, *tests])
    usage = np.array(["Training"] * len(train) + ["PublicTest"] * public + ["PrivateTest"] * private)
    order = rng.permutation(len(emotion))
    return emotion[order], usage[order]


def write_fer2013(path: Path, rows: int = 100, seed: int = 0) -> Path:
    """fer2013.csv: `emotion,pixels,Usage`, 48x48 gray, Training / PublicTest / PrivateTest."""
    emotion, usage = fer_labels(rows, seed)
    frame = pd.DataFrame({"emotion": emotion, "pixels": _pixel_text(fer_images(emotion, seed)), "Usage": usage})
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def write_medical_masks(folder: Path, photos: int = 10, seed: int = 0, min_width: int = 320, max_width: int = 640):
    """The homework folder: train.csv + test.csv (filename,width,height,label,xmin,ymin,xmax,ymax)
    and images/, with one photo renamed to a long name and one to a non-ASCII name."""
    generate(folder, photos=photos, seed=seed, min_width=min_width, max_width=max_width, test_fraction=0.3)
    tables = {split: pd.read_csv(folder / f"{split}.csv", dtype={"filename": str}) for split in ("train", "test")}
    names = sorted(set(tables["train"].filename))
    for old, new in zip(names, (LONG_NAME, NON_ASCII_NAME)):
        (folder / "images" / old).rename(folder / "images" / new)
        for table in tables.values():
            table.loc[table.filename == old, "filename"] = new
    for split, table in tables.items():
        table.to_csv(folder / f"{split}.csv", index=False)
    return folder


VOC_OBJECT = """    <object>
        <name>{name}</name>
        <pose>Unspecified</pose>
        <truncated>0</truncated>
        <occluded>0</occluded>
        <difficult>0</difficult>
        <bndbox>
            <xmin>{xmin}</xmin>
            <ymin>{ymin}</ymin>
            <xmax>{xmax}</xmax>
            <ymax>{ymax}</ymax>
        </bndbox>
    </object>
"""
VOC_FILE = """<annotation>
    <folder>images</folder>
    <filename>{filename}</filename>
    <size>
        <width>{width}</width>
        <height>{height}</height>
        <depth>3</depth>
    </size>
    <segmented>0</segmented>
{objects}</annotation>"""


def write_face_mask_detection(folder: Path, photos: int = 6, seed: int = 0, faces: tuple[int, int] = (1, 8)) -> Path:
    """Kaggle's Face Mask Detection layout: images/maksssksksss{i}.png (some RGBA, as there) and
    annotations/maksssksksss{i}.xml (Pascal VOC, labels with_mask / mask_weared_incorrect /
    without_mask), photos about 250-600 pixels wide."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "annotations").mkdir(parents=True, exist_ok=True)
    layout_seeds, render_seeds, label_seed = np.random.SeedSequence(seed).spawn(3)
    plans = [plan_photo(np.random.default_rng(s), 250, 600, faces) for s in layout_seeds.spawn(photos)]
    labels = iter(quota_labels(np.random.default_rng(label_seed), sum(len(p[2]) for p in plans), FACE_MASK_MIX))
    for index, ((width, height, placed), render_seed) in enumerate(zip(plans, render_seeds.spawn(photos))):
        rng = np.random.default_rng(render_seed)
        face_labels = [next(labels) for _ in placed]
        pixels, boxes = render_photo(rng, width, height, placed, face_labels)
        stem = f"maksssksksss{index}"
        image = Image.fromarray(pixels)
        if index % 5 == 0:  # several of Kaggle's PNGs carry an alpha channel
            image = image.convert("RGBA")
        image.save(folder / "images" / f"{stem}.png")
        objects = "".join(
            VOC_OBJECT.format(name=FACE_MASK_LABELS[label], xmin=x0, ymin=y0, xmax=x1, ymax=y1)
            for (x0, y0, x1, y1), label in zip(boxes, face_labels)
        )
        xml = VOC_FILE.format(filename=f"{stem}.png", width=width, height=height, objects=objects)
        (folder / "annotations" / f"{stem}.xml").write_text(xml, encoding="utf-8")
    return folder


def digit_images(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """uint8 N x 28 x 28 digits: each class drawn once in a 20-pixel box, as MNIST is, then
    shifted, thickened or thinned and given noise per image."""
    font = ImageFont.load_default(size=22)
    templates = np.zeros((10, 28, 28), dtype=np.float32)
    for digit in range(10):
        canvas = Image.new("L", (28, 28))
        ImageDraw.Draw(canvas).text((14, 14), str(digit), fill=255, font=font, anchor="mm")
        templates[digit] = np.asarray(canvas, dtype=np.float32) / 255
    rng = np.random.default_rng(seed)
    images = np.empty((len(labels), 28, 28), dtype=np.uint8)
    kernel = np.ones((2, 2), np.uint8)
    for start in range(0, len(labels), 8192):
        chunk = labels[start : start + 8192]
        shifts = rng.integers(-2, 3, size=(len(chunk), 2))
        strokes = rng.integers(0, 3, size=len(chunk))  # thin / as drawn / thick
        for offset, (digit, shift, stroke) in enumerate(zip(chunk, shifts, strokes)):
            image = np.roll(templates[digit], tuple(shift), axis=(0, 1))
            image = cv2.erode(image, kernel) if stroke == 0 else cv2.dilate(image, kernel) if stroke == 2 else image
            noisy = image * rng.uniform(0.7, 1.0) + rng.normal(0, 0.08, image.shape)
            images[start + offset] = np.clip(noisy * 255, 0, 255).astype(np.uint8)
    return images


def write_mnist(path: Path, train: int = 200, test: int = 50, seed: int = 0) -> Path:
    """mnist.npz as Keras publishes it: x_train (N x 28 x 28 uint8), y_train (N uint8), x_test, y_test."""
    rng = np.random.default_rng(seed)
    y_train = (np.arange(train) % 10)[rng.permutation(train)].astype(np.uint8)
    y_test = (np.arange(test) % 10)[rng.permutation(test)].astype(np.uint8)
    arrays = {
        "x_test": digit_images(y_test, seed + 1),
        "x_train": digit_images(y_train, seed),
        "y_train": y_train,
        "y_test": y_test,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:  # a file object: savez must not add ".npz" to the name
        np.savez_compressed(handle, **arrays)
    return path


IMAGE_FOLDER_CLASSES = ("one", "two", "three")


def write_image_folder(folder: Path, per_class: int = 8, test_per_class: int = 3, seed: int = 0) -> Path:
    """An image folder as torchvision's ImageFolder reads it: {train,test}/{class}/{i}.png|.jpg,
    one class folder per name in IMAGE_FOLDER_CLASSES, each photo a whole 28x28 gray digit
    (class k is the digit k + 1); every other photo is a JPEG, the rest PNGs."""
    for split, count in (("train", per_class), ("test", test_per_class)):
        labels = np.repeat(np.arange(len(IMAGE_FOLDER_CLASSES)), count)
        images = digit_images(labels + 1, seed + (split == "test"))
        for index, (label, pixels) in enumerate(zip(labels, images)):
            path = folder / split / IMAGE_FOLDER_CLASSES[label] / f"{index:03d}.{'jpg' if index % 2 else 'png'}"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels, "L").save(path)
    return folder


def boxes_in(folder: Path) -> int:
    """How many <object> boxes the VOC files of a Face Mask Detection folder hold."""
    return sum(path.read_text(encoding="utf-8").count("<object>") for path in (folder / "annotations").glob("*.xml"))
