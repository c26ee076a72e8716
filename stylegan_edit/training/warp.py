"""Geometric transforms of image batches for ADA (Karras et al. 2020, arXiv:2006.06676, appendix B.1): 3x3
homogeneous matrices, exact pixel blits, and one low-pass resampling per image.

Coordinates are pixels with the origin at the image centre (x right, y down). A matrix `g_inv [N, 3, 3]` maps an
output pixel to the input position it reads, so a chain of augmentations is one product `g_inv = a_inv @ b_inv
@ ...` (the first factor is applied to the image first) and every image is resampled once. A matrix whose reading
positions all fall on pixel centres (flips, 90-degree rotations of a square image, integer shifts) is applied as an
exact copy of pixels; any other goes through `lowpass_warp`. Outside the image both read the mirror image (reflect
padding, the edge pixel not repeated), as the paper does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from stylegan_edit.generators.ops import setup_filter, upfirdn2d, upsample2d

# Low-pass filter of the 2x resampling: the sym6 wavelet's scaling filter (the paper's choice). It is orthogonal,
# so upsampling with it and downsampling with its mirror image returns the input exactly.
SYM6 = (
    0.015404109327027373,
    0.0034907120842174702,
    -0.11799011114819057,
    -0.048311742585633,
    0.4910559419267466,
    0.787641141030194,
    0.3379294217276218,
    -0.07263752278646252,
    -0.021060292512300564,
    0.04472490177066578,
    0.0017677118642428036,
    -0.007800708325034148,
)
PIXEL_TOLERANCE = 1e-4  # reading positions this close to pixel centres count as exact


def _matrix(rows: list[list[Tensor | float]], like: Tensor) -> Tensor:
    """A batch of matrices `[N, R, C]` from rows of per-image values `[N]` or constants."""
    n = like.shape[0]
    entries = [e if isinstance(e, Tensor) else like.new_full([n], float(e)) for row in rows for e in row]
    return torch.stack(entries, dim=-1).reshape(n, len(rows), len(rows[0]))


def translate2d(tx: Tensor, ty: Tensor) -> Tensor:
    """Translations by `(tx, ty)` pixels, `[N] -> [N, 3, 3]`."""
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], tx)


def scale2d(sx: Tensor, sy: Tensor) -> Tensor:
    """Scalings of x by `sx` and y by `sy`, `[N] -> [N, 3, 3]`."""
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], sx)


def rotate2d(theta: Tensor) -> Tensor:
    """Rotations `[[cos, -sin], [sin, cos]]` by `theta` radians, `[N] -> [N, 3, 3]`."""
    c, s = torch.cos(theta), torch.sin(theta)
    return _matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]], theta)


def _centre_grid(height: int, width: int, like: Tensor) -> Tensor:
    """Homogeneous centred coordinates of every pixel, `[3, H * W]` (x, y, 1)."""
    ys = torch.arange(height, dtype=like.dtype, device=like.device) - (height - 1) / 2
    xs = torch.arange(width, dtype=like.dtype, device=like.device) - (width - 1) / 2
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([x.flatten(), y.flatten(), torch.ones_like(x).flatten()])


def reading_positions(g_inv: Tensor, height: int, width: int) -> Tensor:
    """Input pixel indices (x, y; fractional) that each output pixel reads, `[N, 2, H * W]`."""
    points = g_inv[:, :2] @ _centre_grid(height, width, g_inv)
    centre = g_inv.new_tensor([(width - 1) / 2, (height - 1) / 2])
    return points + centre[None, :, None]


def is_blit(g_inv: Tensor, height: int, width: int) -> Tensor:
    """Which matrices read only pixel centres inside the mirrored image: `[N]` bool."""
    positions = reading_positions(g_inv, height, width)
    return ((positions - positions.round()).abs() <= PIXEL_TOLERANCE).flatten(1).all(dim=1)


def _reflect(index: Tensor, size: int) -> Tensor:
    """Fold integer indices into `[0, size)` by mirroring at the edge pixels (torch's `reflect` padding)."""
    if size == 1:
        return torch.zeros_like(index)
    period = 2 * (size - 1)
    index = index.remainder(period)
    return torch.where(index >= size, period - index, index)


def blit(images: Tensor, g_inv: Tensor) -> Tensor:
    """Apply matrices that read pixel centres (`is_blit`) by copying pixels: exact, differentiable in `images`.

    images: `[N, C, H, W]`; g_inv: `[N, 3, 3]`. Returns `[N, C, H, W]`.
    """
    n, c, h, w = images.shape
    positions = reading_positions(g_inv, h, w).round().long()
    index = _reflect(positions[:, 1], h) * w + _reflect(positions[:, 0], w)  # [N, H * W]
    flat = images.reshape(n, c, h * w)
    return flat.gather(2, index[:, None, :].expand(n, c, h * w)).reshape(n, c, h, w)


def upsample_delay(lowpass: Tensor) -> float:
    """Where `upsample2d` with this filter puts an input position: centred output `v = 2 u + delay`.

    Measured on a ramp (an FIR filter moves a linear signal by its centroid), so it holds for any filter.
    """
    n = 4 * lowpass.shape[-1]
    ramp = torch.arange(n, dtype=torch.float64).expand(1, 1, n, n)
    up = upsample2d(ramp, lowpass.double())
    j = n  # a column far from both borders
    u = float(up[0, 0, n, j]) - (n - 1) / 2
    return (j - (2 * n - 1) / 2) - 2 * u


def lowpass_warp(images: Tensor, g_inv: Tensor, lowpass: Tensor, delay: float) -> Tensor:
    """Resample each image at `g_inv`'s positions through a 2x oversampled grid, so that neither the warp nor
    the mirrored borders alias (the paper's scheme).

    Steps: reflect-pad as far as the warped corners reach (at most `size - 1`), upsample 2x with `lowpass`,
    bilinear `grid_sample` of the warped oversampled image, downsample 2x with the mirrored filter. With an
    identity matrix the output equals the input up to rounding (the filter is orthogonal). images: `[N, C, H, W]`;
    g_inv: `[N, 3, 3]`; lowpass: `[k, k]` from `setup_filter` (even k); delay: `upsample_delay(lowpass)`.
    """
    n, c, h, w = images.shape
    taps = lowpass.shape[-1]
    margin = taps // 4  # low-resolution pixels the 2x filters reach beyond an edge
    cx, cy = (w - 1) / 2, (h - 1) / 2
    corners = g_inv.new_tensor([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]]).t()
    reach = (g_inv[:, :2] @ corners).permute(1, 0, 2).flatten(1)  # [xy, N * 4]
    # Pixels needed beyond each edge (left, top, right, bottom), then the filters' reach; reflect needs < size.
    beyond = torch.cat([-reach, reach]).amax(dim=1) - g_inv.new_tensor([cx, cy, cx, cy]) + 2 * margin
    limit = g_inv.new_tensor([w - 1, h - 1, w - 1, h - 1])
    left, top, right, bottom = (math.ceil(v) for v in beyond.clamp(min=0).minimum(limit).tolist())
    padded = F.pad(images, [left, right, top, bottom], mode="reflect")
    shift = g_inv.new_full([n], (left - right) / 2), g_inv.new_full([n], (top - bottom) / 2)
    g = translate2d(*shift) @ g_inv

    up = upsample2d(padded, lowpass.to(images.dtype))
    ones = g_inv.new_ones([n])
    to_high = translate2d(ones * delay, ones * delay) @ scale2d(ones * 2, ones * 2)
    g_high = to_high @ g @ torch.linalg.inv(to_high)
    out_h, out_w = 2 * (h + 2 * margin), 2 * (w + 2 * margin)
    # affine_grid's normalised coordinates are centred pixels scaled by 2 / size (align_corners=False).
    theta = (
        scale2d(ones * 2 / up.shape[3], ones * 2 / up.shape[2]) @ g_high @ scale2d(ones * out_w / 2, ones * out_h / 2)
    )
    grid = F.affine_grid(theta[:, :2].to(images.dtype), [n, c, out_h, out_w], align_corners=False)
    warped = F.grid_sample(up, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    crop = 2 * margin
    padding = ((taps - 1) // 2 - crop, (taps - 2) // 2 - crop)
    return upfirdn2d(warped, lowpass.to(images.dtype), down=2, padding=(*padding, *padding), flip_filter=True)


def sym6_lowpass() -> Tensor:
    """The 2-D sym6 filter `[12, 12]` (sums to 1) used by `lowpass_warp`."""
    return setup_filter(SYM6)
