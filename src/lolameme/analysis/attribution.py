"""Attention attribution: where each head looks from the positions where the model writes the answer.

For every attention layer and head, the attention from the answer-writing positions (``<sep>`` and
the answer tokens before ``<eos>``) is summed over each token role of :mod:`lolameme.analysis.annotate`
and averaged over those positions and over programs. Roles differ in size (a noise statement has
more tokens than a ``print``), so each number comes with ``uniform``: the share the role would get
from a head that attends evenly to every earlier position. Hyena layers have no attention weights
and are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from lolameme.analysis.annotate import DEFINING_PARTS, ROLES, Sample, slices_by
from lolameme.analysis.batching import batches
from lolameme.analysis.hooks import attention_layers, attention_maps
from lolameme.analysis.tables import Rows

GROUPS = ROLES + DEFINING_PARTS  # the roles cover every key; the parts split 'defining' again


def per_row_attention(model: nn.Module, samples: Sequence[Sample], pad_id: int, batch_size: int
                      ) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Layer -> [N, H, G] mean attention per group of :data:`GROUPS`, and [N, G] the uniform-attention shares."""
    layers = list(attention_layers(model))
    per_layer = {i: [None] * len(samples) for i in layers}
    uniform = np.zeros((len(samples), len(GROUPS)))
    if not layers:
        return {}, uniform
    for batch in batches(samples, pad_id, batch_size):
        queries = batch.answer_queries().float()                       # [B, T]
        count = queries.sum(dim=1).clamp(min=1)
        onehot = batch.role_onehot()                                   # [B, T, R]
        seen = torch.cumsum(onehot, dim=1) / torch.arange(1, onehot.shape[1] + 1)[None, :, None]
        uniform[batch.rows] = ((seen * queries[..., None]).sum(1) / count[:, None]).numpy()
        maps = attention_maps(model, batch.ids)
        for i, weights in maps.items():                                # [B, H, T, T]
            by_role = weights @ onehot[:, None]                        # [B, H, T, R]
            mean = (by_role * queries[:, None, :, None]).sum(2) / count[:, None, None]
            for r, row in enumerate(batch.rows):
                per_layer[i][row] = mean[r].numpy()
    return {i: np.stack(rows) for i, rows in per_layer.items()}, uniform


def attribution_table(model: nn.Module, samples: Sequence[Sample], pad_id: int, batch_size: int) -> pa.Table | None:
    """Long table: layer, head, hops ('all' or a count), role, attention, uniform, n; None without attention."""
    per_layer, uniform = per_row_attention(model, samples, pad_id, batch_size)
    if not per_layer:
        return None
    groups = slices_by(samples)
    rows_out = Rows("layer", "head", "hops", "role", "attention", "uniform", "n")
    for layer, values in per_layer.items():
        for name, rows in groups:
            mean, base = values[rows].mean(axis=0), uniform[rows].mean(axis=0)     # [H, R], [R]
            for head in range(values.shape[1]):
                for r, role in enumerate(GROUPS):
                    rows_out.add(layer, head, name, role, float(mean[head, r]), float(base[r]), int(rows.sum()))
    return rows_out.table()
