"""Model FLOPs per token, counted the standard way (for throughput and MFU reports).

A multiply-add is 2 FLOPs; a training step (forward + backward) costs 3x the
forward pass (the backward computes gradients for inputs and weights, each
as costly as the forward). Per token, forward:

* every weight matrix m x n outside the mixers: 2 m n (the MLPs, adapters,
  the tied output head d_embed x vocab);
* each layer's mixer: its family's own count (``Mixer.flops`` in
  :mod:`lolameme.models.registry`), e.g. attention's projections plus 4 T d
  for the scores QK^T and the weighted sum of V over the whole T x T matrix
  (PaLM's convention; a causal kernel skips about half, which this count does
  not credit), Hyena's projections plus its FFT long convolutions, Mamba's
  projections plus its selective scan.

Embedding lookups, LayerNorms, GELUs and softmax are left out, as usual.
"""

from __future__ import annotations

from lolameme.models.config import ModelConfig
from lolameme.models.registry import get_mixer


def forward_flops_per_token(config: ModelConfig, seq_len: int, batch_size: int = 1) -> float:
    """Forward FLOPs per token for sequences of length ``seq_len`` (see the module docstring)."""
    flops = 0.0
    width = config.d_embed
    for layer in config.layer_specs:
        if layer.width != width:
            flops += 2 * width * layer.width  # adapter
        d = layer.width
        options = config.options(layer.kind)
        flops += get_mixer(layer.kind).flops(d, options, config, seq_len, batch_size)
        flops += 2 * 2 * options.mlp_ratio * d * d
        width = d
    if width != config.d_embed:
        flops += 2 * width * config.d_embed
    flops += 2 * config.d_embed * config.vocab_size  # tied output head
    return flops


def training_flops_per_token(config: ModelConfig, seq_len: int, batch_size: int = 1) -> float:
    """Forward + backward FLOPs per token: 3x the forward."""
    return 3 * forward_flops_per_token(config, seq_len, batch_size)
