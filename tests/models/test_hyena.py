"""The Hyena operator against definitions written out plainly (float64)."""

from __future__ import annotations

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


@pytest.mark.parametrize("taps", [1, 3, 5])
def test_short_filter_equals_a_grouped_causal_conv1d(taps):
    from lolameme.models.hyena import causal_depthwise_conv

    generator = torch.Generator().manual_seed(taps)
    u = torch.randn(2, 6, 10, generator=generator, dtype=torch.float64)
    weight = torch.randn(6, taps, generator=generator, dtype=torch.float64)
    bias = torch.randn(6, generator=generator, dtype=torch.float64)
    expected = torch.nn.functional.conv1d(u, weight[:, None, :], bias, padding=taps - 1, groups=6)[..., :10]
    torch.testing.assert_close(causal_depthwise_conv(u, weight, bias), expected, rtol=1e-12, atol=1e-12)
