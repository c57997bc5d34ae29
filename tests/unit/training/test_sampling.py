"""Class-imbalance sampling (maskflow.training.sampling): `undersample` draws a balanced subset
every epoch and, over enough epochs, uses every sample of the majority class."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from maskflow.training.sampling import EpochSampler, undersample_subset

# 80 / 17 / 3, as the masks data: the rarest class has 3 samples
Y = np.repeat([0, 1, 2], [80, 17, 3])
SPEC = {"method": "undersample", "weights": None}


def sampler(seed=1, epoch=0, generator_seed=0, y=Y):
    return EpochSampler(SPEC, y, ["good", "bad", "none"], torch.Generator().manual_seed(generator_seed), seed, epoch)


def test_each_epoch_is_balanced_at_the_rarest_class_count_without_repeats():
    draw = sampler()
    for _ in range(5):
        order = draw.epoch().numpy()
        assert np.bincount(Y[order], minlength=3).tolist() == [3, 3, 3]
        assert len(set(order.tolist())) == len(order)  # no sample twice in one epoch


def test_over_enough_epochs_every_majority_sample_is_used():
    draw = sampler()
    epochs = math.ceil(80 / 3)  # 27 epochs of 3 cover the 80 majority samples
    seen = np.concatenate([draw.epoch().numpy() for _ in range(epochs)])
    assert set(seen.tolist()) == set(range(len(Y)))
    majority = seen[Y[seen] == 0]
    # each is used once before any is used again (one permutation, then the next)
    assert np.bincount(majority[:78], minlength=80).max() == 1


def test_subsets_are_fresh_each_epoch_and_seeded():
    first, second = sampler().epoch(), sampler().epoch()
    assert torch.equal(first, second)  # same seed, same epoch: the same subset and order
    a = set(sampler().epoch().tolist())
    draw = sampler()
    draw.epoch()
    b = set(draw.epoch().tolist())
    assert a != b  # the next epoch draws other majority samples
    other = set(sampler(seed=2).epoch().tolist())
    assert other != a  # another model seed, another subset


def test_a_resumed_sampler_draws_the_subsets_the_uninterrupted_one_would():
    straight = sampler()
    subsets = [set(straight.epoch().tolist()) for _ in range(4)]
    resumed = sampler(epoch=2, generator_seed=99)  # after epoch 2, its order generator restored or not
    assert [set(resumed.epoch().tolist()) for _ in range(2)] == subsets[2:]


def test_a_class_absent_from_train_is_left_out_not_a_zero_count():
    y = np.repeat([0, 2], [10, 4])
    order = sampler(y=y).epoch().numpy()
    assert np.bincount(y[order], minlength=3).tolist() == [4, 0, 4]


@pytest.mark.parametrize("epoch", [1, 7, 30])
def test_the_subset_is_a_function_of_seed_and_epoch(epoch):
    y = torch.from_numpy(Y)
    subset = undersample_subset(y, 5, epoch)
    assert torch.equal(subset, undersample_subset(y, 5, epoch))
    # and of both: another seed or another epoch draws other members of the larger classes
    for other in (undersample_subset(y, 6, epoch), undersample_subset(y, 5, epoch + 1)):
        assert not torch.equal(subset[: 2 * 3], other[: 2 * 3])  # the good and bad samples drawn
