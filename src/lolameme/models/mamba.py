"""Mamba (Gu & Dao 2023), a selective state-space mixer, in pure PyTorch. Not a paper model.

Reading order, as data flows (width D, inner width E = expand * D, state N):

1. ``in_proj`` maps x to two streams of width E: the SSM input u and the gate z.
2. A depthwise causal convolution of width ``d_conv`` (4) mixes u with its
   three predecessors in time; then SiLU.
3. Selection: ``x_proj`` reads the time step's input and produces, *per
   token*, a low-rank time step (rank R = ceil(D / 16)), B [N] and C [N];
   ``dt_proj`` lifts the time step to E channels, and Δ = softplus(.) > 0.
4. The selective scan, per channel e and state n, with A = -exp(A_log) < 0:
   h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t,   y_t = C_t · h_t + D u_t.
5. The gated output: out_proj(y * SiLU(z)).

The scan is computed in chunks (:func:`chunked_scan`): inside a chunk of L
steps every state is a cumulative sum, h_t = e^{c_t} (h_0 + Σ_{s≤t} e^{-c_s}
Δ_s B_s u_s) with c the running sum of Δ A, so L steps cost a few tensor ops
instead of L; chunks are then chained by a loop over T / L. The chunk length
is cut where needed so that e^{-c} stays far from overflow. On a 2-core CPU
this is several times faster than the step-by-step loop (:func:`scan_loop`,
kept as the reference; see docs/models.md for the measurement).

Initialisation follows the reference: A_log = log(1..N) per channel (S4D-real),
D = 1, Δ's bias the inverse softplus of time steps log-uniform in
[0.001, 0.1], ``dt_proj`` weights uniform in ±R^-1/2. The block around it has
no MLP (``mlp_ratio`` 0), as in the paper's Mamba language model.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from lolameme.models.hyena import causal_depthwise_conv
from lolameme.models.registry import Mixer

# Largest cumulative decay (in nats) inside one chunk: e^60 is far below float32's 3e38.
_MAX_CHUNK_DECAY = 60.0


def scan_loop(dA: torch.Tensor, dBu: torch.Tensor) -> torch.Tensor:
    """The recurrence step by step: h_t = exp(dA_t) h_{t-1} + dBu_t, h_{-1} = 0. [B, T, E, N] -> states [B, T, E, N]."""
    decay = dA.exp()
    h = torch.zeros_like(dBu[:, 0])
    states = []
    for t in range(dBu.shape[1]):
        h = decay[:, t] * h + dBu[:, t]
        states.append(h)
    return torch.stack(states, dim=1)


def chunked_scan(delta: torch.Tensor, A: torch.Tensor, dBu: torch.Tensor, chunk: int = 32) -> torch.Tensor:
    """The states of :func:`scan_loop` for dA = delta A, ``chunk`` steps at a time (see the module docstring).

    delta: [B, T, E] (> 0); A: [E, N] (< 0); dBu: [B, T, E, N]. As A does not
    change along time, the running sum of Δ A is the running sum of Δ times A,
    a cumulative sum over [B, T, E] rather than [B, T, E, N].
    """
    batch, seq_len = dBu.shape[:2]
    steepest = float(delta.detach().max() * -A.detach().min()) if delta.numel() else 0.0
    if steepest > 0:
        chunk = min(chunk, int(_MAX_CHUNK_DECAY / steepest))
    chunk = min(chunk, seq_len)
    if chunk <= 1:
        return scan_loop(delta.unsqueeze(-1) * A, dBu)
    n_chunks = -(-seq_len // chunk)
    pad = n_chunks * chunk - seq_len
    if pad:  # zero time step and zero input: padded steps change nothing before them
        delta, dBu = F.pad(delta, (0, 0, 0, pad)), F.pad(dBu, (0, 0, 0, 0, 0, pad))
    c = delta.reshape(batch, n_chunks, chunk, -1).cumsum(dim=2).unsqueeze(-1) * A  # in [-60, 0]
    decay = c.exp()
    within = decay * (dBu.reshape(c.shape) / decay).cumsum(dim=2)  # states from a zero start
    last_state, last_decay = within[:, :, -1], decay[:, :, -1]  # sliced once: one gradient buffer each
    carried, h = [], torch.zeros_like(last_state[:, 0])
    for index in range(n_chunks):
        carried.append(h)
        h = last_state[:, index] + last_decay[:, index] * h
    states = within + decay * torch.stack(carried, dim=1).unsqueeze(2)
    return states.reshape(batch, n_chunks * chunk, *dBu.shape[2:])[:, :seq_len]


def selective_scan(
    u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor, D: torch.Tensor,
    scan: str = "chunked", chunk: int = 32,
) -> torch.Tensor:
    """y_t = C_t · h_t + D u_t. u, delta: [B, T, E]; A: [E, N]; B, C: [B, T, N]; D: [E] -> y [B, T, E]."""
    dBu = (delta * u).unsqueeze(-1) * B.unsqueeze(2)  # [B, T, E, N]
    if scan == "chunked":
        states = chunked_scan(delta, A, dBu, chunk)
    else:
        states = scan_loop(delta.unsqueeze(-1) * A, dBu)
    return torch.einsum("bten,btn->bte", states, C) + u * D


class MambaMixer(nn.Module):
    """One Mamba mixer of width ``width`` (see the module docstring)."""

    def __init__(self, width: int, d_state: int = 16, d_conv: int = 4, expand: int = 2,
                 dt_rank: int | None = None, scan: str = "chunked", chunk: int = 32):
        super().__init__()
        self.inner = expand * width
        self.d_state = d_state
        self.dt_rank = dt_rank or math.ceil(width / 16)
        self.scan, self.chunk = scan, chunk
        self.in_proj = nn.Linear(width, 2 * self.inner, bias=False)
        bound = 1 / math.sqrt(d_conv)  # PyTorch's Conv1d initialisation, as the reference
        self.conv_weight = nn.Parameter(torch.empty(self.inner, d_conv).uniform_(-bound, bound))
        self.conv_bias = nn.Parameter(torch.empty(self.inner).uniform_(-bound, bound))
        self.x_proj = nn.Linear(self.inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.inner, bias=True)
        self.A_log = nn.Parameter(torch.empty(self.inner, d_state))
        self.D = nn.Parameter(torch.empty(self.inner))
        self.A_log._no_weight_decay = True  # as the reference: A and D are not decayed
        self.D._no_weight_decay = True
        self.out_proj = nn.Linear(self.inner, width, bias=False)  # residual projection (scaled at init)
        if not self.D.is_meta:
            self.post_init()

    @torch.no_grad()
    def post_init(self, dt_min: float = 1e-3, dt_max: float = 0.1) -> None:
        """The reference's initialisation of A, D and the time-step projection (run after the stack's)."""
        self.A_log.copy_(torch.log(torch.arange(1, self.d_state + 1, dtype=torch.float32)).expand_as(self.A_log))
        self.D.fill_(1.0)
        std = self.dt_rank ** -0.5
        nn.init.uniform_(self.dt_proj.weight, -std, std)
        dt = torch.exp(torch.rand(self.inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=1e-4)
        self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse of softplus

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, z = self.in_proj(x).chunk(2, dim=-1)  # [B, T, E] each
        u = F.silu(causal_depthwise_conv(u.transpose(1, 2), self.conv_weight, self.conv_bias).transpose(1, 2))
        dt, B, C = self.x_proj(u).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt))
        with torch.autocast(device_type=x.device.type, enabled=False):  # the scan's exponentials in float32
            y = selective_scan(u.float(), delta.float(), -torch.exp(self.A_log.float()), B.float(), C.float(),
                               self.D.float(), self.scan, self.chunk)
        return self.out_proj(y.to(u.dtype) * F.silu(z))


# -- the mamba mixer family (lolameme.models.registry) ---------------------------------
class MambaOptions(BaseModel):
    """Options of the ``mamba`` family (the reference's defaults); blocks have no MLP."""

    model_config = ConfigDict(extra="forbid")
    mlp_ratio: int = Field(default=0, ge=0)
    d_state: int = Field(default=16, ge=1)
    d_conv: int = Field(default=4, ge=1)
    expand: int = Field(default=2, ge=1)
    dt_rank: int | None = Field(default=None, ge=1)  # None: ceil(width / 16)
    scan: Literal["chunked", "loop"] = "chunked"
    chunk: int = Field(default=32, ge=1)


def _build(width: int, options: MambaOptions, config: Any) -> MambaMixer:
    return MambaMixer(width, options.d_state, options.d_conv, options.expand, options.dt_rank, options.scan, options.chunk)


def _flops(width: int, options: MambaOptions, config: Any, seq_len: int, batch_size: int) -> float:
    """The four projections (2 per multiply-add), the short convolution, and the scan: per channel
    and state, Δ A, Δ B u, the state update (a multiply-add) and C · h (a multiply-add), 8 FLOPs."""
    inner, rank = options.expand * width, options.dt_rank or math.ceil(width / 16)
    projections = width * 2 * inner + inner * (rank + 2 * options.d_state) + rank * inner + inner * width
    return 2 * projections + 2 * options.d_conv * inner + 8 * inner * options.d_state


MIXER = Mixer(
    label="Mamba",
    name="mamba",
    options=MambaOptions,
    build=_build,
    flops=_flops,
    residual_projections=("out_proj.weight",),
    about="Mamba: selective state-space model (Gu & Dao 2023); not a paper model",
)
