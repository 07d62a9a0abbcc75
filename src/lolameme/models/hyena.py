"""The Hyena operator (Poli et al. 2023, "Hyena Hierarchy"), the attention-free mixer.

Reading order, as data flows:

1. ``in_proj`` maps the width-D input to (order + 1) streams of width D.
2. A depthwise causal convolution of width ``short_filter`` (3) mixes each
   stream with its two predecessors in time.
3. The streams are split into gates x_0 .. x_{N-1} and a value v.
4. The *implicit long filter*: for each of the N - 1 long convolutions and
   each channel, a filter as long as the sequence, produced by a small MLP
   with sine activations from positional features [t, cos, sin] and
   multiplied by an exponential decay window. Its parameter count does not
   grow with the sequence length (except the positional features, which the
   reference registers as a parameter and we count likewise, frozen).
5. The order-N gated recurrence: z = v; for each filter h_n:
   z = h_n * (x_n . z) + skip_n . (x_n . z)   (* = causal long convolution,
   computed by FFT padded to 2L); finally y = x_0 . z.
6. ``out_proj`` maps back to width D.

Gates are applied in the order x_{N-1}, ..., x_1 and then x_0, as the
reference implementation does. The long convolution runs in float32 (or
float64) even under bf16 autocast, since FFTs in bf16 lose too much.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn

from lolameme.models.registry import Mixer


def fft_causal_conv(u: torch.Tensor, filters: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """Causal long convolution y[t] = sum_{s<=t} filters[:, s] u[..., t-s] + skip * u[..., t].

    u: [B, D, L]; filters: [D, L]; skip: [D]. Zero padding to 2L makes the
    FFT's circular convolution equal the linear one over the first L outputs.
    """
    seq_len = u.shape[-1]
    compute_dtype = torch.promote_types(u.dtype, torch.float32)
    u_c, filters_c = u.to(compute_dtype), filters.to(compute_dtype)
    fft_len = 2 * seq_len
    spectrum = torch.fft.rfft(u_c, n=fft_len) * torch.fft.rfft(filters_c, n=fft_len)
    y = torch.fft.irfft(spectrum, n=fft_len)[..., :seq_len]
    return (y + u_c * skip.to(compute_dtype)[:, None]).to(u.dtype)


def causal_depthwise_conv(u: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """y[:, c, t] = bias[c] + sum_j weight[c, j] u[:, c, t - (k - 1) + j]  (zero before t = 0).

    u: [B, C, L]; weight: [C, k]; bias: [C]. Two equal computations, chosen by speed (forward +
    backward, measured on a 2-core AMD EPYC, [8, 432, 512]): with one CPU thread, or on a GPU,
    the grouped ``conv1d`` (80 ms against 131 ms for the shifted sums); with several CPU threads,
    k shifted multiply-adds, since oneDNN's depthwise backward then collapses (4.7 s against 0.76 s).
    """
    k, seq_len = weight.shape[1], u.shape[-1]
    if u.device.type != "cpu" or torch.get_num_threads() == 1:
        return F.conv1d(u, weight[:, None, :], bias, padding=k - 1, groups=u.shape[1])[..., :seq_len]
    padded = F.pad(u, (k - 1, 0))
    y = bias[:, None] + weight[:, 0, None] * padded[..., :seq_len]
    for tap in range(1, k):
        y = y + weight[:, tap, None] * padded[..., tap : tap + seq_len]
    return y


def hyena_recurrence(
    value: torch.Tensor,
    gates: list[torch.Tensor],
    filters: torch.Tensor,
    skips: torch.Tensor,
    dropout: nn.Module | None = None,
) -> torch.Tensor:
    """The order-N recurrence: N gates [B, D, L], N - 1 filters [N-1, D, L] and skips [N-1, D]."""
    z = value
    for filter_index, gate in enumerate(reversed(gates[1:])):
        gated = z * gate
        if dropout is not None:
            gated = dropout(gated)
        z = fft_causal_conv(gated, filters[filter_index], skips[filter_index])
    return z * gates[0]


def positional_features(max_len: int, emb_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The filter MLP's input: [t, cos(f_k w), -sin(f_k w)] per position, and t itself.

    t runs from 0 to 1 over the context; w = 2 pi pos / max_len; the
    (emb_dim - 1) / 2 frequencies f_k are evenly spaced in [1e-4, bands - 1].
    Returns z [max_len, emb_dim] and t [max_len, 1].
    """
    bands = (emb_dim - 1) // 2
    t = torch.linspace(0, 1, max_len)[:, None]
    angle = 2 * math.pi * torch.arange(max_len, dtype=torch.float32)[:, None] / max_len
    freqs = torch.linspace(1e-4, bands - 1, bands)[None, :]
    z = torch.cat([t, torch.cos(freqs * angle), -torch.sin(freqs * angle)], dim=-1)
    return z, t


def decay_rates(channels: int, fast_decay_pct: float = 0.3, slow_decay_pct: float = 1.5, target: float = 1e-2,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Per-channel rates of the exponential window exp(-rate * t), t in [0, 1].

    Channels range from decaying to ``target`` after ``slow_decay_pct`` of the
    context to decaying to it after ``fast_decay_pct`` (the reference values).
    Computed in ``dtype`` itself, so a float64 model's window is exact to float64.
    """
    slowest = -math.log(target) / slow_decay_pct
    fastest = -math.log(target) / fast_decay_pct
    return torch.linspace(slowest, fastest, channels, dtype=dtype)


class ImplicitFilter(nn.Module):
    """Generates ``channels`` long filters of any length up to ``max_len`` from a sine MLP."""

    def __init__(self, channels: int, max_len: int, emb_dim: int, hidden: int, sine_freq: float, inner_layers: int = 2):
        super().__init__()
        self.channels = channels
        self.max_len = max_len
        # A parameter in the reference (trained at lr 1e-5, i.e. barely); frozen here.
        self.pos_features = nn.Parameter(positional_features(max_len, emb_dim)[0], requires_grad=False)
        sizes = [emb_dim] + [hidden] * (inner_layers + 1)
        self.hidden = nn.ModuleList(nn.Linear(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:]))
        self.sine_freq = nn.Parameter(torch.full((hidden,), float(sine_freq)))  # one, shared by every sine
        self.out = nn.Linear(hidden, channels, bias=False)
        self.skip = nn.Parameter(torch.randn(channels))  # the "bias" D of y = h * u + D u

    def forward(self, seq_len: int) -> torch.Tensor:
        """Filters [channels, seq_len] in float32 (autocast is switched off: filters are small)."""
        z = self.pos_features[:seq_len]
        with torch.autocast(device_type=z.device.type, enabled=False):
            h = z
            for linear in self.hidden:
                h = torch.sin(self.sine_freq * linear(h))
            # The window needs t and the rates, both cheap to recompute; keeping them out of the
            # module's state lets a model be built on the meta device and loaded by assignment.
            t = torch.linspace(0, 1, self.max_len, device=z.device, dtype=z.dtype)[:seq_len, None]
            rates = decay_rates(self.channels, dtype=z.dtype).to(z.device)
            h = self.out(h) * torch.exp(-t * rates)
        return h.transpose(0, 1)


class HyenaOperator(nn.Module):
    """Hyena mixer of width ``width`` and ``order`` N (N gates, N - 1 long convolutions)."""

    def __init__(
        self,
        width: int,
        max_len: int,
        order: int = 2,
        filter_order: int = 64,
        pos_emb_dim: int = 33,
        short_filter: int = 3,
        sine_freq: float = 14.0,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.width = width
        self.order = order
        streams = (order + 1) * width
        self.in_proj = nn.Linear(width, streams)
        # Depthwise causal filter of width short_filter per stream; PyTorch's Conv1d initialisation.
        bound = 1 / math.sqrt(short_filter)
        self.short_conv_weight = nn.Parameter(torch.empty(streams, short_filter).uniform_(-bound, bound))
        self.short_conv_bias = nn.Parameter(torch.empty(streams).uniform_(-bound, bound))
        self.filter = ImplicitFilter((order - 1) * width, max_len, pos_emb_dim, filter_order, sine_freq)
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(width, width)  # residual projection (scaled at init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq_len = x.shape[1]
        u = self.in_proj(x).transpose(1, 2)  # [B, (N+1)D, L]
        u = causal_depthwise_conv(u, self.short_conv_weight, self.short_conv_bias)
        *gates, value = u.split(self.width, dim=1)
        filters = self.filter(seq_len).view(self.order - 1, self.width, seq_len)
        skips = self.filter.skip.view(self.order - 1, self.width)
        y = hyena_recurrence(value, gates, filters, skips, self.dropout)
        return self.out_proj(y.transpose(1, 2))


# -- the hyena mixer family (lolameme.models.registry) ---------------------------------
class HyenaOptions(BaseModel):
    """Options of the ``hyena`` family (the paper's values as defaults); the block's MLP is 2x."""

    model_config = ConfigDict(extra="forbid")
    mlp_ratio: int = Field(default=2, ge=1)
    order: int = 2
    filter_order: int = Field(default=64, ge=1)
    pos_emb_dim: int = Field(default=33, ge=3)
    short_filter: int = Field(default=3, ge=1)
    sine_freq: float = 14.0

    @field_validator("order")
    @classmethod
    def _order(cls, value: int) -> int:
        if value < 2:
            raise ValueError(f"order must be at least 2 (N gates, N - 1 long convolutions), got {value}")
        return value

    @field_validator("pos_emb_dim")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"pos_emb_dim must be odd (one time feature plus cos/sin pairs), got {value}")
        return value


def _build(width: int, options: HyenaOptions, config: Any) -> HyenaOperator:
    return HyenaOperator(
        width,
        max_len=config.max_seq_len,
        order=options.order,
        filter_order=options.filter_order,
        pos_emb_dim=options.pos_emb_dim,
        short_filter=options.short_filter,
        sine_freq=options.sine_freq,
        dropout=config.dropout,
    )


def _flops(width: int, options: HyenaOptions, config: Any, seq_len: int, batch_size: int) -> float:
    """Projections, the short convolution, N - 1 FFT long convolutions (two real FFTs of length 2T,
    2.5 n log2 n each, the spectral product and skip), the N gates, and the filter MLP and filter
    FFTs shared by the batch."""
    d, order, hidden = width, options.order, options.filter_order
    log_fft = math.log2(2 * seq_len)
    flops = 2 * ((order + 1) * d * d + d * d)
    flops += 2 * options.short_filter * (order + 1) * d
    flops += (order - 1) * d * (10 * log_fft + 6 + 2) + order * d
    filter_mlp = 2 * (options.pos_emb_dim * hidden + 2 * hidden * hidden + hidden * (order - 1) * d)
    filter_fft = (order - 1) * d * 5 * log_fft
    return flops + (filter_mlp + filter_fft) / batch_size


MIXER = Mixer(
    label="Hyena",
    name="hyena",
    options=HyenaOptions,
    build=_build,
    flops=_flops,
    residual_projections=("out_proj.weight",),
    in_paper=True,
    about="Hyena: gated implicit long convolutions (Poli et al. 2023)",
)
