"""The epoch's batch pipeline and bookkeeping (issue 26) compute what they computed before, bit for
bit: flips run on the uint8 batch before the float conversion, and each batch's loss and hits are
kept on the device and summed once after the epoch. The reference below is the loop as it was
(float batch, flips on floats, running float64 and int64 sums on the device)."""

from __future__ import annotations

import numpy as np
import torch

from maskflow.inference import Normalizer, as_nchw
from maskflow.models import build_model
from maskflow.runtime.device import MixedPrecision, place
from maskflow.training.augment import Augmenter
from maskflow.training.data import Split
from maskflow.training.loop import batch_bounds, train_one_epoch
from maskflow.training.optim import OPTIMIZERS, CrossEntropy

AUGMENT = {"hflip": True, "vflip": True, "rotate": 10, "translate": 0.1, "brightness": 0.2, "contrast": 0.2}
ARCH = {"type": "cnn", "blocks": [{"channels": 4, "pool": 2, "batch_norm": True, "dropout": 0.1}], "head": [8]}


def crops(n=50, size=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    y = rng.integers(0, 3, size=n).astype(np.int64)
    return Split(as_nchw(x), torch.from_numpy(y), y)


def test_flipping_the_uint8_batch_first_gives_the_same_floats():
    split, normalizer = crops(), Normalizer({"mean": [0.5] * 3, "std": [0.2] * 3})
    floats = Augmenter(AUGMENT, torch.Generator().manual_seed(3))(normalizer.unit(split.x))
    uint8_first = Augmenter(AUGMENT, torch.Generator().manual_seed(3))
    flipped = uint8_first.flips(split.x)
    assert flipped.dtype == torch.uint8
    assert torch.equal(uint8_first.after_flips(normalizer.unit(flipped)), floats)


def reference_epoch(model, split, order, batch_size, normalizer, augmenter, criterion, optimizer, amp):
    """train_one_epoch before issue 26."""
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float64)
    correct = torch.zeros((), dtype=torch.int64)
    for start, end in batch_bounds(len(order), batch_size):
        index = order[start:end]
        x, y = normalizer.unit(split.x[index]), split.y[index]
        if augmenter.enabled:
            x = augmenter(x)
        x = normalizer.normalize(x)
        logits = model(x)
        loss = criterion(logits, y)
        optimizer.zero_grad(set_to_none=True)
        amp.scaler.scale(loss).backward()
        amp.scaler.step(optimizer)
        amp.scaler.update()
        loss_sum += loss.detach().double() * (end - start)
        correct += (logits.detach().argmax(1) == y).sum()
    return float(loss_sum) / len(order), int(correct) / len(order)


def two_epochs(epoch_function, augment):
    split, normalizer = crops(), Normalizer({"mean": [0.5] * 3, "std": [0.2] * 3})
    torch.manual_seed(0)
    model = place(build_model(ARCH, 3, 12, 3), "cpu")
    optimizer = OPTIMIZERS["adam"](model.parameters(), {"lr": 0.01, "weight_decay": 0.0})
    augmenter = Augmenter(augment, torch.Generator().manual_seed(1))
    order = torch.Generator().manual_seed(2)
    amp = MixedPrecision.for_device(torch.device("cpu"), True)
    results = [
        epoch_function(
            model,
            split,
            torch.randperm(50, generator=order),
            7,
            normalizer,
            augmenter,
            CrossEntropy(None, 0.0, 3),
            optimizer,
            amp,
        )  # fmt: skip
        for _ in range(2)
    ]
    return results, model.state_dict()


def test_an_epoch_gives_the_same_bits_as_before():
    for augment in (AUGMENT, {"hflip": True}, {}):
        (now, weights), (before, reference) = two_epochs(train_one_epoch, augment), two_epochs(reference_epoch, augment)
        assert now == before, augment  # mean loss and accuracy of each epoch, exactly
        assert all(torch.equal(weights[key], reference[key]) for key in weights), augment
