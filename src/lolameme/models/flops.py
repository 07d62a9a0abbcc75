"""Model FLOPs per token, counted the standard way (for throughput and MFU reports).

A multiply-add is 2 FLOPs; a training step (forward + backward) costs 3x the
forward pass (the backward computes gradients for inputs and weights, each
as costly as the forward). Per token, forward:

* every weight matrix m x n: 2 m n (attention q/k/v/proj, MLPs, Hyena in/out
  projections, adapters, the tied output head d_embed x vocab);
* attention (per GPT-2 layer): 4 T d, the scores QK^T and the weighted sum of
  V over the whole T x T matrix (PaLM's convention; a causal kernel skips about
  half, which this count does not credit);
* Hyena (per layer, width d, order N): the short depthwise convolution
  2 k (N+1) d; each of the N - 1 long convolutions per channel: two real
  FFTs of length 2T (2.5 n log2 n each, 10 log2(2T) per token), the complex
  product (6 per frequency bin, ~6 per token) and the skip term (2); the N
  gates (N d); and, shared by the batch, the filter MLP and the filters' FFT,
  divided by batch x T.

Embedding lookups, LayerNorms, GELUs and softmax are left out, as usual.
"""

from __future__ import annotations

import math

from lolameme.models.config import ModelConfig


def forward_flops_per_token(config: ModelConfig, seq_len: int, batch_size: int = 1) -> float:
    """Forward FLOPs per token for sequences of length ``seq_len`` (see the module docstring)."""
    flops = 0.0
    width = config.d_embed
    log_fft = math.log2(2 * seq_len)
    for layer in config.layer_specs:
        if layer.width != width:
            flops += 2 * width * layer.width  # adapter
        d = layer.width
        if layer.kind == "gpt2":
            flops += 2 * (4 * d * d + 2 * config.gpt2_mlp_ratio * d * d)
            flops += 4 * seq_len * d
        else:
            order, hidden = config.hyena_order, config.hyena_filter_order
            flops += 2 * ((order + 1) * d * d + d * d + 2 * config.hyena_mlp_ratio * d * d)
            flops += 2 * config.hyena_short_filter * (order + 1) * d
            flops += (order - 1) * d * (10 * log_fft + 6 + 2) + order * d
            filter_mlp = 2 * (config.hyena_pos_emb_dim * hidden + 2 * hidden * hidden + hidden * (order - 1) * d)
            filter_fft = (order - 1) * d * 5 * log_fft
            flops += (filter_mlp + filter_fft) / batch_size
        width = d
    if width != config.d_embed:
        flops += 2 * width * config.d_embed
    flops += 2 * config.d_embed * config.vocab_size  # tied output head
    return flops


def training_flops_per_token(config: ModelConfig, seq_len: int, batch_size: int = 1) -> float:
    """Forward + backward FLOPs per token: 3x the forward."""
    return 3 * forward_flops_per_token(config, seq_len, batch_size)
