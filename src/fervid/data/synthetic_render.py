"""Drawing a synthetic subject with Facial Action Units, in OpenCV: :class:`FaceRenderer`.

:class:`FaceRenderer` draws a :class:`~fervid.data.synthetic_subject.FaceParams` with any AU
intensities (columns in ``AUS`` order) on the canonical canvas (BGR + alpha); the frame
composer in :mod:`fervid.data.synthetic` places it in the frame with head motion and lighting.

Shading follows what a frontal-face detector keys on in real faces: eye sockets and brows
darker than forehead and cheeks, a bright nose bridge between darker nose sides, a dark mouth
line, and a rim that darkens towards the face outline; everything is soft (Gaussian fields
and a final blur), so OpenCV's Haar cascade finds these faces.

The AU geometry follows the FACS descriptions: AU1 raises the inner brow, AU2 the outer brow,
AU4 lowers and draws the brows together (with vertical glabella lines), AU5 raises the upper
lid, AU6 raises the cheeks and narrows the eyes from below (crow's feet), AU7 tightens the
lids, AU9 wrinkles the nose, lifts the nostrils and upper lip and lowers the inner brows, AU12
pulls the lip corners up and out, AU15 pulls them down, AU16 lowers the lower lip, AU20
stretches the lips sideways, AU23 tightens (thins) the lips, AU26 drops the jaw.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from fervid.data.synthetic_subject import CANVAS, HEAD_CENTRE, FaceParams

# Action Units the generator animates, in the column order of AU intensity arrays.
AUS = ("AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU12", "AU15", "AU16", "AU20", "AU23", "AU26")
AU_INDEX = {name: i for i, name in enumerate(AUS)}

_SHIFT = 4  # OpenCV sub-pixel drawing: coordinates are fixed point with 4 fractional bits


def _fix(points: np.ndarray) -> np.ndarray:
    """Float (N, 2) points → OpenCV fixed-point int32 (N, 2)."""
    return np.round(np.asarray(points) * (1 << _SHIFT)).astype(np.int32)


def _poly(img, points, color) -> None:
    cv2.fillPoly(img, [_fix(points)], color, cv2.LINE_AA, _SHIFT)


def _line(img, points, color, thickness) -> None:
    cv2.polylines(img, [_fix(points)], False, color, max(1, int(round(thickness))), cv2.LINE_AA, _SHIFT)


def _ellipse(img, centre, axes, color, angle=0.0, thickness=-1) -> None:
    cv2.ellipse(
        img,
        tuple(_fix(centre).tolist()),
        tuple(_fix(np.maximum(axes, 0.5)).tolist()),
        angle,
        0,
        360,
        color,
        thickness,
        cv2.LINE_AA,
        _SHIFT,
    )


@functools.cache
def _bezier_basis(n: int) -> np.ndarray:
    """(n, 3) weights of a quadratic Bézier through p0, mid, p1, with ``mid`` hit at t = 1/2."""
    t = np.linspace(0, 1, n)
    w0, wc, w1 = (1 - t) ** 2, 2 * (1 - t) * t, t**2
    # control point c = 2 mid - (p0 + p1) / 2, folded into the weights
    return np.stack([w0 - 0.5 * wc, 2 * wc, w1 - 0.5 * wc], 1)


def _curve(p0, mid, p1, n: int = 12) -> np.ndarray:
    """Quadratic Bézier from p0 to p1 passing through ``mid`` at its half-way point: (n, 2)."""
    return _bezier_basis(n) @ np.array([p0, mid, p1], dtype=np.float64)


def _shade(color, f: float) -> tuple[float, float, float]:
    return tuple(float(min(255.0, c * f)) for c in color)


def _mix(a, b, w: float) -> tuple[float, float, float]:
    return tuple(float(x + (y - x) * w) for x, y in zip(a, b))


def _gauss(X, Y, x0, y0, sx, sy):
    return np.exp(-0.5 * (((X - x0) / sx) ** 2 + ((Y - y0) / sy) ** 2))


class FaceRenderer:
    """Draws one subject at any AU intensities; static layers are built once per subject."""

    def __init__(self, p: FaceParams):
        self.p = p
        cx, cy = HEAD_CENTRE
        a, b = p.head_w, p.head_h
        self.a, self.b = a, b
        self.eye_y = cy + p.eye_y * b
        self.ew = p.eye_w * a
        self.eh = self.ew * p.eye_open
        self.eyes_x = (cx - p.eye_sep * a, cx + p.eye_sep * a)
        self.nose_y = cy + p.nose_y * b
        self.nw = p.nose_w * a
        self.mouth_y = cy + p.mouth_y * b
        self.mw = p.mouth_w * a
        # brows stay darker than the skin even for grey or blond hair (and a face detector needs them)
        self.brow_color = tuple(np.minimum(np.asarray(p.hair) * 0.7, np.asarray(p.skin) * 0.5).tolist())
        rng = np.random.default_rng(p.texture_seed)
        self._build_back(rng)
        self._build_skin(rng)
        self._build_hair(rng)
        # AU6 lifts the cheeks: a soft highlight patch, multiplied in per frame.
        r = int(0.3 * a)
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float32)
        self._cheek_patch = np.exp(-0.5 * ((xx / (0.45 * r)) ** 2 + (yy / (0.32 * r)) ** 2))[..., None]

    # -- static layers ---------------------------------------------------------------------

    def _build_back(self, rng) -> None:
        """Long hair behind the head, shirt, neck and ears: BGR + alpha.

        Drawn on BGRA so that anti-aliased edges fade colour and alpha together: the colour is
        premultiplied by alpha, which is how the frame composer blends it.
        """
        p, (cx, cy), a, b = self.p, HEAD_CENTRE, self.a, self.b
        h, w = CANVAS
        img = np.zeros((h, w, 4), np.uint8)

        def opaque(color):
            return (*color, 255.0)

        if p.hair_style == 1:
            _ellipse(img, (cx, cy + 0.25 * b), (1.3 * a, 1.25 * b), opaque(_shade(p.hair, 0.8)))
            _poly(
                img,
                [
                    (cx - 1.3 * a, cy + 0.25 * b),
                    (cx + 1.3 * a, cy + 0.25 * b),
                    (cx + 1.2 * a, cy + 1.6 * b),
                    (cx - 1.2 * a, cy + 1.6 * b),
                ],
                opaque(_shade(p.hair, 0.8)),
            )
        neck = opaque(_shade(p.skin, 0.78))
        _poly(
            img,
            [(cx - 0.5 * a, cy), (cx + 0.5 * a, cy), (cx + 0.55 * a, cy + 1.7 * b), (cx - 0.55 * a, cy + 1.7 * b)],
            neck,
        )
        _ellipse(img, (cx, cy + 2.1 * b), (2.3 * a, 0.75 * b), opaque(p.shirt))
        _poly(
            img,
            [(cx - 2.3 * a, cy + 2.1 * b), (cx + 2.3 * a, cy + 2.1 * b), (cx + 2.3 * a, h), (cx - 2.3 * a, h)],
            opaque(p.shirt),
        )
        _ellipse(img, (cx, cy + 1.38 * b), (0.5 * a, 0.12 * b), opaque(_shade(p.skin, 0.72)))  # collar opening
        if p.hair_style != 1:
            for s in (-1, 1):
                ear = (cx + s * 0.98 * a, self.eye_y + 0.12 * b)
                _ellipse(img, ear, (0.14 * a, 0.2 * b), opaque(_shade(p.skin, 0.82)))
                _ellipse(img, (ear[0] + s * 0.01 * a, ear[1]), (0.06 * a, 0.11 * b), opaque(_shade(p.skin, 0.62)))
        # the jaw throws a shadow on the neck
        Y, X = np.mgrid[0:h, 0:w].astype(np.float32)
        shadow = 1 - 0.45 * _gauss(X, Y, cx, cy + 1.0 * b, 0.6 * a, 0.18 * b)
        self.back = np.clip(img[..., :3] * shadow[..., None], 0, 255).astype(np.uint8)
        self.back_alpha = np.ascontiguousarray(img[..., 3])

    def _build_skin(self, rng) -> None:
        """The head's skin with its static shading field, valid over the whole canvas."""
        p, (cx, cy), a, b = self.p, HEAD_CENTRE, self.a, self.b
        h, w = CANVAS
        Y, X = np.mgrid[0:h, 0:w].astype(np.float32)
        ey, ny, my, nw, ew, eh = self.eye_y, self.nose_y, self.mouth_y, self.nw, self.ew, self.eh
        r2 = ((X - cx) / a) ** 2 + ((Y - cy) / b) ** 2
        shade = 1.0 - 0.38 * np.clip(r2 - 0.4, 0, 1) ** 1.2  # rim darkening
        shade += 0.08 * _gauss(X, Y, cx, cy - 0.55 * b, 0.55 * a, 0.25 * b)  # forehead
        for ex, s in zip(self.eyes_x, (-1, 1)):
            shade -= 0.32 * _gauss(X, Y, ex, ey - 0.35 * eh, 1.25 * ew, 2.3 * eh)  # eye socket
            shade -= 0.12 * _gauss(X, Y, cx + s * 0.95 * nw, 0.5 * (ey + ny), 0.28 * nw, 0.42 * (ny - ey))  # nose side
            shade += 0.08 * _gauss(X, Y, ex + s * 0.1 * a, ey + 0.4 * b, 0.22 * a, 0.12 * b)  # cheekbone
            shade -= 0.09 * _gauss(X, Y, cx + s * 0.82 * a, cy + 0.4 * b, 0.15 * a, 0.3 * b)  # cheek hollow
        shade += 0.12 * _gauss(X, Y, cx, 0.5 * (ey + ny), 0.3 * nw, 0.5 * (ny - ey))  # nose bridge
        shade += 0.08 * _gauss(X, Y, cx, ny - 0.03 * b, 0.4 * nw, 0.05 * b)  # nose tip
        shade -= 0.22 * _gauss(X, Y, cx, ny + 0.07 * b, 0.65 * nw, 0.035 * b)  # under the nose
        shade -= 0.14 * _gauss(X, Y, cx, my + 0.2 * b, 0.5 * self.mw, 0.05 * b)  # below the lower lip
        noise = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 6)
        shade *= 1 + 0.12 * noise / max(float(noise.std()), 1e-6) * 0.25
        # specular shine on forehead, nose bridge and cheekbones: additive, so dark skin keeps
        # the light-and-shadow contrast that lighter skin gets from the shading alone
        shine = _gauss(X, Y, cx, cy - 0.5 * b, 0.35 * a, 0.15 * b)
        shine += _gauss(X, Y, cx, 0.45 * ey + 0.55 * ny, 0.18 * nw, 0.35 * (ny - ey))
        for ex, s in zip(self.eyes_x, (-1, 1)):
            shine += 0.6 * _gauss(X, Y, ex + s * 0.12 * a, ey + 0.38 * b, 0.14 * a, 0.07 * b)
        spec = 28.0 * shine * (1.0 - np.asarray(p.skin, np.float32).mean() / 400.0)
        skin = np.asarray(p.skin, np.float32) * shade[..., None] + spec[..., None]
        self.skin = np.clip(skin, 0, 255).astype(np.uint8)

    def _build_hair(self, rng) -> None:
        """Hair over the top of the head, clipped by the hairline."""
        p, (cx, cy), a, b = self.p, HEAD_CENTRE, self.a, self.b
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
            limit = self.eye_y - (p.brow_gap + 0.24) * b + 2.0 * b * np.clip(np.abs(X - cx) / a - 0.7, 0, None)
            line = np.minimum(line, limit)
            mask = cap & (Y < line)
            tone = np.asarray(p.hair, np.float32)
        streaks = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigmaX=1.2, sigmaY=7)
        shade = 1 + 0.5 * streaks / max(float(streaks.std()), 1e-6) * 0.15
        shade -= 0.3 * np.clip(((X - cx) / a) ** 2, 0, 1)  # rounder: darker at the sides
        self.hair = np.clip(tone * shade[..., None], 0, 255).astype(np.uint8)
        self.hair_mask = mask.astype(np.uint8) * 255

    # -- per frame -------------------------------------------------------------------------

    def render(
        self, au: np.ndarray, *, blink: float = 0.0, gaze: tuple[float, float] = (0.0, 0.0), blur: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw the face with AU intensities ``au`` (len(AUS),), values in [0, ~1.2].

        Returns ``(bgr (H, W, 3) uint8, alpha (H, W) uint8)`` on the canonical canvas, colour
        premultiplied by alpha (black where there is no face).
        """
        g = dict(zip(AUS, (float(v) for v in au)))
        img = self.back.copy()
        alpha = self.back_alpha.copy()
        drop = 0.16 * self.b * g["AU26"]
        head = self.head_mask(au)
        cv2.copyTo(self.skin, head, img)
        self._cheeks(img, g)
        self._forehead(img, g)
        cv2.copyTo(self.hair, self.hair_mask, img)
        cv2.max(alpha, head, dst=alpha)
        cv2.max(alpha, self.hair_mask, dst=alpha)
        for ex, s in zip(self.eyes_x, (-1, 1)):
            self._brow(img, ex, s, g)
            self._eye(img, ex, s, g, blink, gaze)
        self._nose(img, g)
        self._mouth(img, g, drop)
        if blur > 0:
            img = cv2.GaussianBlur(img, (0, 0), blur)
            alpha = cv2.GaussianBlur(alpha, (0, 0), blur)
        return img, alpha

    def head_mask(self, au: np.ndarray) -> np.ndarray:
        """The head's outline (skin region, the jaw lowered by AU26) on the canvas: uint8 0/255 ``(H, W)``."""
        p, (cx, cy), a, b = self.p, HEAD_CENTRE, self.a, self.b
        drop = 0.16 * b * float(au[AUS.index("AU26")])
        head = np.zeros(CANVAS, np.uint8)
        t = np.linspace(0, 2 * np.pi, 72, endpoint=False)
        low = np.clip(np.sin(t), 0, None)
        xs = cx + a * np.cos(t) * (1 - p.jaw * low**2)
        ys = cy + b * np.sin(t) + drop * low**2
        cv2.fillPoly(head, [_fix(np.stack([xs, ys], 1))], 255, cv2.LINE_8, _SHIFT)
        return head

    def _cheeks(self, img, g) -> None:
        lift = max(g["AU6"], 0.4 * g["AU12"])
        if lift <= 0.01:
            return
        patch = self._cheek_patch
        r = patch.shape[0] // 2
        for ex, s in zip(self.eyes_x, (-1, 1)):
            x = int(round(ex + s * 0.05 * self.a))
            y = int(round(self.eye_y + (0.42 - 0.1 * lift) * self.b))
            roi = img[y - r : y + r + 1, x - r : x + r + 1]
            roi[:] = np.clip(roi * (1 + 0.18 * lift * patch), 0, 255).astype(np.uint8)

    def _forehead(self, img, g) -> None:
        """Horizontal forehead lines (AU1 centre, AU2 sides), glabella lines (AU4)."""
        cx, a, b = HEAD_CENTRE[0], self.a, self.b
        top = self.eye_y - (self.p.brow_gap + 0.2) * b
        for k in range(3):
            y = top - k * 0.075 * b
            for x0, x1, w in ((-0.3, 0.3, g["AU1"]), (-0.55, -0.2, g["AU2"]), (0.2, 0.55, g["AU2"])):
                if w > 0.05:
                    mid = (cx + 0.5 * (x0 + x1) * a, y)
                    pts = _curve((cx + x0 * a, y + 0.02 * b), mid, (cx + x1 * a, y + 0.02 * b), 8)
                    _line(img, pts, _shade(self.p.skin, 1 - 0.15 * min(w, 1)), 1.2)
        w = g["AU4"] + 0.5 * g["AU9"]
        if w > 0.05:
            for s in (-1, 1):
                x = cx + s * 0.07 * a
                y = self.eye_y - self.p.brow_gap * b
                color = _shade(self.p.skin, 1 - 0.35 * min(w, 1))
                _line(img, [(x, y - 0.12 * b), (x + s * 0.01 * a, y + 0.02 * b)], color, 2)

    def _brow(self, img, ex, s, g) -> None:
        p, a, b = self.p, self.a, self.b
        u = np.linspace(0, 1, 9)  # 0 = inner end, 1 = outer end
        x = ex + s * (-0.95 + u * (0.95 + 1.0 + p.brow_len)) * self.ew
        y = self.eye_y - p.brow_gap * b - p.brow_arch * b * np.sin(np.pi * u**0.8)
        y = y - b * (0.14 * g["AU1"] * (1 - u) ** 1.5 + 0.12 * g["AU2"] * u**1.2)
        y = y + b * (0.08 * g["AU4"] * (1 - 0.6 * u) + 0.06 * g["AU9"] * (1 - u) ** 2)
        x = x - s * a * (0.07 * g["AU4"] + 0.03 * g["AU9"]) * (1 - u)  # drawn together
        th = p.brow_thick * (1.15 - 0.55 * u) * (1 + 0.15 * g["AU4"])
        outline = np.concatenate([np.stack([x, y - th / 2], 1), np.stack([x, y + th / 2], 1)[::-1]])
        _poly(img, outline, self.brow_color)

    def _eye(self, img, ex, s, g, blink, gaze) -> None:
        p, ew, eh, ey = self.p, self.ew, self.eh, self.eye_y
        up = eh * (1 + 0.8 * g["AU5"] - 0.3 * g["AU7"] - 0.2 * g["AU6"] - 0.25 * g["AU4"] - 0.2 * g["AU9"])
        down = 0.75 * eh * (1 - 0.55 * g["AU6"] - 0.5 * g["AU7"] - 0.3 * g["AU9"] + 0.15 * g["AU5"])
        up = max(up, 0.08 * eh) * (1 - blink)
        down = max(down, 0.05 * eh) * (1 - 0.4 * blink)
        inner = np.array([ex - s * ew, ey + 0.08 * eh])
        outer = np.array([ex + s * ew, ey - 0.05 * eh])
        upper = _curve(inner, (ex, ey - up), outer, 14)
        lower = _curve(inner, (ex, ey + down), outer, 14)
        skin_dark = _shade(p.skin, 0.62)
        # lid crease, pushed up by AU5 and flattened by a lowered brow
        crease_mid = (ex, ey - up - 0.55 * eh * (1 - 0.4 * g["AU4"]))
        crease = _curve(inner + (0.1 * ew * s, -0.2 * eh), crease_mid, outer + (0, -0.35 * eh), 12)
        _line(img, crease, skin_dark, 1.6)
        if up + down > 1.0:
            x0, y0 = int(ex - ew - 3), int(ey - up - 3)
            x1, y1 = int(ex + ew + 4), int(ey + down + 4)
            roi = img[y0:y1, x0:x1]
            eye = roi.copy()
            off = np.array([x0, y0], np.float64)
            white = _shade(_mix((205, 212, 220), p.skin, 0.4), 0.85)
            _poly(eye, np.concatenate([upper, lower[::-1]]) - off, white)
            ic = np.array([ex + gaze[0] * 0.3 * ew, ey + gaze[1] * 0.2 * eh + 0.05 * eh]) - off
            _ellipse(eye, ic, (0.98 * eh, 0.98 * eh), _shade(p.iris, 0.55))
            _ellipse(eye, ic, (0.82 * eh, 0.82 * eh), p.iris)
            _ellipse(eye, ic, (0.38 * eh, 0.38 * eh), (15, 15, 18))
            _ellipse(eye, ic + (0.3 * eh, -0.3 * eh), (0.13 * eh, 0.13 * eh), (235, 235, 235))
            mask = np.zeros(roi.shape[:2], np.uint8)
            _poly(mask, np.concatenate([upper, lower[::-1]]) - off, 255)
            cv2.copyTo(eye, mask, roi)
        _line(img, upper, (25, 25, 30), 2.6 if blink < 0.5 else 2.0)  # upper lid and lashes
        _line(img, lower, _shade(p.skin, 0.55), 1.2)
        tight = max(g["AU7"], 0.7 * g["AU6"])
        if tight > 0.05:  # bulge under the tightened lower lid
            _line(
                img,
                _curve(inner + (0, 0.25 * eh), (ex, ey + down + 0.5 * eh), outer + (0, 0.35 * eh), 10),
                _shade(p.skin, 1 - 0.3 * min(tight, 1)),
                1.5,
            )
        if g["AU6"] > 0.05:  # crow's feet
            c = _shade(p.skin, 1 - 0.32 * min(g["AU6"], 1))
            for dy in (-0.6, 0.1, 0.8):
                o = outer + (s * 0.25 * ew, 0)
                _line(img, [o + (0, dy * eh * 0.6), o + (s * 0.35 * ew, dy * eh * 1.2)], c, 1.3)

    def _nose(self, img, g) -> None:
        p, (cx, _), b = self.p, HEAD_CENTRE, self.b
        ny, nw = self.nose_y - 0.05 * b * g["AU9"], self.nw * (1 + 0.12 * g["AU9"])
        dark = _shade(p.skin, 0.6)
        for s in (-1, 1):
            _ellipse(img, (cx + s * 0.42 * nw, ny + 0.05 * b), (0.2 * nw, 0.09 * nw), (30, 30, 45), angle=s * 15)
            wing = _curve(
                (cx + s * 0.55 * nw, ny - 0.09 * b),
                (cx + s * 1.0 * nw, ny + 0.01 * b),
                (cx + s * 0.6 * nw, ny + 0.07 * b),
                10,
            )
            _line(img, wing, dark, 1.8)
        if g["AU9"] > 0.05:  # wrinkles across the bridge
            c = _shade(p.skin, 1 - 0.4 * min(g["AU9"], 1))
            for k in range(3):
                y = self.eye_y + (0.06 + 0.06 * k) * b
                _line(img, _curve((cx - 0.55 * nw, y + 0.02 * b), (cx, y), (cx + 0.55 * nw, y + 0.02 * b), 8), c, 1.6)
        # nasolabial folds: present, deepened by AU6, AU9, AU12 and AU20
        depth = 0.12 + 0.5 * min(1.0, max(g["AU6"], g["AU9"], g["AU12"], 0.6 * g["AU20"]))
        corner_x, corner_y = self._corners(g)
        for s in (-1, 1):
            top = (cx + s * 1.05 * nw, ny - 0.02 * b)
            end = (cx + s * (corner_x + 0.12 * self.mw), corner_y + 0.12 * b)
            mid = (cx + s * 0.5 * (1.25 * nw + corner_x + 0.2 * self.mw), 0.5 * (top[1] + end[1]))
            _line(img, _curve(top, mid, end, 12), _shade(p.skin, 1 - 0.38 * depth), 2.2)

    def _corners(self, g) -> tuple[float, float]:
        """Lip corner offset from the midline and corner height."""
        mw = self.mw
        x = mw * (1 + 0.2 * g["AU12"] + 0.28 * g["AU20"] - 0.18 * g["AU23"] - 0.04 * g["AU15"])
        y = self.mouth_y + mw * (-0.32 * g["AU12"] + 0.28 * g["AU15"] + 0.07 * g["AU20"] + 0.05 * g["AU16"])
        return x, y

    def _mouth(self, img, g, drop) -> None:
        p, cx, mw = self.p, HEAD_CENTRE[0], self.mw
        half, cy = self._corners(g)
        L, R = np.array([cx - half, cy]), np.array([cx + half, cy])
        thin = max(0.25, 1 - 0.6 * g["AU23"] - 0.3 * g["AU20"] - 0.25 * g["AU12"])
        ul, ll = p.lip_th * thin, 1.3 * p.lip_th * thin
        y_ui = self.mouth_y - 0.12 * mw * g["AU9"]  # AU9 drags the upper lip up
        opening = drop * 1.5 + mw * (0.06 * g["AU20"] + 0.1 * max(0.0, g["AU12"] - 0.4))
        y_li = y_ui + opening + 0.3 * mw * g["AU16"]
        n = 16
        up_out = _curve(L, (cx, y_ui - ul), R, n)
        up_in = _curve(L, (cx, y_ui), R, n)
        lo_in = _curve(L, (cx, y_li), R, n)
        lo_out = _curve(L, (cx, y_li + ll), R, n)
        if y_li - y_ui > 0.8:
            _poly(img, np.concatenate([up_in, lo_in[::-1]]), _shade(p.lips, 0.4))
            gap = lo_in[:, 1] - up_in[:, 1]
            teeth = _shade(_mix((200, 212, 220), p.skin, 0.2), 0.85)
            top_teeth = up_in.copy()
            top_teeth[:, 1] += np.minimum(gap, 0.22 * mw)
            _poly(img, np.concatenate([up_in, top_teeth[::-1]]), teeth)
            if g["AU16"] > 0.05:
                low_teeth = lo_in.copy()
                low_teeth[:, 1] -= np.minimum(gap, 0.15 * mw * min(1.0, 2 * g["AU16"]))
                _poly(img, np.concatenate([low_teeth, lo_in[::-1]]), _shade(teeth, 0.9))
        _poly(img, np.concatenate([up_out, up_in[::-1]]), _shade(p.lips, 0.9))
        _poly(img, np.concatenate([lo_in, lo_out[::-1]]), p.lips)
        _line(img, 0.5 * (up_in + lo_in) if y_li - y_ui <= 0.8 else up_in, _shade(p.lips, 0.45), 2.0 + g["AU23"])
        for c in (L, R):
            _ellipse(img, c, (1.5, 1.5), _shade(p.lips, 0.5))
