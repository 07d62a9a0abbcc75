"""Optimiser parameter groups per model family: what decays, and at what learning rate.

Every model trains with AdamW over these groups:

* ``decay`` -- matrices (weights of Linear layers, embeddings): weight decay as configured;
* ``no_decay`` -- biases, LayerNorm gains and other vectors, and any parameter a mixer marks with
  ``_no_weight_decay = True`` (Mamba's state matrix ``A_log`` and skip ``D``, as its reference):
  no weight decay;
* ``hyena_filter`` -- every parameter of a Hyena implicit filter (its sine MLP, the shared sine
  frequency, the skip term): no weight decay, as the reference implementation trains them.
  Decay pulls the filter MLP's weights toward zero, which flattens the filters it generates
  (low frequencies, short reach): the long convolution is then the first thing decay destroys.
  The frozen positional features are not trained at all.

Each group carries ``lr_scale`` (1 unless the caller asks otherwise); the trainer multiplies
the scheduled learning rate by it, so ``{"hyena_filter": 0.5}`` trains the filters at half the
rate of the rest. A model without Hyena layers gets no ``hyena_filter`` group.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from lolameme.errors import ConfigError
from lolameme.models.hyena import ImplicitFilter

GROUP_NAMES = ("decay", "no_decay", "hyena_filter")


def parameter_groups(model: nn.Module, weight_decay: float,
                     lr_scale: Mapping[str, float] | None = None) -> list[dict[str, Any]]:
    """AdamW parameter groups of ``model`` (empty groups left out), each named and with its ``lr_scale``."""
    scales = dict(lr_scale or {})
    unknown = sorted(set(scales) - set(GROUP_NAMES))
    if unknown:
        raise ConfigError(f"lr scale for unknown parameter group(s) {unknown}; accepted: {', '.join(GROUP_NAMES)}")
    bad = {name: value for name, value in scales.items() if not isinstance(value, (int, float)) or value <= 0}
    if bad:
        raise ConfigError(f"lr scale must be a positive number, got {bad}")
    in_filter = {id(p) for module in model.modules() if isinstance(module, ImplicitFilter) for p in module.parameters()}
    members: dict[str, list[nn.Parameter]] = {name: [] for name in GROUP_NAMES}
    for parameter in model.parameters():
        if not parameter.requires_grad:
            continue
        if id(parameter) in in_filter:
            members["hyena_filter"].append(parameter)
        elif parameter.dim() >= 2 and not getattr(parameter, "_no_weight_decay", False):
            members["decay"].append(parameter)
        else:
            members["no_decay"].append(parameter)
    decays = {"decay": weight_decay, "no_decay": 0.0, "hyena_filter": 0.0}
    return [{"name": name, "params": params, "weight_decay": decays[name], "lr_scale": float(scales.get(name, 1.0))}
            for name, params in members.items() if params]
