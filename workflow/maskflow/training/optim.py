"""What a model's `train:` settings build for the torch training loop: optimizer, learning-rate
schedule, early stopping and the loss.

    t = spec["train"]                                           # resolved (maskflow.config)
    optimizer = OPTIMIZERS[t["optimizer"]](model.parameters(), t)
    scheduler = SCHEDULES[t["schedule"]["type"]](optimizer, t)  # None: constant learning rate
    stopper = EarlyStopping("val_loss", patience=5, restore_best=True)
    criterion = CrossEntropy(weights, t["label_smoothing"], num_classes)

The torch trainer (maskflow.training.torch_trainer) builds them for a run; the registries' keys are the values
the config schema allows.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from maskflow.training.outputs import MONITORS  # early stopping's comparisons, shared with the NumPy trainer

# optimizer name -> builder(params, train spec). All use the fused kernel (one kernel updates
# every parameter tensor, on CPU and CUDA alike): a step of the default MLP took 1.6 ms with
# the per-tensor loop and 0.3 ms fused on 2 CPU cores (bench/train_epoch.py shows the epoch).
OPTIMIZERS = {
    "sgd": lambda params, t: torch.optim.SGD(
        params, lr=t["lr"], momentum=t["momentum"], nesterov=t["nesterov"], weight_decay=t["weight_decay"], fused=True
    ),
    "adam": lambda params, t: torch.optim.Adam(params, lr=t["lr"], weight_decay=t["weight_decay"], fused=True),
    "adamw": lambda params, t: torch.optim.AdamW(params, lr=t["lr"], weight_decay=t["weight_decay"], fused=True),
}

# schedule type -> scheduler stepped once per epoch (None: constant learning rate)
SCHEDULES = {
    "none": lambda optimizer, t: None,
    "step": lambda optimizer, t: torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=t["schedule"].get("every", 10), gamma=t["schedule"].get("factor", 0.1)
    ),
    "cosine": lambda optimizer, t: torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=t["epochs"]),
}


class EarlyStopping:
    """Stop after `patience` epochs without improvement of `monitor`; keep the best weights."""

    def __init__(self, monitor: str, patience: int, restore_best: bool):
        self.monitor, self.patience, self.restore_best = monitor, patience, restore_best
        self.better, self.best = MONITORS[monitor]
        self.best_epoch = 0
        self.best_state: dict | None = None
        self.waited = 0

    def update(self, epoch: int, row: dict, model: nn.Module) -> bool:
        """Record `epoch`'s metrics; True when training should stop."""
        if self.better(row[self.monitor], self.best):
            self.best, self.best_epoch, self.waited = row[self.monitor], epoch, 0
            if self.restore_best:
                self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.waited += 1
        return self.waited >= self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "best_state": self.best_state, "waited": self.waited}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch, self.best_state, self.waited = (
            state["best"],
            state["best_epoch"],
            state["best_state"],
            state["waited"],
        )


class CrossEntropy(nn.Module):
    """Cross-entropy with class weights and label smoothing, as `nn.CrossEntropyLoss` defines it.

    Written with a one-hot product instead of `nll_loss` because PyTorch's CUDA NLL kernels
    accumulate with atomics, which `use_deterministic_algorithms` refuses or cannot make exact."""

    def __init__(self, weight: torch.Tensor | None, label_smoothing: float, num_classes: int):
        super().__init__()
        self.register_buffer("weight", torch.ones(num_classes) if weight is None else weight.float())
        self.smoothing, self.num_classes = label_smoothing, num_classes

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        log_p = torch.log_softmax(logits.float(), dim=1)
        one_hot = F.one_hot(y, self.num_classes).float()
        sample_weight = one_hot @ self.weight
        target = -(one_hot * log_p).sum(1) * sample_weight
        smooth = -(log_p * self.weight).sum(1) / self.num_classes
        return ((1 - self.smoothing) * target + self.smoothing * smooth).sum() / sample_weight.sum()
