"""Residual blocks: pre-LayerNorm, a mixer, an MLP, each added back to the stream.

Both kinds share the same skeleton (GPT-2's): x + mixer(ln_1(x)), then
x + mlp(ln_2(x)). They differ only in the mixer (attention or Hyena) and the
MLP width (4x for GPT-2, ``hyena_mlp_ratio`` x = 2x for Hyena, the paper's
d_inner 1728 at width 864). Every kind is registered in ``BLOCKS`` by the name
used in layer specifications.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from lolameme.models.attention import CausalSelfAttention
from lolameme.models.config import ModelConfig
from lolameme.models.hyena import HyenaOperator


class MLP(nn.Module):
    """Linear -> tanh-GELU (GPT-2's "gelu_new") -> Linear."""

    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.fc_in = nn.Linear(width, hidden)
        self.fc_out = nn.Linear(hidden, width)  # residual projection (scaled at init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_out(F.gelu(self.fc_in(x), approximate="tanh"))


class Block(nn.Module):
    """A pre-LayerNorm residual block around any mixer, with GPT-2's residual dropout."""

    def __init__(self, kind: str, width: int, mixer: nn.Module, mlp_hidden: int, dropout: float, eps: float):
        super().__init__()
        self.kind = kind
        self.width = width
        self.ln_1 = nn.LayerNorm(width, eps=eps)
        self.mixer = mixer
        self.ln_2 = nn.LayerNorm(width, eps=eps)
        self.mlp = MLP(width, mlp_hidden)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.resid_dropout(self.mixer(self.ln_1(x)))
        return x + self.resid_dropout(self.mlp(self.ln_2(x)))


def gpt2_block(width: int, config: ModelConfig) -> Block:
    """GPT-2's block: attention with ``n_head`` heads, MLP 4x."""
    attention = CausalSelfAttention(
        width, config.n_head, config.dropout,
        rotary=config.pos_encoding == "rotary", rotary_base=config.rotary_base,
    )
    return Block("gpt2", width, attention, config.gpt2_mlp_ratio * width, config.dropout, config.layer_norm_eps)


def hyena_block(width: int, config: ModelConfig) -> Block:
    """The Hyena block: Hyena operator, MLP ``hyena_mlp_ratio`` x (d_inner)."""
    operator = HyenaOperator(
        width,
        max_len=config.max_seq_len,
        order=config.hyena_order,
        filter_order=config.hyena_filter_order,
        pos_emb_dim=config.hyena_pos_emb_dim,
        short_filter=config.hyena_short_filter,
        sine_freq=config.hyena_sine_freq,
        dropout=config.dropout,
    )
    return Block("hyena", width, operator, config.hyena_mlp_ratio * width, config.dropout, config.layer_norm_eps)


BLOCKS: dict[str, Callable[[int, ModelConfig], Block]] = {"gpt2": gpt2_block, "hyena": hyena_block}
