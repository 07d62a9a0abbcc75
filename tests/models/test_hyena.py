"""The Hyena operator against definitions written out plainly (float64)."""

from __future__ import annotations

import math

import pytest
import torch

from lolameme.models.hyena import HyenaOperator, fft_causal_conv, hyena_recurrence


def direct_causal_conv(u: torch.Tensor, filters: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """y[b, d, t] = sum_{s=0..t} filters[d, s] * u[b, d, t - s] + skip[d] * u[b, d, t], as loops."""
    batch, channels, length = u.shape
    y = torch.zeros_like(u)
    for t in range(length):
        for s in range(t + 1):
            y[:, :, t] += filters[:, s] * u[:, :, t - s]
    return y + skip[:, None] * u


@pytest.mark.parametrize("length", [1, 2, 7, 16, 33, 100])
def test_fft_convolution_equals_direct_causal_convolution(length):
    generator = torch.Generator().manual_seed(length)
    u = torch.randn(2, 3, length, generator=generator, dtype=torch.float64)
    filters = torch.randn(3, length, generator=generator, dtype=torch.float64)
    skip = torch.randn(3, generator=generator, dtype=torch.float64)
    got = fft_causal_conv(u, filters, skip)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, direct_causal_conv(u, filters, skip), rtol=1e-10, atol=1e-10)


def test_fft_convolution_is_not_circular():
    # A wrapped-around (circular) convolution would put the last input into the first output.
    u = torch.zeros(1, 1, 8, dtype=torch.float64)
    u[..., -1] = 1.0
    filters = torch.ones(1, 8, dtype=torch.float64)
    y = fft_causal_conv(u, filters, torch.zeros(1, dtype=torch.float64))
    assert torch.allclose(y[..., :-1], torch.zeros(7, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("order", [2, 3, 4])
def test_recurrence_equals_a_plain_loop(order):
    generator = torch.Generator().manual_seed(order)
    batch, channels, length = 2, 3, 11
    gates = [torch.randn(batch, channels, length, generator=generator, dtype=torch.float64) for _ in range(order)]
    value = torch.randn(batch, channels, length, generator=generator, dtype=torch.float64)
    filters = torch.randn(order - 1, channels, length, generator=generator, dtype=torch.float64)
    skips = torch.randn(order - 1, channels, generator=generator, dtype=torch.float64)

    # z = v; z = h_n * (x_n z) + skip_n (x_n z) for n = N-1 .. 1 (filter 0 first); y = x_0 z.
    z = value.clone()
    for step, gate_index in enumerate(range(order - 1, 0, -1)):
        gated = gates[gate_index] * z
        z = direct_causal_conv(gated, filters[step], skips[step])
    expected = gates[0] * z

    got = hyena_recurrence(value, gates, filters, skips)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


def test_operator_output_is_causal_and_filters_fit_any_length_up_to_the_context():
    torch.manual_seed(0)
    operator = HyenaOperator(width=8, max_len=32, order=3, filter_order=16).double()
    x = torch.randn(2, 20, 8, dtype=torch.float64)
    y = operator(x)
    assert y.shape == x.shape
    changed = x.clone()
    changed[:, 12:] = torch.randn(2, 8, 8, dtype=torch.float64)
    y_changed = operator(changed)
    torch.testing.assert_close(y_changed[:, :12], y[:, :12], rtol=0, atol=1e-12)
    assert not torch.allclose(y_changed[:, 12:], y[:, 12:])
    # The filter for a shorter sequence is the prefix of the longer one (same positions, same decay).
    torch.testing.assert_close(operator.filter(5), operator.filter(32)[:, :5])


def test_filter_decays_along_time():
    torch.manual_seed(0)
    operator = HyenaOperator(width=16, max_len=256)
    filters = operator.filter(256).detach().abs()
    assert filters[:, -32:].mean() < 0.1 * filters[:, :32].mean()


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("taps", [1, 3, 5])
def test_short_filter_is_a_causal_depthwise_convolution(taps, threads):
    from lolameme.models.hyena import causal_depthwise_conv

    generator = torch.Generator().manual_seed(taps)
    u = torch.randn(2, 6, 10, generator=generator, dtype=torch.float64)
    weight = torch.randn(6, taps, generator=generator, dtype=torch.float64)
    bias = torch.randn(6, generator=generator, dtype=torch.float64)
    expected = bias[None, :, None].expand(2, 6, 10).clone()
    for t in range(10):
        for j in range(taps):
            if t - (taps - 1) + j >= 0:
                expected[:, :, t] += weight[:, j] * u[:, :, t - (taps - 1) + j]
    before = torch.get_num_threads()
    torch.set_num_threads(threads)  # one thread: the grouped conv1d; several: the shifted sums
    try:
        got = causal_depthwise_conv(u, weight, bias)
    finally:
        torch.set_num_threads(before)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


# -- the whole operator against the Hyena paper's equations -----------------------------------
def paper_hyena(op: HyenaOperator, u: torch.Tensor, gate_after_conv: bool = False) -> torch.Tensor:
    """Hyena of order 2 from the paper's equations, one number at a time (float64 loops).

    Projection and short filter: q[t] = W u[t] + b, then s_c[t] = b_c + sum_j w_c[j] q_c[t - k + 1 + j].
    Implicit filter: h_c(t) = exp(-alpha_c t/(L-1)) * (W_o sin(w (W_3 sin(w (W_2 sin(w (W_1 z_t + b_1)) + b_2))
    + b_3)))_c, with z_t = [t/(L-1), cos(2 pi f_k t / L), -sin(2 pi f_k t / L)], f_k evenly spaced in
    [1e-4, K - 1], alpha evenly spaced from ln(100)/1.5 to ln(100)/0.3. Recurrence, gating order as the
    reference runs it: g = x1 . v; z[t] = sum_{s<=t} h(s) g[t - s] + D g[t]; y = x0 . z; out = W_out y + b_out.
    ``gate_after_conv`` applies x1 after the convolution instead (a different operator; the test shows
    the comparison can fail).
    """
    batch, length, width = u.shape
    k = op.short_conv_weight.shape[1]
    q = u @ op.in_proj.weight.T + op.in_proj.bias  # [B, L, 3D]
    s = torch.zeros_like(q)
    for t in range(length):
        for j in range(k):
            source = t - (k - 1) + j
            if source >= 0:
                s[:, t] += op.short_conv_weight[:, j] * q[:, source]
        s[:, t] += op.short_conv_bias
    x0, x1, v = s[..., :width], s[..., width:2 * width], s[..., 2 * width:]

    f = op.filter
    h = paper_filters(op, length)
    gated = v if gate_after_conv else x1 * v
    z = torch.zeros_like(v)
    for t in range(length):
        for tau in range(t + 1):
            z[:, t] += h[:, tau] * gated[:, t - tau]
        z[:, t] += f.skip * gated[:, t]
    if gate_after_conv:
        z = x1 * z
    y = x0 * z
    return y @ op.out_proj.weight.T + op.out_proj.bias


def paper_filters(op: HyenaOperator, length: int) -> torch.Tensor:
    """The implicit filters h_c(t), t < length: the sine MLP of the features times the decay window."""
    f, width = op.filter, op.width
    max_len, emb_dim = f.max_len, f.pos_features.shape[1]
    slowest, fastest = math.log(100) / 1.5, math.log(100) / 0.3
    alphas = [slowest + (fastest - slowest) * c / (width - 1) for c in range(width)]
    h = torch.zeros(width, length, dtype=torch.float64)
    features = _paper_features(max_len, emb_dim)
    for t in range(length):
        a = features[t]
        for linear in f.hidden:
            a = torch.sin(f.sine_freq * (linear.weight @ a + linear.bias))
        response = f.out.weight @ a
        for c in range(width):
            h[c, t] = math.exp(-alphas[c] * t / (max_len - 1)) * response[c]
    return h


def test_operator_matches_the_paper_equations_in_float64():
    torch.manual_seed(3)
    op = HyenaOperator(width=6, max_len=24, order=2, filter_order=8, pos_emb_dim=5).double()
    with torch.no_grad():
        for name, parameter in op.named_parameters():
            if parameter.requires_grad:  # random, far from init, so every term matters
                parameter.copy_(torch.randn_like(parameter) * (0.05 if "sine_freq" in name else 0.5)
                                + (1.0 if "sine_freq" in name else 0.0))
        # the positional features exactly, in float64 (the module computes them in float32 at build time)
        op.filter.pos_features.copy_(_paper_features(op.filter.max_len, op.filter.pos_features.shape[1]))
    u = torch.randn(2, 17, 6, dtype=torch.float64)
    with torch.no_grad():
        expected = paper_hyena(op, u)
        got = op(u)
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)
        assert (paper_hyena(op, u, gate_after_conv=True) - expected).abs().max() > 1e-3
        # the filters alone, decay window included
        torch.testing.assert_close(op.filter(17), paper_filters(op, 17), rtol=1e-10, atol=1e-12)


def _paper_features(max_len: int, emb_dim: int) -> torch.Tensor:
    """z_t = [t/(L-1), cos(2 pi f_k t / L), -sin(2 pi f_k t / L)] with f_k evenly spaced in [1e-4, K - 1]."""
    bands = (emb_dim - 1) // 2
    freqs = [1e-4 + (bands - 1 - 1e-4) * i / (bands - 1) for i in range(bands)]
    rows = []
    for t in range(max_len):
        angle = 2 * math.pi * t / max_len
        rows.append([t / (max_len - 1)] + [math.cos(fk * angle) for fk in freqs] + [-math.sin(fk * angle) for fk in freqs])
    return torch.tensor(rows, dtype=torch.float64)
