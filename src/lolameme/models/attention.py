"""Causal multi-head self-attention, the GPT-2 mixer.

The attention itself is ``torch.nn.functional.scaled_dot_product_attention``
with ``is_causal=True``: on a GPU that picks the flash / memory-efficient
kernels, on a CPU a fused kernel, and it never materialises a [T, T] mask.
Optional rotary positions (RoFormer, GPT-NeoX "rotate half" layout) rotate
queries and keys only; they are off in the paper presets, which use GPT-2's
learned absolute positions.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from lolameme.errors import ModelError
from lolameme.models.registry import Mixer


def rotary_tables(seq_len: int, head_dim: int, base: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables [seq_len, head_dim] for rotary positions (float32)."""
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(seq_len, device=device, dtype=torch.float32), inv_freq)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (i, i + head_dim/2) of x [B, H, T, head_dim] by position-dependent angles."""
    first, second = x.chunk(2, dim=-1)
    rotated_half = torch.cat([-second, first], dim=-1)
    return (x * cos + rotated_half * sin).to(x.dtype)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with a fused q/k/v projection (as GPT-2's ``c_attn``).

    ``dropout`` applies to the attention probabilities; the residual dropout
    after ``proj`` belongs to the block.
    """

    def __init__(self, width: int, n_head: int, dropout: float, rotary: bool = False, rotary_base: float = 10000.0):
        super().__init__()
        self.width = width
        self.n_head = n_head
        self.head_dim = width // n_head
        self.dropout = dropout
        self.rotary = rotary
        self.rotary_base = rotary_base
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)  # residual projection (scaled at init)

    def _heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q, k, v as [B, H, T, head_dim], positions applied."""
        batch, seq_len, _ = x.shape
        q, k, v = self.qkv(x).view(batch, seq_len, 3, self.n_head, self.head_dim).permute(2, 0, 3, 1, 4)
        if self.rotary:
            cos, sin = rotary_tables(seq_len, self.head_dim, self.rotary_base, x.device)
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        return q, k, v

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """The probabilities [B, H, T, T] that ``forward(x)`` mixes values with (for analysis;
        ``forward`` never materialises them)."""
        q, k, _ = self._heads(x)
        scores = (q @ k.transpose(-2, -1)) / self.head_dim**0.5
        future = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool, device=x.device).triu(1)
        return scores.masked_fill(future, float("-inf")).softmax(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq_len, _ = x.shape
        q, k, v = self._heads(x)
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0
        )
        y = y.transpose(1, 2).reshape(batch, seq_len, self.width)
        return self.proj(y)


# -- the gpt2 mixer family (lolameme.models.registry) ----------------------------------
class GPT2Options(BaseModel):
    """Options of the ``gpt2`` family: heads per layer and the block's MLP width (4x in GPT-2)."""

    model_config = ConfigDict(extra="forbid")
    n_head: int = Field(default=12, ge=1)
    mlp_ratio: int = Field(default=4, ge=1)


def _build(width: int, options: GPT2Options, config: Any) -> CausalSelfAttention:
    return CausalSelfAttention(
        width, options.n_head, config.dropout,
        rotary=config.pos_encoding == "rotary", rotary_base=config.rotary_base,
    )


def _check(width: int, options: GPT2Options, config: Any) -> None:
    if width % options.n_head:
        raise ModelError(
            f"n_head={options.n_head} does not divide the width {width}; choose n_head dividing every gpt2 width"
        )
    if config.pos_encoding == "rotary" and (width // options.n_head) % 2:
        raise ModelError(f"rotary positions need an even head size, got {width}/{options.n_head} = {width // options.n_head}")


def _flops(width: int, options: GPT2Options, config: Any, seq_len: int, batch_size: int) -> float:
    """q, k, v and the output projection (4 d^2 multiply-adds), plus QK^T and the weighted sum over the full T x T."""
    return 2 * 4 * width * width + 4 * seq_len * width


MIXER = Mixer(
    label="GPT-2",
    name="gpt2",
    options=GPT2Options,
    build=_build,
    flops=_flops,
    residual_projections=("proj.weight",),
    check=_check,
    in_paper=True,
    about="GPT-2: causal multi-head self-attention",
)
