"""The parts of a synthetic face that never move, drawn once per subject on the canonical canvas.

- :func:`back_layer`: long hair behind the head, neck, shirt and ears, with the jaw's shadow;
- :func:`skin_layer`: the skin over the whole canvas with its static shading (the head outline,
  which AU26 moves, cuts it per frame);
- :func:`hair_layer`: the hair over the top of the head and its mask.

Shading follows what a frontal-face detector keys on in real faces: eye sockets darker than
forehead and cheeks, a bright nose bridge between darker nose sides, and a rim that darkens
towards the face outline; everything is a soft Gaussian field, so OpenCV's Haar cascade finds
these faces.
"""

from __future__ import annotations

import cv2
import numpy as np

from fervid.data import synthetic_draw as draw
from fervid.data.synthetic_subject import CANVAS, HEAD_CENTRE, FaceParams, Landmarks


def back_layer(p: FaceParams, at: Landmarks) -> tuple[np.ndarray, np.ndarray]:
    """Long hair behind the head, shirt, neck and ears: ``(bgr (H, W, 3), alpha (H, W))`` uint8.

    Drawn on BGRA so that anti-aliased edges fade colour and alpha together: the colour is
    premultiplied by alpha, which is how the frame composer blends it.
    """
    (cx, cy), a, b = HEAD_CENTRE, at.a, at.b
    h, w = CANVAS
    img = np.zeros((h, w, 4), np.uint8)

    def opaque(color):
        return (*color, 255.0)

    if p.hair_style == 1:
        draw.ellipse(img, (cx, cy + 0.25 * b), (1.3 * a, 1.25 * b), opaque(draw.shade(p.hair, 0.8)))
        draw.poly(
            img,
            [
                (cx - 1.3 * a, cy + 0.25 * b),
                (cx + 1.3 * a, cy + 0.25 * b),
                (cx + 1.2 * a, cy + 1.6 * b),
                (cx - 1.2 * a, cy + 1.6 * b),
            ],
            opaque(draw.shade(p.hair, 0.8)),
        )
    neck = opaque(draw.shade(p.skin, 0.78))
    draw.poly(
        img,
        [(cx - 0.5 * a, cy), (cx + 0.5 * a, cy), (cx + 0.55 * a, cy + 1.7 * b), (cx - 0.55 * a, cy + 1.7 * b)],
        neck,
    )
    draw.ellipse(img, (cx, cy + 2.1 * b), (2.3 * a, 0.75 * b), opaque(p.shirt))
    draw.poly(
        img,
        [(cx - 2.3 * a, cy + 2.1 * b), (cx + 2.3 * a, cy + 2.1 * b), (cx + 2.3 * a, h), (cx - 2.3 * a, h)],
        opaque(p.shirt),
    )
    draw.ellipse(img, (cx, cy + 1.38 * b), (0.5 * a, 0.12 * b), opaque(draw.shade(p.skin, 0.72)))  # collar opening
    if p.hair_style != 1:
        for s in (-1, 1):
            ear = (cx + s * 0.98 * a, at.eye_y + 0.12 * b)
            draw.ellipse(img, ear, (0.14 * a, 0.2 * b), opaque(draw.shade(p.skin, 0.82)))
            draw.ellipse(img, (ear[0] + s * 0.01 * a, ear[1]), (0.06 * a, 0.11 * b), opaque(draw.shade(p.skin, 0.62)))
    # the jaw throws a shadow on the neck
    Y, X = np.mgrid[0:h, 0:w].astype(np.float32)
    shadow = 1 - 0.45 * draw.gauss(X, Y, cx, cy + 1.0 * b, 0.6 * a, 0.18 * b)
    back = np.clip(img[..., :3] * shadow[..., None], 0, 255).astype(np.uint8)
    return back, np.ascontiguousarray(img[..., 3])


def skin_layer(p: FaceParams, at: Landmarks, rng: np.random.Generator) -> np.ndarray:
    """The head's skin with its static shading field, valid over the whole canvas: BGR uint8."""
    (cx, cy), a, b = HEAD_CENTRE, at.a, at.b
    h, w = CANVAS
    Y, X = np.mgrid[0:h, 0:w].astype(np.float32)
    ey, ny, my, nw, ew, eh = at.eye_y, at.nose_y, at.mouth_y, at.nw, at.ew, at.eh
    gauss = draw.gauss
    r2 = ((X - cx) / a) ** 2 + ((Y - cy) / b) ** 2
    shade = 1.0 - 0.38 * np.clip(r2 - 0.4, 0, 1) ** 1.2  # rim darkening
    shade += 0.08 * gauss(X, Y, cx, cy - 0.55 * b, 0.55 * a, 0.25 * b)  # forehead
    for ex, s in zip(at.eyes_x, (-1, 1)):
        shade -= 0.32 * gauss(X, Y, ex, ey - 0.35 * eh, 1.25 * ew, 2.3 * eh)  # eye socket
        shade -= 0.12 * gauss(X, Y, cx + s * 0.95 * nw, 0.5 * (ey + ny), 0.28 * nw, 0.42 * (ny - ey))  # nose side
        shade += 0.08 * gauss(X, Y, ex + s * 0.1 * a, ey + 0.4 * b, 0.22 * a, 0.12 * b)  # cheekbone
        shade -= 0.09 * gauss(X, Y, cx + s * 0.82 * a, cy + 0.4 * b, 0.15 * a, 0.3 * b)  # cheek hollow
    shade += 0.12 * gauss(X, Y, cx, 0.5 * (ey + ny), 0.3 * nw, 0.5 * (ny - ey))  # nose bridge
    shade += 0.08 * gauss(X, Y, cx, ny - 0.03 * b, 0.4 * nw, 0.05 * b)  # nose tip
    shade -= 0.22 * gauss(X, Y, cx, ny + 0.07 * b, 0.65 * nw, 0.035 * b)  # under the nose
    shade -= 0.14 * gauss(X, Y, cx, my + 0.2 * b, 0.5 * at.mw, 0.05 * b)  # below the lower lip
    noise = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 6)
    shade *= 1 + 0.12 * noise / max(float(noise.std()), 1e-6) * 0.25
    # specular shine on forehead, nose bridge and cheekbones: additive, so dark skin keeps
    # the light-and-shadow contrast that lighter skin gets from the shading alone
    shine = gauss(X, Y, cx, cy - 0.5 * b, 0.35 * a, 0.15 * b)
    shine += gauss(X, Y, cx, 0.45 * ey + 0.55 * ny, 0.18 * nw, 0.35 * (ny - ey))
    for ex, s in zip(at.eyes_x, (-1, 1)):
        shine += 0.6 * gauss(X, Y, ex + s * 0.12 * a, ey + 0.38 * b, 0.14 * a, 0.07 * b)
    spec = 28.0 * shine * (1.0 - np.asarray(p.skin, np.float32).mean() / 400.0)
    skin = np.asarray(p.skin, np.float32) * shade[..., None] + spec[..., None]
    return np.clip(skin, 0, 255).astype(np.uint8)


def hair_layer(p: FaceParams, at: Landmarks, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Hair over the top of the head, clipped by the hairline: ``(bgr (H, W, 3), mask (H, W) 0/255)`` uint8."""
    (cx, cy), a, b = HEAD_CENTRE, at.a, at.b
    h, w = CANVAS
    Y, X = np.mgrid[0:h, 0:w].astype(np.float32)
    if p.hair_style == 2:  # shaved: a faint darker cap
        cap = ((X - cx) / (1.02 * a)) ** 2 + ((Y - cy + 0.02 * b) / (1.02 * b)) ** 2 < 1
        line = cy - p.hairline * b + 0.35 * b * np.abs((X - cx) / a) ** 3
        mask = cap & (Y < line)
        tone = np.asarray(p.skin, np.float32) * 0.55 + np.asarray(p.hair, np.float32) * 0.45
    else:
        cap = ((X - cx) / (1.08 * a)) ** 2 + ((Y - cy + 0.06 * b) / (1.08 * b)) ** 2 < 1
        dx = (X - cx) / a
        if p.hair_style == 3:
            dx = dx + 0.35  # hair swept to one side: the hairline is lower on the other
        line = cy - p.hairline * b + 0.45 * b * np.abs(dx) ** 2.5
        line += 0.025 * b * np.sin(X * 0.21 + p.texture_seed % 7)  # an uneven edge
        # never over the brows, even fully raised
        limit = at.eye_y - (p.brow_gap + 0.24) * b + 2.0 * b * np.clip(np.abs(X - cx) / a - 0.7, 0, None)
        line = np.minimum(line, limit)
        mask = cap & (Y < line)
        tone = np.asarray(p.hair, np.float32)
    streaks = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigmaX=1.2, sigmaY=7)
    shade = 1 + 0.5 * streaks / max(float(streaks.std()), 1e-6) * 0.15
    shade -= 0.3 * np.clip(((X - cx) / a) ** 2, 0, 1)  # rounder: darker at the sides
    return np.clip(tone * shade[..., None], 0, 255).astype(np.uint8), mask.astype(np.uint8) * 255
