"""Face geometry of SynthFaces: every shape in canvas pixels, computed from `FaceFactors` alone.

Both rendering styles draw the same layout, so a face keeps its geometry across styles. Faces are aligned like
FFHQ crops: eyes on a fixed row (`EYE_ROW` of the height), the face centred. A head turn (`yaw > 0`: turned to the
image's right) moves the features right and the skull left, narrows the far half of the outline, shrinks the far
eye, points the nose and shows only the near ear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from stylegan_edit.data.factors import FaceFactors

EYE_ROW = 0.47
MOUTH_ROW = 0.705

Points = list[float]  # flat [x0, y0, x1, y1, ...], as ImageDraw takes it
Box = tuple[float, float, float, float]

_T = np.linspace(0.0, 2.0 * math.pi, 48, endpoint=False)  # outline parameter: 0 top, pi/2 right, pi chin
_U = np.linspace(-1.0, 1.0, 11)  # across a mouth or an eye
_BROW_U = np.linspace(-1.0, 1.0, 5)
_BAG_U = np.linspace(-0.8, 0.8, 5)


@dataclass(frozen=True)
class EyeShape:
    """One eye with its brow, lower-lid bag, crow's feet and glasses rim."""

    sclera: Points
    iris: Box
    pupil: Box
    lid: Points  # upper lid when open, the closed lid's arc when shut
    brow: Points
    bag: Points
    crow_feet: list[Points]
    rim: Box


@dataclass(frozen=True)
class MouthShape:
    """Lips, the mouth line, and (when smiling) the opening with the upper teeth."""

    lips: Points
    line: Points
    opening: Points
    teeth: Points


@dataclass(frozen=True)
class FaceLayout:
    """All shapes of one face on a square canvas of `canvas` pixels; line widths in pixels."""

    canvas: int
    line_width: int
    brow_width: int
    frame_width: int
    outline: Points
    back_hair: Points
    fringe: Points
    neck: Points
    chin_shadow: Box
    shoulders: Box
    ears: list[Box]
    eyes: list[EyeShape]
    nose: Points
    nostrils: list[Box]
    mouth: MouthShape
    beard: Points
    wrinkles: list[Points]
    cheeks: list[Box]
    glasses_bridge: Points
    glasses_arms: list[Points]
    face_center: tuple[float, float]  # unit coordinates, for shading
    face_axes: tuple[float, float]
    wrinkle: float  # strength of age lines in [0, 1]


def face_layout(factors: FaceFactors, canvas: int) -> FaceLayout:
    """Geometry of `factors` on a `canvas` x `canvas` square (coordinates in pixels, y pointing down)."""
    f = factors
    yaw, turn = f.yaw, abs(f.yaw)
    far = 1.0 if yaw > 0 else -1.0  # image side that turns away from the viewer
    fcx, fcy = 0.5 - 0.04 * yaw, 0.53
    a, b = 0.23 * f.face_width, 0.30
    fx = 0.5 + 0.04 * yaw  # features' centre line

    s, c = np.sin(_T), np.cos(_T)
    side = np.where(s * far > 0, 1.0 - 0.22 * turn, 1.0 + 0.08 * turn)
    low = np.clip(-c, 0.0, 1.0)
    taper = 1.0 - (0.3 - 0.12 * f.age) * low**2
    outline = np.stack([fcx + a * s * side * taper, fcy - b * c * np.where(c < 0, 1.0 + 0.04 * f.age, 1.0)], 1)

    def edge_x(y: float, direction: float) -> float:
        cos_t = (fcy - y) / (b * (1.0 + 0.04 * f.age if y > fcy else 1.0))
        sin_t = math.sqrt(max(0.0, 1.0 - cos_t**2))
        scale = 1.0 - 0.22 * turn if direction == far else 1.0 + 0.08 * turn
        return fcx + direction * a * sin_t * scale * (1.0 - (0.3 - 0.12 * f.age) * max(0.0, -cos_t) ** 2)

    wrinkle = min(max((f.age - 0.5) / 0.3, 0.0), 1.0)
    eyes, ears = [], []
    for direction in (-1.0, 1.0):
        is_far = direction == far
        eyes.append(_eye(fx, direction, turn if is_far else 0.0, yaw, f.eyes_open))
        ear_scale = max(0.0, 1.0 - 1.6 * turn) if is_far else 1.0 + 0.3 * turn
        if ear_scale > 0.05:
            ex = edge_x(EYE_ROW + 0.04, direction) + direction * 0.008
            ears.append((ex - 0.03 * ear_scale, EYE_ROW - 0.015, ex + 0.03 * ear_scale, EYE_ROW + 0.095))

    tip_x = fx + 0.035 * yaw
    nose = [(fx + 0.01 * yaw, 0.52), (tip_x + 0.014 * far, 0.595), (tip_x, 0.613), (tip_x - 0.02 * far, 0.607)]
    nostrils = [_box(tip_x + d * 0.017, 0.607, 0.007, 0.005) for d in (-1.0, 1.0)]
    mouth, corners = _mouth(f, fx, far, turn)
    mx = 0.5 * (corners[0] + corners[1])

    hair = _hair(f, fcx, fcy, a, b, fx, yaw)
    wrinkles: list[list[tuple[float, float]]] = []
    if wrinkle > 0:
        for row in (0.355, 0.382):
            wrinkles.append([(fx + 0.085 * u, row - 0.005 * (1 - u * u)) for u in (-1.0, -0.5, 0.0, 0.5, 1.0)])
        for d, corner in zip((-1.0, 1.0), corners, strict=True):
            fold = [(tip_x + d * 0.035, 0.612), (corner + d * 0.014, MOUTH_ROW - 0.005), (corner + d * 0.012, 0.725)]
            wrinkles.append(fold)
            wrinkles.append([(corner + d * 0.002, MOUTH_ROW + 0.03), (corner + d * 0.006, MOUTH_ROW + 0.06)])

    beard: list[tuple[float, float]] = []
    if f.beard:
        chin = [(fcx + (x - fcx) * 1.04, fcy + (y - fcy) * 1.03) for x, y in outline if y > 0.6]
        top = [
            (edge_x(0.6, -1.0), 0.6),
            (corners[0] - 0.03, MOUTH_ROW - 0.025),
            (0.5 * (corners[0] + mx), MOUTH_ROW - 0.04),
            (mx, MOUTH_ROW - 0.034),
            (0.5 * (corners[1] + mx), MOUTH_ROW - 0.04),
            (corners[1] + 0.03, MOUTH_ROW - 0.025),
            (edge_x(0.6, 1.0), 0.6),
        ]
        beard = chin + top

    rims = [e.rim for e in eyes]
    bridge = [(rims[0][2], EYE_ROW - 0.01), (fx, EYE_ROW - 0.018), (rims[1][0], EYE_ROW - 0.01)]
    arms = [
        [(rims[0][0], EYE_ROW - 0.012), (edge_x(EYE_ROW, -1.0), EYE_ROW - 0.01)],
        [(rims[1][2], EYE_ROW - 0.012), (edge_x(EYE_ROW, 1.0), EYE_ROW - 0.01)],
    ]
    scaled_eyes = [_scale_eye(e, canvas) for e in eyes]
    return FaceLayout(
        canvas=canvas,
        line_width=max(1, round(0.011 * canvas)),
        brow_width=max(1, round(0.017 * canvas)),
        frame_width=max(1, round(0.013 * canvas)),
        outline=_flat(outline, canvas),
        back_hair=_flat(hair[0], canvas),
        fringe=_flat(hair[1], canvas),
        neck=_flat([(fcx - 0.09, 0.7), (fcx + 0.09, 0.7), (fcx + 0.1, 0.95), (fcx - 0.1, 0.95)], canvas),
        chin_shadow=_scale_box(_box(fcx, fcy + b * (1.0 + 0.04 * f.age) - 0.008, 0.086, 0.032), canvas),
        shoulders=_scale_box((0.5 - 0.46, 0.885, 0.5 + 0.46, 1.35), canvas),
        ears=[_scale_box(e, canvas) for e in ears],
        eyes=scaled_eyes,
        nose=_flat(nose, canvas),
        nostrils=[_scale_box(n, canvas) for n in nostrils],
        mouth=MouthShape(*(_flat(p, canvas) for p in mouth)),
        beard=_flat(beard, canvas),
        wrinkles=[_flat(w, canvas) for w in wrinkles],
        cheeks=[
            _scale_box(_box(fx + d * 0.1 * (1.0 - 0.4 * turn if d == far else 1.0), 0.585, 0.04, 0.028), canvas)
            for d in (-1, 1)
        ],
        glasses_bridge=_flat(bridge, canvas) if f.eyeglasses else [],
        glasses_arms=[_flat(arm, canvas) for arm in arms] if f.eyeglasses else [],
        face_center=(fcx, fcy),
        face_axes=(a, b),
        wrinkle=wrinkle,
    )


def _eye(fx: float, direction: float, far_turn: float, yaw: float, eyes_open: bool) -> EyeShape:
    """Eye shapes in unit coordinates (flat point lists; `_scale_eye` converts them to pixels)."""
    k = 1.0 - 0.3 * far_turn
    ex, ey = fx + direction * 0.105 * (1.0 - 0.25 * far_turn), EYE_ROW
    ew, eh = 0.046 * k, 0.024
    bulge = (1.0 - _U**2) ** 0.8
    xs = ex + ew * _U
    upper = np.stack([xs, ey - eh * bulge], 1)
    lower = np.stack([xs, ey + 0.85 * eh * bulge], 1)[::-1]
    ix = ex + 0.3 * ew * yaw
    closed = np.stack([xs, ey + 0.004 + 0.45 * eh * bulge], 1)
    brow = np.stack([ex + 1.2 * ew * _BROW_U, ey - 0.055 - 0.009 * (1 - _BROW_U**2) + 0.004 * direction * _BROW_U], 1)
    bag = np.stack([ex + ew * _BAG_U, ey + eh + 0.012 + 0.006 * (1 - _BAG_U**2)], 1)
    corner = ex + direction * ew * 1.15
    crow = [[(corner, ey + dy * 0.3), (corner + direction * 0.028, ey + dy)] for dy in (-0.018, 0.0, 0.018)]
    return EyeShape(
        sclera=np.concatenate([upper, lower]).ravel().tolist(),
        iris=_box(ix, ey, 0.02 * k, 0.02),
        pupil=_box(ix, ey, 0.009 * k, 0.009),
        lid=(upper if eyes_open else closed).ravel().tolist(),
        brow=brow.ravel().tolist(),
        bag=bag.ravel().tolist(),
        crow_feet=[np.asarray(line).ravel().tolist() for line in crow],
        rim=(ex - 0.07 * k, ey - 0.048, ex + 0.07 * k, ey + 0.046),
    )


def _scale_eye(eye: EyeShape, canvas: int) -> EyeShape:
    def sc(points: Points) -> Points:
        return [v * canvas for v in points]

    return EyeShape(
        sclera=sc(eye.sclera),
        iris=_scale_box(eye.iris, canvas),
        pupil=_scale_box(eye.pupil, canvas),
        lid=sc(eye.lid),
        brow=sc(eye.brow),
        bag=sc(eye.bag),
        crow_feet=[sc(line) for line in eye.crow_feet],
        rim=_scale_box(eye.rim, canvas),
    )


def _mouth(f: FaceFactors, fx: float, far: float, turn: float) -> tuple[list[np.ndarray], tuple[float, float]]:
    """Lips, mouth line, opening and teeth in unit coordinates; also the x of the left and right corners."""
    mx, my = fx + 0.015 * f.yaw, MOUTH_ROW + 0.012 * f.age
    mw = 0.066 + 0.014 * f.smile
    smiling = f.smile > 0.5
    curve = 0.55 + 0.45 * (f.smile - 0.6) / 0.4 if smiling else -0.5 + 0.6 * f.smile / 0.4
    open_height = 0.04 + 0.02 * (f.smile - 0.6) / 0.4 if smiling else 0.0
    xs = mx + mw * _U * np.where(_U * far > 0, 1.0 - 0.3 * turn, 1.0)
    bulge = (1.0 - _U**2) ** 0.7
    upper = my - 0.03 * curve * _U**2
    lower = upper + open_height * bulge
    lips = np.concatenate([np.stack([xs, upper - 0.008 * bulge], 1), np.stack([xs, lower + 0.011 * bulge], 1)[::-1]])
    line = np.stack([xs, upper], 1)
    opening = np.concatenate([line, np.stack([xs, lower], 1)[::-1]]) if smiling else np.zeros((0, 2))
    teeth = np.concatenate([line, np.stack([xs, upper + 0.5 * open_height * bulge], 1)[::-1]])
    shapes = [lips, line, opening, teeth if smiling else np.zeros((0, 2))]
    return shapes, (float(xs[0]), float(xs[-1]))


def _hair(
    f: FaceFactors, fcx: float, fcy: float, a: float, b: float, fx: float, yaw: float
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Back hair (behind the head) and fringe (over the forehead) polygons in unit coordinates."""
    long_hair = f.hair_length > 0.5
    if long_hair:
        bottom = 0.84 + 0.35 * (f.hair_length - 0.6)
        half_width = a * (1.3 + 0.25 * (f.hair_length - 0.6))
    else:
        bottom = 0.4 + 0.4 * f.hair_length
        half_width = a * (1.1 + 0.1 * f.hair_length)
    hcx, hcy = fcx - 0.03 * yaw, fcy - 0.02
    top = fcy - b - 0.045 - (0.015 if long_hair else 0.0)
    back = []
    for theta in np.linspace(-0.5 * math.pi, 0.5 * math.pi, 17):
        x = hcx + half_width * math.sin(theta)
        y = hcy - (hcy - top) * math.cos(theta)
        back.append((x, min(y, bottom)))
    if long_hair:
        flare = half_width * 1.12
        back.append((hcx + flare, bottom))
        back.extend((hcx + flare * u, bottom + 0.012 * math.sin(9.0 * u)) for u in np.linspace(0.8, -0.8, 7))
        back.append((hcx - flare, bottom))
    else:
        back.append((hcx + half_width, bottom))
        back.append((hcx - half_width, bottom))

    temple_y = 0.4
    theta0 = math.acos((fcy - temple_y) / (1.04 * b))
    fringe = [(fcx + 1.05 * a * math.sin(t), fcy - 1.04 * b * math.cos(t)) for t in np.linspace(-theta0, theta0, 13)]
    hairline = 0.3 + 0.025 * f.age
    part = fx - 0.03 if long_hair else fx + 0.03
    fringe.extend(
        [
            (fcx + 0.95 * a, temple_y),
            (part + 0.1, hairline + 0.02),
            (part + 0.02, hairline),
            (part, hairline + 0.008),
            (part - 0.08, hairline + 0.015),
            (fcx - 0.95 * a, temple_y),
        ]
    )
    return back, fringe


def _box(cx: float, cy: float, rx: float, ry: float) -> Box:
    return (cx - rx, cy - ry, cx + rx, cy + ry)


def _scale_box(box: Box, canvas: int) -> Box:
    return (box[0] * canvas, box[1] * canvas, box[2] * canvas, box[3] * canvas)


def _flat(points: np.ndarray | list[tuple[float, float]], canvas: int) -> Points:
    return (np.asarray(points, dtype=np.float64).reshape(-1) * canvas).tolist()
