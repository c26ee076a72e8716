"""The ADA augmentation pipeline (arXiv:2006.06676): each op at p = 1 does what it says, p = 0 is the identity, the
geometric resampling is exact where it can be and low-pass where it cannot, and everything is differentiable."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from stylegan_edit.training.augment import PIPELINES, AugmentPipe, augment_pipeline
from stylegan_edit.training.warp import blit, is_blit, lowpass_warp, rotate2d, sym6_lowpass, translate2d, upsample_delay

pytestmark = pytest.mark.usefixtures("one_thread")


def images(n: int = 32, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand([n, 3, size, size], generator=torch.Generator().manual_seed(seed)) * 2 - 1


def seeded(seed: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_p_zero_returns_the_input_itself() -> None:
    x = images()
    pipe = augment_pipeline("bgc", p=0.0)
    assert pipe(x, seeded()) is x


def test_xflip_flips_exactly_and_half_the_time() -> None:
    x = images(64)
    out = AugmentPipe(p=1.0, xflip=1)(x, seeded())
    flipped = [bool(torch.equal(o, i.flip(2))) for o, i in zip(out, x, strict=True)]
    kept = [bool(torch.equal(o, i)) for o, i in zip(out, x, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 16 < sum(flipped) < 48


def test_rotate90_rotates_by_quarter_turns_and_uses_all_four() -> None:
    x = images(64)
    out = AugmentPipe(p=1.0, rotate90=1)(x, seeded())
    turns = []
    for o, i in zip(out, x, strict=True):
        matches = [k for k in range(4) if torch.equal(o, torch.rot90(i, k, dims=(1, 2)))]
        assert len(matches) == 1
        turns.append(matches[0])
    assert set(turns) == {0, 1, 2, 3}


def test_integer_translation_shifts_exactly_with_mirrored_borders() -> None:
    x = images(16, size=32)
    pipe = AugmentPipe(p=1.0, xint=1)
    g = pipe.geometry(len(x), 32, 32, seeded(), x)
    out = pipe(x, seeded())
    shifts = g[:, :2, 2]
    assert (shifts.abs() > 0).any() and torch.equal(shifts, shifts.round()) and shifts.abs().max() <= 4
    for o, i, (tx, ty) in zip(out, x, shifts.long().tolist(), strict=True):
        padded = F.pad(i[None], [4, 4, 4, 4], mode="reflect")[0]
        assert torch.equal(o, padded[:, 4 + ty : 4 + ty + 32, 4 + tx : 4 + tx + 32])


def test_colour_matrix_is_the_identity_at_zero_strength() -> None:
    x = images()
    pipe = AugmentPipe(
        p=1.0,
        brightness=1,
        contrast=1,
        hue=1,
        saturation=1,
        brightness_std=0,
        contrast_std=0,
        hue_max=0,
        saturation_std=0,
    )
    assert torch.allclose(pipe.color(len(x), seeded(), x), torch.eye(4).expand(len(x), 4, 4), atol=1e-6)
    assert torch.allclose(pipe(x, seeded()), x, atol=1e-6)


def test_brightness_adds_one_offset_per_image_and_luma_flip_is_an_involution() -> None:
    x = images()
    shifted = AugmentPipe(p=1.0, brightness=1)(x, seeded()) - x
    offsets = shifted.flatten(1)
    assert torch.allclose(offsets, offsets[:, :1].expand_as(offsets), atol=1e-6)
    assert offsets[:, 0].std() > 0.1  # brightness_std 0.2
    flip = AugmentPipe(p=1.0, lumaflip=1).color(len(x), seeded(), x)
    assert torch.allclose(flip @ flip, torch.eye(4).expand_as(flip), atol=1e-6)
    assert (torch.linalg.det(flip) < 0).any(), "some images must be flipped"


def test_general_geometry_is_resampled_and_blits_are_copied() -> None:
    x = images(64, size=16)
    pipe = augment_pipeline("bg", p=0.5)
    g = pipe.geometry(len(x), 16, 16, seeded(), x)
    exact = is_blit(g, 16, 16)
    assert exact.any() and (~exact).any()
    out = pipe(x, seeded())
    assert torch.equal(out[exact], blit(x[exact], g[exact]))
    assert not torch.allclose(out[~exact], blit(x[~exact], g[~exact].round()))


def test_lowpass_warp_is_exact_for_identity_and_shifts_and_filters_a_rotated_checkerboard() -> None:
    lowpass = sym6_lowpass()
    delay = upsample_delay(lowpass)
    x = images(4, size=32)
    identity = torch.eye(3).expand(4, 3, 3)
    assert torch.allclose(lowpass_warp(x, identity, lowpass, delay), x, atol=1e-5)
    t = torch.tensor([3.0, -2.0, 5.0, 0.0])
    shift = translate2d(t, -t)
    assert torch.allclose(lowpass_warp(x, shift, lowpass, delay), blit(x, shift), atol=1e-5)
    i = torch.arange(32)
    checkerboard = ((i[:, None] + i[None, :]) % 2 * 2 - 1).float().expand(1, 3, 32, 32)
    turned = lowpass_warp(checkerboard, rotate2d(torch.tensor([math.pi / 4])), lowpass, delay)
    assert turned[..., 8:-8, 8:-8].std() < 0.1  # plain bilinear sampling leaves std ~0.3 of aliased pattern
    ys, xs = torch.meshgrid(i - 15.5, i - 15.5, indexing="ij")
    blob = torch.exp(-(xs**2 + ys**2) / 32).expand(1, 3, 32, 32)  # round and centred: rotations keep it
    assert torch.allclose(lowpass_warp(blob, rotate2d(torch.tensor([0.3])), lowpass, delay), blob, atol=5e-3)


def test_the_pipeline_is_differentiable() -> None:
    pipe = augment_pipeline("bgc", p=1.0).double()
    x = images(2, size=8).double().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: pipe(t, seeded(3)), (x,), eps=1e-6, atol=1e-5, fast_mode=True)
    y = images(8, size=16).requires_grad_(True)
    weights = torch.randn(3, 3, 3, 3)
    (grad,) = torch.autograd.grad(F.conv2d(augment_pipeline("bgc", p=0.6)(y, seeded()), weights).square().sum(), y)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_named_pipelines_match_the_cli_and_refuse_unknown_names() -> None:
    from stylegan_edit.cli.train_augment import AUGMENT_MODES, AUGPIPES
    from stylegan_edit.training.options import AUGMENT_MODES as OPTION_MODES

    assert set(AUGPIPES) == set(PIPELINES) and set(AUGMENT_MODES) == set(OPTION_MODES)
    assert set(PIPELINES["bgc"]) == set(PIPELINES["bg"]) | set(PIPELINES["color"])
    assert set(PIPELINES["bg"]) == set(PIPELINES["blit"]) | set(PIPELINES["geom"])
    with pytest.raises(ValueError, match="unknown augmentation pipeline 'bgcfnc'"):
        augment_pipeline("bgcfnc")


def test_grey_images_get_the_colour_ops_mean_response() -> None:
    x = images(8)[:, :1]
    out = AugmentPipe(p=1.0, brightness=1, contrast=1)(x, seeded())
    assert out.shape == x.shape and not torch.allclose(out, x)
    with pytest.raises(ValueError, match="3 or 1"):
        augment_pipeline("bgc", p=0.5)(images(2)[:, :2])
