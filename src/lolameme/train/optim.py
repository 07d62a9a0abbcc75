"""The optimizer: which parameters train together and with what settings.

One function builds it, so a change of parameter groups (per-group weight decay,
learning-rate multipliers for a family of layers) is made here and nowhere else.
A group may carry ``lr_scale``: the trainer sets each group's learning rate to the
schedule's value times that scale (1.0 when absent).
"""

from __future__ import annotations

from typing import Any

import torch

from lolameme.models.param_groups import parameter_groups
from lolameme.train.config import TrainConfig


def param_groups(model: torch.nn.Module, cfg: TrainConfig) -> list[dict[str, Any]]:
    """The model's per-family groups (:mod:`lolameme.models.param_groups`): decay on matrices only, none on
    Hyena's filters, each group's ``lr_scale`` from ``cfg.lr_scale``."""
    return parameter_groups(model, cfg.weight_decay, cfg.lr_scale)


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over :func:`param_groups`, with the fused kernel where the parameters allow it."""
    groups = param_groups(model, cfg)
    betas = (cfg.beta1, cfg.beta2)
    try:  # the fused kernel updates all tensors in one op: ~30x faster than the loop on CPU for tiny models
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=betas, fused=True)
    except (RuntimeError, ValueError):  # parameters of a dtype or device without the fused kernel
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=betas)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """The schedule's learning rate, scaled per group by its ``lr_scale``."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)


def optimizer_steps(optimizer: torch.optim.Optimizer) -> int | None:
    """How many updates the optimizer has applied (None before the first): its per-parameter step count.

    The trainer compares it with its own step counter to tell whether an interrupt landed
    between an update and the bookkeeping that names it.
    """
    for state in optimizer.state.values():
        step = state.get("step")
        if step is not None:
            return int(step)
    return None


def optimizer_to(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """Move a loaded optimizer state to ``device`` (the step counts stay where AdamW keeps them)."""
    if device.type == "cpu":
        return
    for state in optimizer.state.values():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and key != "step":
                state[key] = value.to(device)
