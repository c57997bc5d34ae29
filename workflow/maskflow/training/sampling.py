"""Class imbalance: loss weights and the order of training samples in each epoch.

    imbalance: {method: none | weighted_loss | weighted_sampler | oversample | undersample, weights: {bad: 3.0}}

- `weighted_loss`: cross-entropy weighted per class, by inverse frequency N / (K n_k) or by
  the given `weights` (classes not named keep 1.0);
- `weighted_sampler`: each epoch draws N samples with replacement, class k with probability
  proportional to its weight (default: equal for every class present);
- `oversample`: every class repeated (then randomly topped up) to the largest class's count;
- `undersample`: every epoch a fresh class-balanced subset, each class cut to the rarest
  class's count. A class's samples are taken in turn from a seeded permutation of them (a new
  one once all are used), so after ceil(n_k / n_min) epochs every sample of class k has been
  trained on: the majority class is not thrown away, only spread over the epochs.

Every draw comes from the caller's seeded CPU `torch.Generator`, so an epoch's order does not
depend on the training device and is restored exactly on resume. Undersampling's subsets depend
only on the model seed and the epoch number, so a resumed run draws the same ones too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from maskflow.errors import ConfigError
from maskflow.io.hashing import derived_seed

WEIGHTED_METHODS = ("weighted_loss", "weighted_sampler")


def class_counts(y: np.ndarray, num_classes: int) -> np.ndarray:
    return np.bincount(y, minlength=num_classes).astype(np.int64)


def class_weights(spec: dict, y: np.ndarray, classes: list[str]) -> np.ndarray:
    """Per-class weights (float64, K): given ones, else inverse frequency; 0 for absent classes."""
    given = spec.get("weights")
    if given and spec["method"] not in WEIGHTED_METHODS:
        raise ConfigError(
            f"train.imbalance.weights: only used by {' and '.join(WEIGHTED_METHODS)}, not by {spec['method']!r}"
        )
    counts = class_counts(y, len(classes))
    if given:
        unknown = sorted(set(given) - set(classes))
        if unknown:
            raise ConfigError(f"train.imbalance.weights: unknown class {unknown[0]!r}; classes: {', '.join(classes)}")
        weights = np.array([float(given.get(name, 1.0)) for name in classes])
    else:
        weights = np.divide(len(y), len(classes) * counts, out=np.zeros(len(classes)), where=counts > 0)
    return np.where(counts > 0, weights, 0.0)


def loss_weights(spec: dict, y: np.ndarray, classes: list[str]) -> torch.Tensor | None:
    """The `weight` argument of cross-entropy, or None when the loss is unweighted."""
    if spec["method"] != "weighted_loss":
        return None
    return torch.tensor(class_weights(spec, y, classes), dtype=torch.float32)


def _shuffled(y: torch.Tensor, weights: np.ndarray, generator: torch.Generator) -> torch.Tensor:
    return torch.randperm(len(y), generator=generator)


def _weighted_sample(y: torch.Tensor, weights: np.ndarray, generator: torch.Generator) -> torch.Tensor:
    counts = torch.bincount(y, minlength=len(weights)).double()
    per_class = torch.from_numpy(weights).double() / counts.clamp(min=1)
    return torch.multinomial(per_class[y], len(y), replacement=True, generator=generator)


def _oversample(y: torch.Tensor, weights: np.ndarray, generator: torch.Generator) -> torch.Tensor:
    counts = torch.bincount(y, minlength=len(weights))
    target = int(counts.max())
    parts = []
    for k in range(len(weights)):
        members = torch.nonzero(y == k).flatten()
        if len(members) == 0:
            continue
        repeats, extra = divmod(target, len(members))
        top_up = members[torch.randperm(len(members), generator=generator)[:extra]]
        parts += [members.repeat(repeats), top_up]
    order = torch.cat(parts)
    return order[torch.randperm(len(order), generator=generator)]


def undersample_subset(y: torch.Tensor, seed: int, epoch: int) -> torch.Tensor:
    """Indices of epoch `epoch`'s (1, 2, ...) balanced subset, grouped by class, not yet shuffled.

    Class k's samples form an endless stream of permutations (cycle c seeded by the model seed,
    the class and c); epoch e takes positions (e - 1) * m ... e * m - 1 of it, m = the rarest
    present class's count."""
    counts = torch.bincount(y)
    present = [k for k in range(len(counts)) if counts[k] > 0]
    m = int(min(counts[k] for k in present))
    parts = []
    for k in present:
        members = torch.nonzero(y == k).flatten()
        n = len(members)
        positions = torch.arange((epoch - 1) * m, epoch * m)
        picked = []
        for cycle in torch.unique(positions // n).tolist():
            generator = torch.Generator().manual_seed(derived_seed(seed, f"undersample/{k}/{cycle}"))
            permutation = members[torch.randperm(n, generator=generator)]
            picked.append(permutation[positions[positions // n == cycle] % n])
        parts.append(torch.cat(picked))
    return torch.cat(parts)


# method -> (y, class weights, generator) -> indices of one epoch, in order
EPOCH_ORDERS: dict[str, Callable[[torch.Tensor, np.ndarray, torch.Generator], torch.Tensor]] = {
    "none": _shuffled,
    "weighted_loss": _shuffled,
    "weighted_sampler": _weighted_sample,
    "oversample": _oversample,
}


class EpochSampler:
    """Indices of each epoch's training samples, from a seeded CPU generator.

    `seed` and `epoch` (the epochs already done: a resumed run passes its own) matter to
    `undersample` alone, whose subsets are a function of the model seed and the epoch number."""

    def __init__(
        self,
        spec: dict,
        y: np.ndarray,
        classes: list[str],
        generator: torch.Generator,
        seed: int = 0,
        epoch: int = 0,
    ):
        self.method = spec["method"]
        self.order = None if self.method == "undersample" else EPOCH_ORDERS[self.method]
        self.seed, self.done = seed, epoch
        # The sampler draws classes in proportion to these: equal for present classes unless given.
        present = (class_counts(y, len(classes)) > 0).astype(float)
        self.weights = class_weights(spec, y, classes) if spec.get("weights") else present
        self.y = torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))
        self.generator = generator

    def epoch(self) -> torch.Tensor:
        self.done += 1
        if self.method == "undersample":
            subset = undersample_subset(self.y, self.seed, self.done)
            return subset[torch.randperm(len(subset), generator=self.generator)]
        return self.order(self.y, self.weights, self.generator)
