"""Hyena's implicit long filters as impulse responses, and how far each one reaches.

A Hyena long convolution computes y[t] = sum_s h[s] u[t - s] + skip * u[t], so the filter ``h``
*is* its impulse response: ``|h[s]|`` says how strongly the input ``s`` tokens back reaches the
output. The skip term acts at lag 0 and is counted there. *Reach within k tokens* is the share of
a filter's absolute mass (lags 0 .. ``length`` - 1) at lags below k: near 1 for a filter that only
mixes neighbours, small for one that carries information across the program.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from lolameme.analysis.hooks import model_layers
from lolameme.analysis.tables import Rows

REACH_K = (1, 2, 4, 8, 16, 32)


def hyena_operators(model: nn.Module) -> dict[int, nn.Module]:
    """Layer index -> its Hyena operator, for the layers that have one."""
    from lolameme.models.hyena import HyenaOperator

    found = {}
    for index, block in enumerate(model_layers(model)):
        for module in block.modules():
            if isinstance(module, HyenaOperator):
                found[index] = module
                break
    return found


@torch.no_grad()
def impulse_responses(operator: nn.Module, length: int) -> np.ndarray:
    """[filters, channels, length] absolute impulse responses of one operator, skip added at lag 0."""
    seq_len = min(length, operator.filter.max_len)
    h = operator.filter(seq_len).float().view(operator.order - 1, operator.width, seq_len).clone()
    h[..., 0] += operator.filter.skip.float().view(operator.order - 1, operator.width)
    return h.abs().numpy()


def filter_tables(models: dict[str, nn.Module], length: int) -> tuple[pa.Table, pa.Table] | None:
    """(impulse, reach) tables over ``models`` ('trained', 'fresh'); None when no layer is Hyena.

    impulse: model, layer, filter, lag, mean, q10, q90 of |h| over channels (each normalised to mass 1).
    reach: model, layer, filter, k, mean, q10, median, q90 over channels of the mass share below lag k.
    """
    impulse = Rows("model", "layer", "filter", "lag", "mean", "q10", "q90")
    reach = Rows("model", "layer", "filter", "k", "mean", "q10", "median", "q90")
    for name, model in models.items():
        operators = hyena_operators(model)
        if not operators:
            return None
        for layer, operator in operators.items():
            responses = impulse_responses(operator, length)
            mass = responses / np.maximum(responses.sum(-1, keepdims=True), 1e-12)
            cumulative = np.cumsum(mass, axis=-1)
            for f in range(responses.shape[0]):
                q10, q90 = np.quantile(mass[f], [0.1, 0.9], axis=0)
                for lag in range(mass.shape[-1]):
                    impulse.add(name, layer, f, lag, float(mass[f, :, lag].mean()), float(q10[lag]), float(q90[lag]))
                for k in REACH_K:
                    share = cumulative[f, :, min(k, mass.shape[-1]) - 1]
                    reach.add(name, layer, f, k, float(share.mean()), *map(float, np.quantile(share, [0.1, 0.5, 0.9])))
    return impulse.table(), reach.table()
