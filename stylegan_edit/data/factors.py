"""Ground-truth factors of a SynthFaces face: the seven edited attributes, the nuisance factors, and their sampler.

Binary labels (in `ATTRIBUTES` order) are thresholds of the continuous factors:

| attribute     | continuous value          | label 1 means                       | sampled                        |
|---------------|---------------------------|-------------------------------------|--------------------------------|
| `age`         | [0, 1], 0 young, 1 old    | old: `age > 0.5`                    | [0, 0.4] or [0.6, 1]           |
| `smile`       | [0, 1], 0 frown, 1 grin   | smiling, teeth show: `smile > 0.5`  | [0, 0.4] or [0.6, 1]           |
| `eyeglasses`  | bool                      | wears glasses                       | P = 0.15 + 0.55 age            |
| `yaw`         | [-1, 1], head turn        | turned to image right: `yaw > 0`    | [-1, -0.3] or [0.3, 1]         |
| `hair_length` | [0, 1], 0 cropped, 1 long | below the chin: `hair_length > 0.5` | [0, 0.4] or [0.6, 1]           |
| `beard`       | bool                      | full beard                          | short hair: P = 0.35 + 0.5 age |
| `eyes_open`   | bool                      | eyes open                           | P = 0.6                        |

Continuous factors are never sampled inside the band around their threshold, so labels carry no noise.
Correlations follow real face data: older faces wear glasses more often and grow beards more often; beards only
appear with short hair.
"""

from __future__ import annotations

import colorsys
import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

ATTRIBUTES: tuple[str, ...] = ("age", "smile", "eyeglasses", "yaw", "hair_length", "beard", "eyes_open")

RGB = tuple[int, int, int]

SKIN_TONES: tuple[RGB, ...] = ((247, 213, 189), (234, 188, 152), (204, 152, 112), (160, 110, 75), (104, 68, 46))
HAIR_COLORS: tuple[RGB, ...] = (
    (28, 22, 20),  # black
    (62, 40, 28),  # dark brown
    (110, 72, 42),  # brown
    (150, 70, 36),  # auburn
    (196, 150, 80),  # dark blonde
    (226, 190, 120),  # blonde
)
FRAME_COLORS: tuple[RGB, ...] = ((20, 20, 24), (70, 40, 25), (30, 40, 90), (110, 20, 30))

_MIN_COLOR_DISTANCE = 90.0  # background vs hair and skin, so the silhouette (hair length) stays visible


@dataclass(frozen=True)
class FaceFactors:
    """Every factor that determines one face; geometry depends on these alone (texture noise takes a seed).

    Attributes are documented in the module docstring. Nuisance factors: `hair_color`, `skin_tone`,
    `shirt_color`, `frame_color`, `background`/`background_2` (two RGB ends of a linear gradient along
    `background_angle`, radians), `face_width` (scale of the face's width, [0.9, 1.1]), `light_angle` (radians,
    direction the light comes from) and `light_strength` ([0, 1]), `noise_level` (std of pixel noise as a
    fraction of 255, [0, 0.1]).
    """

    age: float
    smile: float
    eyeglasses: bool
    yaw: float
    hair_length: float
    beard: bool
    eyes_open: bool
    hair_color: RGB = HAIR_COLORS[1]
    skin_tone: RGB = SKIN_TONES[1]
    shirt_color: RGB = (60, 90, 140)
    frame_color: RGB = FRAME_COLORS[0]
    background: RGB = (150, 170, 200)
    background_2: RGB = (110, 130, 160)
    background_angle: float = 0.0
    face_width: float = 1.0
    light_angle: float = -2.3
    light_strength: float = 0.4
    noise_level: float = 0.02

    def __post_init__(self) -> None:
        for name, low, high in (
            ("age", 0.0, 1.0),
            ("smile", 0.0, 1.0),
            ("yaw", -1.0, 1.0),
            ("hair_length", 0.0, 1.0),
            ("face_width", 0.9, 1.1),
            ("light_strength", 0.0, 1.0),
            ("noise_level", 0.0, 0.1),
        ):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{name} must be in [{low}, {high}], got {value}")

    def labels(self) -> np.ndarray:
        """Binary labels, int8 `[len(ATTRIBUTES)]`, in `ATTRIBUTES` order (see the module docstring)."""
        return np.array(
            [
                self.age > 0.5,
                self.smile > 0.5,
                self.eyeglasses,
                self.yaw > 0.0,
                self.hair_length > 0.5,
                self.beard,
                self.eyes_open,
            ],
            dtype=np.int8,
        )

    def continuous(self) -> np.ndarray:
        """Continuous values, float32 `[len(ATTRIBUTES)]`, in `ATTRIBUTES` order (booleans as 0 or 1)."""
        return np.array(
            [
                self.age,
                self.smile,
                float(self.eyeglasses),
                self.yaw,
                self.hair_length,
                float(self.beard),
                float(self.eyes_open),
            ],
            dtype=np.float32,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (colours as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaceFactors:
        """Inverse of `to_dict`."""
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


def sample_factors(rng: np.random.Generator) -> FaceFactors:
    """Draw one face's factors; a fixed number of draws in a fixed order, so a seed always gives the same face."""
    old = rng.random() < 0.5
    age = _side_value(rng, old)
    smile = _side_value(rng, rng.random() < 0.5)
    yaw_sign = 1.0 if rng.random() < 0.5 else -1.0
    yaw = yaw_sign * float(rng.uniform(0.3, 1.0))
    long_hair = rng.random() < 0.5
    hair_length = _side_value(rng, long_hair)
    eyeglasses = bool(rng.random() < 0.15 + 0.55 * age)
    beard_draw = rng.random()
    beard = bool(not long_hair and beard_draw < 0.35 + 0.5 * age)
    eyes_open = bool(rng.random() < 0.6)

    skin_tone = _jitter(rng, _lerp_palette(SKIN_TONES, float(rng.random())), 8)
    hair_color = _jitter(rng, HAIR_COLORS[int(rng.integers(len(HAIR_COLORS)))], 12)
    frame_color = FRAME_COLORS[int(rng.integers(len(FRAME_COLORS)))]
    shown_hair = grey_hair(hair_color, age)
    background = _far_color(rng, (shown_hair, skin_tone), 0.05, 0.45, 0.35, 0.95)
    shade = float(rng.uniform(0.6, 1.15))
    background_2 = tuple(int(np.clip(c * shade, 0, 255)) for c in background)
    shirt_color = _far_color(rng, (shown_hair, skin_tone), 0.3, 0.7, 0.25, 0.8)
    return FaceFactors(
        age=age,
        smile=smile,
        eyeglasses=eyeglasses,
        yaw=yaw,
        hair_length=hair_length,
        beard=beard,
        eyes_open=eyes_open,
        hair_color=hair_color,
        skin_tone=skin_tone,
        shirt_color=shirt_color,
        frame_color=frame_color,
        background=background,
        background_2=(background_2[0], background_2[1], background_2[2]),
        background_angle=float(rng.uniform(0.0, 2.0 * math.pi)),
        face_width=float(rng.uniform(0.92, 1.08)),
        light_angle=float(rng.uniform(0.0, 2.0 * math.pi)),
        light_strength=float(rng.uniform(0.15, 0.6)),
        noise_level=float(rng.uniform(0.003, 0.015)),
    )


def grey_hair(hair_color: RGB, age: float) -> RGB:
    """The hair colour shown at `age`: no grey up to 0.4, over half grey at 0.6, fully grey from 0.8."""
    grey = min(max((age - 0.4) / 0.4, 0.0), 1.0) ** 0.8
    target = (205, 205, 208)
    return (
        round(hair_color[0] + (target[0] - hair_color[0]) * grey),
        round(hair_color[1] + (target[1] - hair_color[1]) * grey),
        round(hair_color[2] + (target[2] - hair_color[2]) * grey),
    )


def _side_value(rng: np.random.Generator, high: bool) -> float:
    """A value in [0.6, 1] if `high` else in [0, 0.4]: the band around the 0.5 threshold stays empty."""
    value = float(rng.uniform(0.0, 0.4))
    return 1.0 - value if high else value


def _lerp_palette(palette: tuple[RGB, ...], t: float) -> RGB:
    position = t * (len(palette) - 1)
    index = min(int(position), len(palette) - 2)
    frac = position - index
    low, high = palette[index], palette[index + 1]
    return (
        round(low[0] + (high[0] - low[0]) * frac),
        round(low[1] + (high[1] - low[1]) * frac),
        round(low[2] + (high[2] - low[2]) * frac),
    )


def _jitter(rng: np.random.Generator, color: RGB, amount: int) -> RGB:
    offsets = rng.integers(-amount, amount + 1, size=3).tolist()
    return (
        min(max(color[0] + offsets[0], 0), 255),
        min(max(color[1] + offsets[1], 0), 255),
        min(max(color[2] + offsets[2], 0), 255),
    )


def _far_color(
    rng: np.random.Generator, avoid: tuple[RGB, ...], s_low: float, s_high: float, v_low: float, v_high: float
) -> RGB:
    """A colour far from `avoid`, among 8 candidates drawn at once (so the number of draws stays constant)."""
    draws = rng.random((8, 3)).tolist()
    candidates = []
    for h, s, v in draws:
        r, g, b = colorsys.hsv_to_rgb(h, s_low + (s_high - s_low) * s, v_low + (v_high - v_low) * v)
        candidates.append((round(r * 255), round(g * 255), round(b * 255)))
    distances = [min(math.dist(c, a) for a in avoid) for c in candidates]
    for candidate, distance in zip(candidates, distances, strict=True):
        if distance >= _MIN_COLOR_DISTANCE:
            return candidate
    return candidates[distances.index(max(distances))]
