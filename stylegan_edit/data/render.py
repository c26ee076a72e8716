"""SynthFaces renderer: draws a `FaceLayout` supersampled with PIL, downsamples it, then shades it in numpy.

Two styles share the geometry: `photo` (shading from a light direction, soft background gradient, pixel noise)
and `toon` (flat colours, dark outlines, flat background). The foreground is drawn on a transparent premultiplied
canvas, so the box downsampling gives exact coverage (alpha) for compositing over the background.
"""

from __future__ import annotations

import functools
import math
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw

from stylegan_edit.data.factors import RGB, FaceFactors, grey_hair
from stylegan_edit.data.layout import FaceLayout, face_layout

Style = Literal["photo", "toon"]
STYLES: tuple[Style, ...] = ("photo", "toon")
SUPERSAMPLE = 4
_NOISE_STREAM = 0x5F4E  # keeps texture noise independent of a sampler that uses the same seed

_INK: RGB = (28, 20, 20)
_SCLERA: RGB = (244, 242, 238)
_IRIS: RGB = (70, 48, 34)
_PUPIL: RGB = (12, 10, 10)
_MOUTH: RGB = (80, 22, 28)
_TEETH: RGB = (246, 242, 232)
_LIP: RGB = (176, 74, 78)


def check_size(size: int) -> None:
    """Raise `ValueError` unless `size` is a power of two from 8 to 1024."""
    if size < 8 or size > 1024 or size & (size - 1):
        raise ValueError(f"size must be a power of two from 8 to 1024, got {size}")


def render_face(
    factors: FaceFactors,
    *,
    size: int = 64,
    style: Style = "photo",
    noise_seed: int = 0,
    supersample: int = SUPERSAMPLE,
) -> Image.Image:
    """Render one face as a `size` x `size` RGB image.

    `noise_seed` seeds the photo style's pixel noise (toon has none). `supersample` is the canvas scale before
    antialiased downsampling (1 disables antialiasing; kept for benchmarks).
    """
    foreground, alpha, layout = _foreground(factors, size, style, supersample)
    grid_x, grid_y = _grid(size)
    if style == "photo":
        foreground *= _shading(factors, layout, grid_x, grid_y)[..., None]
        background = _gradient(factors, grid_x, grid_y)
    else:
        background = np.asarray(factors.background, dtype=np.float32)
    image = foreground + background * (1.0 - alpha)
    if style == "photo" and factors.noise_level > 0:
        rng = np.random.default_rng((noise_seed, _NOISE_STREAM))
        image += (255.0 * factors.noise_level) * rng.standard_normal((size, size, 1), dtype=np.float32)
    return Image.fromarray(np.clip(image + 0.5, 0, 255).astype(np.uint8), "RGB")


def foreground_mask(factors: FaceFactors, *, size: int = 64, style: Style = "photo") -> np.ndarray:
    """Coverage of the head and shoulders, float32 `[size, size]` in [0, 1] (0 is background)."""
    return _foreground(factors, size, style, SUPERSAMPLE)[1][..., 0]


def _foreground(
    factors: FaceFactors, size: int, style: Style, supersample: int
) -> tuple[np.ndarray, np.ndarray, FaceLayout]:
    """Premultiplied foreground colour `[H, W, 3]` and coverage `[H, W, 1]` (float32), and the layout drawn."""
    check_size(size)
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    layout = face_layout(factors, size * supersample)
    canvas = Image.new("RGBa", (layout.canvas, layout.canvas), (0, 0, 0, 0))
    _draw(ImageDraw.Draw(canvas), layout, factors, style)
    if supersample > 1:
        canvas = canvas.resize((size, size), Image.Resampling.BOX)
    pixels = np.asarray(canvas, dtype=np.float32)
    return pixels[..., :3], pixels[..., 3:] * (1.0 / 255.0), layout


def _draw(draw: ImageDraw.ImageDraw, layout: FaceLayout, factors: FaceFactors, style: Style) -> None:
    toon = style == "toon"
    ink = _INK if toon else None
    lw = layout.line_width
    ow = lw if toon else 0
    skin = factors.skin_tone
    hair = grey_hair(factors.hair_color, factors.age)
    line_ink = _INK if toon else _shade(skin, 0.55)

    draw.ellipse(layout.shoulders, fill=_opaque(factors.shirt_color), outline=_opaque(ink), width=ow)
    draw.polygon(layout.back_hair, fill=_opaque(hair), outline=_opaque(ink), width=ow)
    draw.polygon(layout.neck, fill=_opaque(_shade(skin, 0.82)), outline=_opaque(ink), width=ow)
    if not toon:
        draw.ellipse(layout.chin_shadow, fill=_opaque(_shade(skin, 0.7)))
    for ear in layout.ears:
        draw.ellipse(ear, fill=_opaque(_shade(skin, 0.93)), outline=_opaque(ink), width=ow)
    draw.polygon(layout.outline, fill=_opaque(skin), outline=_opaque(ink), width=ow)
    if not toon:
        blush = _mix(skin, (220, 90, 90), 0.12)
        for cheek in layout.cheeks:
            draw.ellipse(cheek, fill=_opaque(blush))

    if layout.wrinkle > 0:
        crease = _opaque(_mix(skin, _INK, 0.25 + 0.3 * layout.wrinkle))
        for line in layout.wrinkles:
            draw.line(line, fill=crease, width=lw, joint="curve")
        for eye in layout.eyes:
            draw.line(eye.bag, fill=crease, width=lw)
            for foot in eye.crow_feet:
                draw.line(foot, fill=crease, width=max(1, lw * 2 // 3))
    if layout.beard:
        beard = _away_from(_shade(hair, 0.8), skin, 55.0)
        draw.polygon(layout.beard, fill=_opaque(beard), outline=_opaque(ink), width=ow)

    for eye in layout.eyes:
        if factors.eyes_open:
            draw.polygon(eye.sclera, fill=_opaque(_SCLERA))
            draw.ellipse(eye.iris, fill=_opaque(_IRIS))
            draw.ellipse(eye.pupil, fill=_opaque(_PUPIL))
            draw.line(eye.lid, fill=_opaque(_INK), width=lw, joint="curve")
        else:
            draw.line(eye.lid, fill=_opaque(_INK), width=lw + lw // 2, joint="curve")
        draw.line(eye.brow, fill=_opaque(_shade(hair, 0.75)), width=layout.brow_width, joint="curve")

    draw.line(layout.nose, fill=_opaque(line_ink), width=lw, joint="curve")
    for nostril in layout.nostrils:
        draw.ellipse(nostril, fill=_opaque(_shade(skin, 0.45)))

    mouth = layout.mouth
    draw.polygon(mouth.lips, fill=_opaque(_mix(skin, _LIP, 0.6)), outline=_opaque(ink), width=max(1, ow // 2))
    if mouth.opening:
        draw.polygon(mouth.opening, fill=_opaque(_MOUTH))
        draw.polygon(mouth.teeth, fill=_opaque(_TEETH))
    else:
        draw.line(mouth.line, fill=_opaque(_shade(_mix(skin, _LIP, 0.6), 0.45)), width=lw, joint="curve")

    draw.polygon(layout.fringe, fill=_opaque(hair), outline=_opaque(ink), width=ow)
    if layout.glasses_bridge:
        frame = _opaque(_INK if toon else factors.frame_color)
        for eye in layout.eyes:
            draw.ellipse(eye.rim, outline=frame, width=layout.frame_width)
        draw.line(layout.glasses_bridge, fill=frame, width=layout.frame_width)
        for arm in layout.glasses_arms:
            draw.line(arm, fill=frame, width=layout.frame_width)


def _shading(factors: FaceFactors, layout: FaceLayout, grid_x: np.ndarray, grid_y: np.ndarray) -> np.ndarray:
    """Multiplicative light `[H, W]`: a linear ramp from the light's side plus darkening towards the head's rim."""
    lx, ly = math.cos(factors.light_angle), math.sin(factors.light_angle)
    ramp = (grid_x - 0.5) * lx + (grid_y - 0.5) * ly
    (cx, cy), (a, b) = layout.face_center, layout.face_axes
    rim = ((grid_x - cx) / (1.35 * a)) ** 2 + ((grid_y - cy) / (1.35 * b)) ** 2
    return 1.0 - 1.1 * factors.light_strength * ramp - 0.22 * np.minimum(rim, 1.5)


def _gradient(factors: FaceFactors, grid_x: np.ndarray, grid_y: np.ndarray) -> np.ndarray:
    """Background `[H, W, 3]`: a linear blend of the two background colours along `background_angle`."""
    dx, dy = math.cos(factors.background_angle), math.sin(factors.background_angle)
    t = np.clip(0.5 + (grid_x - 0.5) * dx + (grid_y - 0.5) * dy, 0.0, 1.0)[..., None]
    start = np.asarray(factors.background, dtype=np.float32)
    end = np.asarray(factors.background_2, dtype=np.float32)
    return start + (end - start) * t


@functools.lru_cache(maxsize=16)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in [0, 1], float32 `[size, size]` each (x, y); cached per size."""
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size
    grid_y, grid_x = np.meshgrid(axis, axis, indexing="ij")
    grid_x.setflags(write=False)
    grid_y.setflags(write=False)
    return grid_x, grid_y


def _away_from(color: RGB, reference: RGB, gap: float) -> RGB:
    """`color`, darkened (or lightened, when lighter) until its luma differs from `reference`'s by `gap`."""
    luma, reference_luma = _luma(color), _luma(reference)
    if luma <= reference_luma and reference_luma - gap > 0:
        return _shade(color, min(luma, reference_luma - gap) / max(luma, 1.0))
    target = min(255.0, max(luma, reference_luma + gap))
    return _mix(color, (255, 255, 255), (target - luma) / max(255.0 - luma, 1.0))


def _luma(color: RGB) -> float:
    return 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]


def _opaque(color: RGB | None) -> tuple[int, int, int, int] | None:
    return None if color is None else (color[0], color[1], color[2], 255)


def _shade(color: RGB, factor: float) -> RGB:
    return (round(color[0] * factor), round(color[1] * factor), round(color[2] * factor))


def _mix(color: RGB, other: RGB, t: float) -> RGB:
    return (
        round(color[0] + (other[0] - color[0]) * t),
        round(color[1] + (other[1] - color[1]) * t),
        round(color[2] + (other[2] - color[2]) * t),
    )
