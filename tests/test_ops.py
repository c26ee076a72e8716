"""FIR resampling and bias/activation against analytic expectations."""

from __future__ import annotations

import math

import torch

from stylegan_edit.generators.ops import bias_act, downsample2d, setup_filter, upfirdn2d, upsample2d

F = setup_filter([1, 3, 3, 1])


def test_filter_is_normalised_outer_product() -> None:
    expected = torch.tensor([1.0, 3, 3, 1])
    assert torch.allclose(F, torch.outer(expected, expected) / 64)
    assert math.isclose(F.sum().item(), 1.0, rel_tol=1e-6)


def test_impulse_response_is_the_filter() -> None:
    x = torch.zeros(1, 1, 7, 7)
    x[0, 0, 3, 3] = 1
    f = torch.arange(16, dtype=torch.float32).reshape(4, 4)
    y = upfirdn2d(x, f, padding=(2, 1, 2, 1))
    assert y.shape == (1, 1, 7, 7)
    # A true convolution places the filter unflipped around the impulse.
    assert torch.equal(y[0, 0, 2:6, 2:6], f)
    y_flip = upfirdn2d(x, f, padding=(2, 1, 2, 1), flip_filter=True)
    assert torch.equal(y_flip[0, 0, 2:6, 2:6], f.flip([0, 1]))


def test_upsample_keeps_constants_and_doubles_size() -> None:
    x = torch.full((2, 3, 5, 5), 0.7)
    y = upsample2d(x, F)
    assert y.shape == (2, 3, 10, 10)
    # Away from the zero-padded border the FIR upsampler reproduces a constant exactly.
    assert torch.allclose(y[:, :, 2:-2, 2:-2], torch.full_like(y[:, :, 2:-2, 2:-2], 0.7), atol=1e-6)


def test_upsample_interpolates_a_linear_ramp() -> None:
    ramp = torch.arange(8, dtype=torch.float32).reshape(1, 1, 1, 8).repeat(1, 1, 8, 1)
    y = upsample2d(ramp, F)
    inner = y[0, 0, 4, 3:-3]
    steps = inner[1:] - inner[:-1]
    # The [1,3,3,1] filter is linear interpolation at half-pixel offsets: steps of exactly 0.5.
    assert torch.allclose(steps, torch.full_like(steps, 0.5), atol=1e-5)


def test_downsample_of_upsample_recovers_smooth_signal() -> None:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 16), torch.linspace(0, 1, 16), indexing="ij")
    x = (torch.sin(2 * yy) + torch.cos(3 * xx))[None, None]
    y = downsample2d(upsample2d(x, F), F)
    assert y.shape == x.shape
    assert (y - x)[..., 3:-3, 3:-3].abs().max() < 0.02


def test_downsample_averages_constants_and_halves_size() -> None:
    x = torch.full((1, 2, 8, 8), -1.5)
    y = downsample2d(x, F)
    assert y.shape == (1, 2, 4, 4)
    assert torch.allclose(y[:, :, 1:-1, 1:-1], torch.full((1, 2, 2, 2), -1.5))


def test_bias_act_lrelu_gain_and_clamp() -> None:
    x = torch.tensor([[-2.0, 0.5], [3.0, 100.0]])
    y = bias_act(x, torch.tensor([1.0, 0.0]), activation="lrelu", clamp=10.0)
    expected = torch.tensor([[-0.2, 0.5], [4.0, 100.0]]) * math.sqrt(2)
    assert torch.allclose(y, expected.clamp(-10, 10))


def _naive_upfirdn(x: torch.Tensor, f: torch.Tensor, up: int, pad: tuple[int, int], gain: float) -> torch.Tensor:
    """Zero insertion, padding and a true convolution written out with explicit loops (the definition)."""
    n, c, h, w = x.shape
    u = torch.zeros(n, c, h * up, w * up)
    u[:, :, ::up, ::up] = x
    u = torch.nn.functional.pad(u, [pad[0], pad[1], pad[0], pad[1]])
    k = f.shape[0]
    out_h, out_w = u.shape[2] - k + 1, u.shape[3] - k + 1
    y = torch.zeros(n, c, out_h, out_w)
    for i in range(k):
        for j in range(k):
            # true convolution: output (p, q) takes u[p + i, q + j] * f[k-1-i, k-1-j]
            y += u[:, :, i : i + out_h, j : j + out_w] * f[k - 1 - i, k - 1 - j]
    return y * gain


def test_upsampling_matches_the_definition_for_asymmetric_filters() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 6)
    f = torch.rand(4, 4)  # asymmetric, so a wrong flip or offset would show
    for pad in [(2, 1), (1, 1), (3, 0)]:
        expected = _naive_upfirdn(x, f, 2, pad, 4.0)
        got = upfirdn2d(x, f, up=2, padding=(pad[0], pad[1], pad[0], pad[1]), gain=4.0)
        assert got.shape == expected.shape
        assert torch.allclose(got, expected, atol=1e-5), pad
        flipped = upfirdn2d(
            x, f.flip([0, 1]), up=2, padding=(pad[0], pad[1], pad[0], pad[1]), gain=4.0, flip_filter=True
        )
        assert torch.allclose(flipped, expected, atol=1e-5), pad
