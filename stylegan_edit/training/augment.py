"""Adaptive discriminator augmentation's pipeline (Karras et al. 2020, arXiv:2006.06676, appendix B): the `bgc`
family of non-leaking augmentations, each applied to each image with probability `multiplier * p`.

Geometric ops (x-flip, 90-degree rotation, integer translation, isotropic scaling, rotation, anisotropic scaling,
fractional translation) are composed into one 3x3 matrix per image and applied once (`training.warp`); colour
ops (brightness, contrast, luma flip, hue rotation, saturation) into one 4x4 matrix. Distributions and
strengths are the paper's (stylegan2-ada-pytorch's defaults); `p = 0` returns the input unchanged.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from stylegan_edit.training.warp import (
    blit,
    is_blit,
    lowpass_warp,
    rotate2d,
    scale2d,
    sym6_lowpass,
    translate2d,
    upsample_delay,
)

GEOMETRIC_OPS = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOR_OPS = ("brightness", "contrast", "lumaflip", "hue", "saturation")
# The named pipelines of stylegan2-ada-pytorch's `train.py` (`--augpipe`): which ops run, each at multiplier 1.
PIPELINES: dict[str, tuple[str, ...]] = {
    "blit": ("xflip", "rotate90", "xint"),
    "geom": ("scale", "rotate", "aniso", "xfrac"),
    "color": COLOR_OPS,
    "bg": GEOMETRIC_OPS,
    "bgc": GEOMETRIC_OPS + COLOR_OPS,
}
LUMA_AXIS = (1 / math.sqrt(3), 1 / math.sqrt(3), 1 / math.sqrt(3), 0.0)


class AugmentPipe(nn.Module):
    """`pipe(images [N, C, H, W], generator) -> [N, C, H, W]`, differentiable in the images (C is 3 or 1).

    Each keyword names an op's probability multiplier (0 disables it); the op runs on an image with probability
    `multiplier * p`. `p` is a buffer that the ADA controller sets (`pipe.p.fill_(...)`). Strengths: `xint_max`
    (fraction of the size), `scale_std`, `aniso_std`, `contrast_std`, `saturation_std` (log2 standard deviations),
    `rotate_max`, `hue_max` (fractions of a full turn), `xfrac_std` (fraction of the size), `brightness_std`.
    """

    p: Tensor

    def __init__(
        self,
        *,
        p: float = 0.0,
        xflip: float = 0.0,
        rotate90: float = 0.0,
        xint: float = 0.0,
        scale: float = 0.0,
        rotate: float = 0.0,
        aniso: float = 0.0,
        xfrac: float = 0.0,
        brightness: float = 0.0,
        contrast: float = 0.0,
        lumaflip: float = 0.0,
        hue: float = 0.0,
        saturation: float = 0.0,
        xint_max: float = 0.125,
        scale_std: float = 0.2,
        rotate_max: float = 1.0,
        aniso_std: float = 0.2,
        xfrac_std: float = 0.125,
        brightness_std: float = 0.2,
        contrast_std: float = 0.5,
        hue_max: float = 1.0,
        saturation_std: float = 1.0,
    ) -> None:
        super().__init__()
        self.register_buffer("p", torch.tensor(float(p)))
        self.multipliers = {
            "xflip": xflip,
            "rotate90": rotate90,
            "xint": xint,
            "scale": scale,
            "rotate": rotate,
            "aniso": aniso,
            "xfrac": xfrac,
            "brightness": brightness,
            "contrast": contrast,
            "lumaflip": lumaflip,
            "hue": hue,
            "saturation": saturation,
        }
        self.xint_max, self.scale_std, self.rotate_max, self.aniso_std = xint_max, scale_std, rotate_max, aniso_std
        self.xfrac_std, self.brightness_std, self.contrast_std = xfrac_std, brightness_std, contrast_std
        self.hue_max, self.saturation_std = hue_max, saturation_std
        lowpass = sym6_lowpass()
        self.register_buffer("lowpass", lowpass, persistent=False)
        self.lowpass: Tensor
        self.delay = upsample_delay(lowpass)

    def _chosen(self, name: str, n: int, generator: torch.Generator | None, like: Tensor) -> Tensor:
        """Per-image coin flips `[N]` (bool) with probability `multiplier * p`."""
        draw = torch.rand([n], generator=generator, device=like.device, dtype=like.dtype)
        return draw < self.multipliers[name] * self.p.to(like.dtype)

    def _uniform(self, n: int, generator: torch.Generator | None, like: Tensor) -> Tensor:
        return torch.rand([n], generator=generator, device=like.device, dtype=like.dtype)

    def _normal(self, n: int, generator: torch.Generator | None, like: Tensor) -> Tensor:
        return torch.randn([n], generator=generator, device=like.device, dtype=like.dtype)

    def geometry(self, n: int, height: int, width: int, generator: torch.Generator | None, like: Tensor) -> Tensor:
        """The inverse geometric matrices `[N, 3, 3]` (output pixel -> input position, centred pixels), drawn in
        the order `forward` draws them; `like` gives dtype and device."""
        m = self.multipliers
        g = torch.eye(3, dtype=like.dtype, device=like.device).expand(n, 3, 3)
        ones = like.new_ones([n])
        if m["xflip"] > 0:
            flip = torch.floor(self._uniform(n, generator, like) * 2)
            flip = torch.where(self._chosen("xflip", n, generator, like), flip, 0)
            g = g @ scale2d(1 - 2 * flip, ones)
        if m["rotate90"] > 0:
            quarter = torch.floor(self._uniform(n, generator, like) * 4)
            quarter = torch.where(self._chosen("rotate90", n, generator, like), quarter, 0)
            g = g @ rotate2d(-math.pi / 2 * quarter)
        if m["xint"] > 0:
            tx = (self._uniform(n, generator, like) * 2 - 1) * self.xint_max
            ty = (self._uniform(n, generator, like) * 2 - 1) * self.xint_max
            chosen = self._chosen("xint", n, generator, like)
            shift_x, shift_y = torch.where(chosen, tx * width, 0).round(), torch.where(chosen, ty * height, 0).round()
            g = g @ translate2d(-shift_x, -shift_y)
        if m["scale"] > 0:
            s = torch.exp2(self._normal(n, generator, like) * self.scale_std)
            s = torch.where(self._chosen("scale", n, generator, like), s, 1)
            g = g @ scale2d(1 / s, 1 / s)
        # Rotation runs before and after the anisotropic scaling, each with the probability that makes "either"
        # happen with probability `rotate * p` (stylegan2-ada's choice: it rotates the scaling axis too).
        p_rot = 1 - torch.sqrt((1 - m["rotate"] * self.p.to(like.dtype)).clamp(0, 1))
        if m["rotate"] > 0:
            theta = (self._uniform(n, generator, like) * 2 - 1) * math.pi * self.rotate_max
            theta = torch.where(self._uniform(n, generator, like) < p_rot, theta, 0)
            g = g @ rotate2d(theta)
        if m["aniso"] > 0:
            s = torch.exp2(self._normal(n, generator, like) * self.aniso_std)
            s = torch.where(self._chosen("aniso", n, generator, like), s, 1)
            g = g @ scale2d(1 / s, s)
        if m["rotate"] > 0:
            theta = (self._uniform(n, generator, like) * 2 - 1) * math.pi * self.rotate_max
            theta = torch.where(self._uniform(n, generator, like) < p_rot, theta, 0)
            g = g @ rotate2d(theta)
        if m["xfrac"] > 0:
            tx = self._normal(n, generator, like) * self.xfrac_std
            ty = self._normal(n, generator, like) * self.xfrac_std
            chosen = self._chosen("xfrac", n, generator, like)
            g = g @ translate2d(-torch.where(chosen, tx * width, 0), -torch.where(chosen, ty * height, 0))
        return g

    def color(self, n: int, generator: torch.Generator | None, like: Tensor) -> Tensor:
        """The colour matrices `[N, 4, 4]` acting on `(r, g, b, 1)` in [-1, 1] units, drawn after `geometry`."""
        m = self.multipliers
        eye = torch.eye(4, dtype=like.dtype, device=like.device)
        c = eye.expand(n, 4, 4)
        axis = like.new_tensor(LUMA_AXIS)
        luma = torch.outer(axis, axis)
        if m["brightness"] > 0:
            b = self._normal(n, generator, like) * self.brightness_std
            b = torch.where(self._chosen("brightness", n, generator, like), b, 0)
            shift = eye.repeat(n, 1, 1)
            shift[:, :3, 3] = b[:, None]
            c = shift @ c
        if m["contrast"] > 0:
            k = torch.exp2(self._normal(n, generator, like) * self.contrast_std)
            k = torch.where(self._chosen("contrast", n, generator, like), k, 1)
            c = torch.diag_embed(torch.stack([k, k, k, torch.ones_like(k)], dim=1)) @ c
        if m["lumaflip"] > 0:
            flip = torch.floor(self._uniform(n, generator, like) * 2)
            flip = torch.where(self._chosen("lumaflip", n, generator, like), flip, 0)
            c = (eye - 2 * luma * flip[:, None, None]) @ c  # Householder reflection of the luma axis
        if m["hue"] > 0:
            theta = (self._uniform(n, generator, like) * 2 - 1) * math.pi * self.hue_max
            theta = torch.where(self._chosen("hue", n, generator, like), theta, 0)
            c = _rotation_about(axis, theta) @ c
        if m["saturation"] > 0:
            s = torch.exp2(self._normal(n, generator, like) * self.saturation_std)
            s = torch.where(self._chosen("saturation", n, generator, like), s, 1)
            c = (luma + (eye - luma) * s[:, None, None]) @ c
        return c

    def forward(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Augment `images` `[N, C, H, W]` in [-1, 1]; `generator` (on the images' device) makes it repeatable."""
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"images must have shape [N, 3 or 1, H, W], got {list(images.shape)}")
        if float(self.p) <= 0:
            return images
        n, channels, height, width = images.shape
        if any(self.multipliers[name] > 0 for name in GEOMETRIC_OPS):
            images = self._apply_geometry(images, self.geometry(n, height, width, generator, images))
        if any(self.multipliers[name] > 0 for name in COLOR_OPS):
            c = self.color(n, generator, images)
            flat = images.reshape(n, channels, height * width)
            if channels == 3:
                flat = c[:, :3, :3] @ flat + c[:, :3, 3:]
            else:  # grey images: the matrix's mean response to a grey input
                rows = c[:, :3, :].mean(dim=1, keepdim=True)
                flat = flat * rows[:, :, :3].sum(dim=2, keepdim=True) + rows[:, :, 3:]
            images = flat.reshape(n, channels, height, width)
        return images

    def _apply_geometry(self, images: Tensor, g_inv: Tensor) -> Tensor:
        """Pixel copies for the matrices that read pixel centres, one low-pass resampling for the others."""
        exact = is_blit(g_inv, images.shape[2], images.shape[3])
        if bool(exact.all()):
            return blit(images, g_inv)
        blits, warps = exact.nonzero().flatten(), (~exact).nonzero().flatten()
        parts = [lowpass_warp(images[warps], g_inv[warps], self.lowpass, self.delay)]
        if len(blits):
            parts.insert(0, blit(images[blits], g_inv[blits]))
        order = torch.cat([blits, warps]).argsort()
        return torch.cat(parts)[order]


def _rotation_about(axis: Tensor, theta: Tensor) -> Tensor:
    """Rotations `[N, 4, 4]` by `theta` `[N]` about the unit 3-vector `axis[:3]` (Rodrigues), fixing the 4th
    coordinate."""
    x, y, z = axis[0], axis[1], axis[2]
    s, c = torch.sin(theta), torch.cos(theta)
    cc = 1 - c
    zero, one = torch.zeros_like(theta), torch.ones_like(theta)
    rows = [
        [x * x * cc + c, x * y * cc - z * s, x * z * cc + y * s, zero],
        [y * x * cc + z * s, y * y * cc + c, y * z * cc - x * s, zero],
        [z * x * cc - y * s, z * y * cc + x * s, z * z * cc + c, zero],
        [zero, zero, zero, one],
    ]
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def augment_pipeline(name: str, *, p: float = 0.0) -> AugmentPipe:
    """The named pipeline (`blit`, `geom`, `color`, `bg`, `bgc`) at probability `p`, strengths at the defaults."""
    if name not in PIPELINES:
        raise ValueError(f"unknown augmentation pipeline {name!r} (known: {', '.join(PIPELINES)})")
    return AugmentPipe(p=p, **dict.fromkeys(PIPELINES[name], 1.0))
