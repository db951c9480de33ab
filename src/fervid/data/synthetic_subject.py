"""A synthetic subject's appearance: :class:`FaceParams`, :func:`sample_face` and :class:`Landmarks`.

A subject is a :class:`FaceParams` (head shape, skin and hair tone, hair style, eye spacing and
size, brow thickness and arch, nose, mouth, clothing), with lengths on the canonical canvas
``CANVAS`` around ``HEAD_CENTRE``; :class:`Landmarks` turns them into where the eyes, nose and
mouth sit on that canvas at rest. :mod:`fervid.data.synthetic_render` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CANVAS = (352, 320)  # canonical canvas (height, width); the head centre is HEAD_CENTRE
HEAD_CENTRE = (160.0, 150.0)  # (x, y)

# Skin tones from light to dark (BGR); a subject's tone is a point on this ramp.
_SKIN_RAMP = np.array(
    [[190, 214, 245], [160, 190, 236], [128, 168, 222], [98, 138, 196], [70, 104, 160], [52, 74, 116], [40, 55, 85]],
    dtype=np.float32,
)
_HAIR = np.array(
    [[25, 25, 30], [30, 40, 60], [40, 60, 95], [60, 95, 140], [100, 150, 200], [35, 60, 130], [150, 150, 155]],
    dtype=np.float32,
)  # black, dark brown, brown, light brown, blond, auburn, grey (BGR)
_IRIS = np.array([[30, 50, 80], [20, 35, 50], [120, 100, 60], [80, 110, 70], [60, 80, 110]], dtype=np.float32)


@dataclass(frozen=True)
class FaceParams:
    """One subject's appearance; lengths in canonical-canvas pixels or fractions of the head."""

    head_w: float  # half-width of the head ellipse (px)
    head_h: float  # half-height (px)
    jaw: float  # narrowing of the lower face towards the chin, 0..1
    skin: tuple[float, float, float]  # BGR
    hair: tuple[float, float, float]  # BGR
    hair_style: int  # 0 short, 1 long, 2 shaved, 3 swept (asymmetric hairline)
    hairline: float  # height of the hairline above the head centre, fraction of head_h
    eye_sep: float  # eye centre distance from the midline, fraction of head_w
    eye_w: float  # eye half-width, fraction of head_w
    eye_open: float  # eye half-height / half-width
    eye_y: float  # eye line relative to the head centre, fraction of head_h (negative = up)
    iris: tuple[float, float, float]
    brow_gap: float  # brow height above the eye line, fraction of head_h
    brow_thick: float  # px
    brow_arch: float  # fraction of head_h
    brow_len: float  # outer brow extension beyond the eye, fraction of eye half-width
    nose_y: float  # nose tip below the head centre, fraction of head_h
    nose_w: float  # half-width of the nose, fraction of head_w
    mouth_y: float  # mouth line below the head centre, fraction of head_h
    mouth_w: float  # mouth half-width, fraction of head_w
    lip_th: float  # upper lip thickness (px)
    lips: tuple[float, float, float]
    shirt: tuple[float, float, float]
    texture_seed: int  # skin and hair texture noise


def sample_face(rng: np.random.Generator) -> FaceParams:
    """Draw one subject's appearance."""
    u = rng.uniform
    t = u(0, 1) ** 1.2 * (len(_SKIN_RAMP) - 1)
    lo = int(t)
    hi = min(lo + 1, len(_SKIN_RAMP) - 1)
    skin = _SKIN_RAMP[lo] + (t - lo) * (_SKIN_RAMP[hi] - _SKIN_RAMP[lo])
    skin = skin * u(0.95, 1.05, 3)
    hair = _HAIR[rng.integers(len(_HAIR))] * u(0.85, 1.15)
    lips = skin * np.array([0.72, 0.68, 0.95]) * u(0.9, 1.05)  # redder and darker than skin
    shirt = u(30, 220, 3)
    return FaceParams(
        head_w=u(56, 68),
        head_h=u(76, 88),
        jaw=u(0.1, 0.35),
        skin=tuple(np.clip(skin, 0, 255).tolist()),
        hair=tuple(np.clip(hair, 0, 255).tolist()),
        hair_style=int(rng.integers(4)),
        hairline=u(0.52, 0.72),
        eye_sep=u(0.37, 0.46),
        eye_w=u(0.19, 0.24),
        eye_open=u(0.38, 0.52),
        eye_y=u(-0.12, -0.04),
        iris=tuple(_IRIS[rng.integers(len(_IRIS))].tolist()),
        brow_gap=u(0.2, 0.26),
        brow_thick=u(4.0, 8.0),
        brow_arch=u(0.02, 0.06),
        brow_len=u(0.25, 0.5),
        nose_y=u(0.26, 0.34),
        nose_w=u(0.2, 0.27),
        mouth_y=u(0.52, 0.6),
        mouth_w=u(0.33, 0.42),
        lip_th=u(4.5, 7.5),
        lips=tuple(np.clip(lips, 0, 255).tolist()),
        shirt=tuple(shirt.tolist()),
        texture_seed=int(rng.integers(2**31)),
    )


@dataclass(frozen=True)
class Landmarks:
    """Where a face's features sit at rest on the canonical canvas, in pixels."""

    a: float  # head half-width
    b: float  # head half-height
    eye_y: float  # eye line
    ew: float  # eye half-width
    eh: float  # eye half-height, open
    eyes_x: tuple[float, float]  # eye centres, left and right
    nose_y: float  # nose tip
    nw: float  # nose half-width
    mouth_y: float  # mouth line
    mw: float  # mouth half-width

    @classmethod
    def of(cls, p: FaceParams) -> Landmarks:
        cx, cy = HEAD_CENTRE
        a, b = p.head_w, p.head_h
        ew = p.eye_w * a
        return cls(
            a=a,
            b=b,
            eye_y=cy + p.eye_y * b,
            ew=ew,
            eh=ew * p.eye_open,
            eyes_x=(cx - p.eye_sep * a, cx + p.eye_sep * a),
            nose_y=cy + p.nose_y * b,
            nw=p.nose_w * a,
            mouth_y=cy + p.mouth_y * b,
            mw=p.mouth_w * a,
        )
