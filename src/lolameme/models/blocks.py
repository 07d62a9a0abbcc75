"""Residual blocks: pre-LayerNorm, a mixer, an MLP, each added back to the stream.

Every family shares the same skeleton (GPT-2's): x + mixer(ln_1(x)), then
x + mlp(ln_2(x)). Families differ only in the mixer (attention, Hyena,
Mamba, a user's; see :mod:`lolameme.models.registry`) and the MLP width, the
family's ``mlp_ratio`` (4x for GPT-2; 2x for Hyena, the paper's d_inner 1728
at width 864; 0 for Mamba, whose blocks are the mixer alone, as in its paper).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lolameme.models.config import LayerSpec, ModelConfig
from lolameme.models.registry import get_mixer


class MLP(nn.Module):
    """Linear -> tanh-GELU (GPT-2's "gelu_new") -> Linear."""

    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.fc_in = nn.Linear(width, hidden)
        self.fc_out = nn.Linear(hidden, width)  # residual projection (scaled at init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_out(F.gelu(self.fc_in(x), approximate="tanh"))


class Block(nn.Module):
    """A pre-LayerNorm residual block around any mixer, with GPT-2's residual dropout.

    ``mlp_hidden`` 0 leaves the MLP (and its LayerNorm) out.
    """

    def __init__(self, kind: str, width: int, mixer: nn.Module, mlp_hidden: int, dropout: float, eps: float):
        super().__init__()
        self.kind = kind
        self.width = width
        self.ln_1 = nn.LayerNorm(width, eps=eps)
        self.mixer = mixer
        self.ln_2 = nn.LayerNorm(width, eps=eps) if mlp_hidden else None
        self.mlp = MLP(width, mlp_hidden) if mlp_hidden else None
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.resid_dropout(self.mixer(self.ln_1(x)))
        if self.mlp is None:
            return x
        return x + self.resid_dropout(self.mlp(self.ln_2(x)))


def build_block(layer: LayerSpec, config: ModelConfig) -> Block:
    """The block of one layer: its family's mixer at the layer's width, MLP ``mlp_ratio`` x."""
    options = config.options(layer.kind)
    mixer = get_mixer(layer.kind).build(layer.width, options, config)
    return Block(layer.kind, layer.width, mixer, options.mlp_ratio * layer.width, config.dropout, config.layer_norm_eps)
