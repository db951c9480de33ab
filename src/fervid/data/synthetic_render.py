"""Drawing a synthetic subject's face at any Facial Action Unit intensities: :class:`FaceRenderer`.

:class:`FaceRenderer` draws a :class:`~fervid.data.synthetic_subject.FaceParams` with AU
intensities (columns in ``AUS`` order) on the canonical canvas (BGR + alpha): the static layers
of :mod:`fervid.data.synthetic_layers`, then the features the AUs move; the frame composer in
:mod:`fervid.data.synthetic_frames` places it in the frame with head motion and lighting. Brows
stay darker than forehead, the mouth line dark, and a final blur softens everything, as the
face detector needs.

The AU geometry follows the FACS descriptions: AU1 raises the inner brow, AU2 the outer brow,
AU4 lowers and draws the brows together (with vertical glabella lines), AU5 raises the upper
lid, AU6 raises the cheeks and narrows the eyes from below (crow's feet), AU7 tightens the
lids, AU9 wrinkles the nose, lifts the nostrils and upper lip and lowers the inner brows, AU12
pulls the lip corners up and out, AU15 pulls them down, AU16 lowers the lower lip, AU20
stretches the lips sideways, AU23 tightens (thins) the lips, AU26 drops the jaw.
"""

from __future__ import annotations

import cv2
import numpy as np

from fervid.data import synthetic_draw as draw
from fervid.data.synthetic_layers import back_layer, hair_layer, skin_layer
from fervid.data.synthetic_subject import CANVAS, HEAD_CENTRE, FaceParams, Landmarks

# Action Units the generator animates, in the column order of AU intensity arrays.
AUS = ("AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU12", "AU15", "AU16", "AU20", "AU23", "AU26")
AU_INDEX = {name: i for i, name in enumerate(AUS)}


class FaceRenderer:
    """Draws one subject at any AU intensities; static layers are built once per subject."""

    def __init__(self, p: FaceParams):
        self.p = p
        self.at = Landmarks.of(p)
        # brows stay darker than the skin even for grey or blond hair (and a face detector needs them)
        self.brow_color = tuple(np.minimum(np.asarray(p.hair) * 0.7, np.asarray(p.skin) * 0.5).tolist())
        rng = np.random.default_rng(p.texture_seed)
        self.back, self.back_alpha = back_layer(p, self.at)
        self.skin = skin_layer(p, self.at, rng)
        self.hair, self.hair_mask = hair_layer(p, self.at, rng)
        # AU6 lifts the cheeks: a soft highlight patch, multiplied in per frame.
        r = int(0.3 * self.at.a)
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float32)
        self._cheek_patch = np.exp(-0.5 * ((xx / (0.45 * r)) ** 2 + (yy / (0.32 * r)) ** 2))[..., None]

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
        drop = 0.16 * self.at.b * g["AU26"]
        head = self.head_mask(au)
        cv2.copyTo(self.skin, head, img)
        self._cheeks(img, g)
        self._forehead(img, g)
        cv2.copyTo(self.hair, self.hair_mask, img)
        cv2.max(alpha, head, dst=alpha)
        cv2.max(alpha, self.hair_mask, dst=alpha)
        for ex, s in zip(self.at.eyes_x, (-1, 1)):
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
        p, (cx, cy), a, b = self.p, HEAD_CENTRE, self.at.a, self.at.b
        drop = 0.16 * b * float(au[AUS.index("AU26")])
        head = np.zeros(CANVAS, np.uint8)
        t = np.linspace(0, 2 * np.pi, 72, endpoint=False)
        low = np.clip(np.sin(t), 0, None)
        xs = cx + a * np.cos(t) * (1 - p.jaw * low**2)
        ys = cy + b * np.sin(t) + drop * low**2
        cv2.fillPoly(head, [draw.fixed_point(np.stack([xs, ys], 1))], 255, cv2.LINE_8, draw.SHIFT)
        return head

    def _cheeks(self, img, g) -> None:
        lift = max(g["AU6"], 0.4 * g["AU12"])
        if lift <= 0.01:
            return
        patch = self._cheek_patch
        r = patch.shape[0] // 2
        for ex, s in zip(self.at.eyes_x, (-1, 1)):
            x = int(round(ex + s * 0.05 * self.at.a))
            y = int(round(self.at.eye_y + (0.42 - 0.1 * lift) * self.at.b))
            roi = img[y - r : y + r + 1, x - r : x + r + 1]
            roi[:] = np.clip(roi * (1 + 0.18 * lift * patch), 0, 255).astype(np.uint8)

    def _forehead(self, img, g) -> None:
        """Horizontal forehead lines (AU1 centre, AU2 sides), glabella lines (AU4)."""
        cx, a, b = HEAD_CENTRE[0], self.at.a, self.at.b
        top = self.at.eye_y - (self.p.brow_gap + 0.2) * b
        for k in range(3):
            y = top - k * 0.075 * b
            for x0, x1, w in ((-0.3, 0.3, g["AU1"]), (-0.55, -0.2, g["AU2"]), (0.2, 0.55, g["AU2"])):
                if w > 0.05:
                    mid = (cx + 0.5 * (x0 + x1) * a, y)
                    pts = draw.curve((cx + x0 * a, y + 0.02 * b), mid, (cx + x1 * a, y + 0.02 * b), 8)
                    draw.line(img, pts, draw.shade(self.p.skin, 1 - 0.15 * min(w, 1)), 1.2)
        w = g["AU4"] + 0.5 * g["AU9"]
        if w > 0.05:
            for s in (-1, 1):
                x = cx + s * 0.07 * a
                y = self.at.eye_y - self.p.brow_gap * b
                color = draw.shade(self.p.skin, 1 - 0.35 * min(w, 1))
                draw.line(img, [(x, y - 0.12 * b), (x + s * 0.01 * a, y + 0.02 * b)], color, 2)

    def _brow(self, img, ex, s, g) -> None:
        p, a, b = self.p, self.at.a, self.at.b
        u = np.linspace(0, 1, 9)  # 0 = inner end, 1 = outer end
        x = ex + s * (-0.95 + u * (0.95 + 1.0 + p.brow_len)) * self.at.ew
        y = self.at.eye_y - p.brow_gap * b - p.brow_arch * b * np.sin(np.pi * u**0.8)
        y = y - b * (0.14 * g["AU1"] * (1 - u) ** 1.5 + 0.12 * g["AU2"] * u**1.2)
        y = y + b * (0.08 * g["AU4"] * (1 - 0.6 * u) + 0.06 * g["AU9"] * (1 - u) ** 2)
        x = x - s * a * (0.07 * g["AU4"] + 0.03 * g["AU9"]) * (1 - u)  # drawn together
        th = p.brow_thick * (1.15 - 0.55 * u) * (1 + 0.15 * g["AU4"])
        outline = np.concatenate([np.stack([x, y - th / 2], 1), np.stack([x, y + th / 2], 1)[::-1]])
        draw.poly(img, outline, self.brow_color)

    def _eye(self, img, ex, s, g, blink, gaze) -> None:
        p, ew, eh, ey = self.p, self.at.ew, self.at.eh, self.at.eye_y
        up = eh * (1 + 0.8 * g["AU5"] - 0.3 * g["AU7"] - 0.2 * g["AU6"] - 0.25 * g["AU4"] - 0.2 * g["AU9"])
        down = 0.75 * eh * (1 - 0.55 * g["AU6"] - 0.5 * g["AU7"] - 0.3 * g["AU9"] + 0.15 * g["AU5"])
        up = max(up, 0.08 * eh) * (1 - blink)
        down = max(down, 0.05 * eh) * (1 - 0.4 * blink)
        inner = np.array([ex - s * ew, ey + 0.08 * eh])
        outer = np.array([ex + s * ew, ey - 0.05 * eh])
        upper = draw.curve(inner, (ex, ey - up), outer, 14)
        lower = draw.curve(inner, (ex, ey + down), outer, 14)
        skin_dark = draw.shade(p.skin, 0.62)
        # lid crease, pushed up by AU5 and flattened by a lowered brow
        crease_mid = (ex, ey - up - 0.55 * eh * (1 - 0.4 * g["AU4"]))
        crease = draw.curve(inner + (0.1 * ew * s, -0.2 * eh), crease_mid, outer + (0, -0.35 * eh), 12)
        draw.line(img, crease, skin_dark, 1.6)
        if up + down > 1.0:
            x0, y0 = int(ex - ew - 3), int(ey - up - 3)
            x1, y1 = int(ex + ew + 4), int(ey + down + 4)
            roi = img[y0:y1, x0:x1]
            eye = roi.copy()
            off = np.array([x0, y0], np.float64)
            white = draw.shade(draw.mix((205, 212, 220), p.skin, 0.4), 0.85)
            draw.poly(eye, np.concatenate([upper, lower[::-1]]) - off, white)
            ic = np.array([ex + gaze[0] * 0.3 * ew, ey + gaze[1] * 0.2 * eh + 0.05 * eh]) - off
            draw.ellipse(eye, ic, (0.98 * eh, 0.98 * eh), draw.shade(p.iris, 0.55))
            draw.ellipse(eye, ic, (0.82 * eh, 0.82 * eh), p.iris)
            draw.ellipse(eye, ic, (0.38 * eh, 0.38 * eh), (15, 15, 18))
            draw.ellipse(eye, ic + (0.3 * eh, -0.3 * eh), (0.13 * eh, 0.13 * eh), (235, 235, 235))
            mask = np.zeros(roi.shape[:2], np.uint8)
            draw.poly(mask, np.concatenate([upper, lower[::-1]]) - off, 255)
            cv2.copyTo(eye, mask, roi)
        draw.line(img, upper, (25, 25, 30), 2.6 if blink < 0.5 else 2.0)  # upper lid and lashes
        draw.line(img, lower, draw.shade(p.skin, 0.55), 1.2)
        tight = max(g["AU7"], 0.7 * g["AU6"])
        if tight > 0.05:  # bulge under the tightened lower lid
            draw.line(
                img,
                draw.curve(inner + (0, 0.25 * eh), (ex, ey + down + 0.5 * eh), outer + (0, 0.35 * eh), 10),
                draw.shade(p.skin, 1 - 0.3 * min(tight, 1)),
                1.5,
            )
        if g["AU6"] > 0.05:  # crow's feet
            c = draw.shade(p.skin, 1 - 0.32 * min(g["AU6"], 1))
            for dy in (-0.6, 0.1, 0.8):
                o = outer + (s * 0.25 * ew, 0)
                draw.line(img, [o + (0, dy * eh * 0.6), o + (s * 0.35 * ew, dy * eh * 1.2)], c, 1.3)

    def _nose(self, img, g) -> None:
        p, (cx, _), b = self.p, HEAD_CENTRE, self.at.b
        ny, nw = self.at.nose_y - 0.05 * b * g["AU9"], self.at.nw * (1 + 0.12 * g["AU9"])
        dark = draw.shade(p.skin, 0.6)
        for s in (-1, 1):
            draw.ellipse(img, (cx + s * 0.42 * nw, ny + 0.05 * b), (0.2 * nw, 0.09 * nw), (30, 30, 45), angle=s * 15)
            wing = draw.curve(
                (cx + s * 0.55 * nw, ny - 0.09 * b),
                (cx + s * 1.0 * nw, ny + 0.01 * b),
                (cx + s * 0.6 * nw, ny + 0.07 * b),
                10,
            )
            draw.line(img, wing, dark, 1.8)
        if g["AU9"] > 0.05:  # wrinkles across the bridge
            c = draw.shade(p.skin, 1 - 0.4 * min(g["AU9"], 1))
            for k in range(3):
                y = self.at.eye_y + (0.06 + 0.06 * k) * b
                draw.line(
                    img, draw.curve((cx - 0.55 * nw, y + 0.02 * b), (cx, y), (cx + 0.55 * nw, y + 0.02 * b), 8), c, 1.6
                )
        # nasolabial folds: present, deepened by AU6, AU9, AU12 and AU20
        depth = 0.12 + 0.5 * min(1.0, max(g["AU6"], g["AU9"], g["AU12"], 0.6 * g["AU20"]))
        corner_x, corner_y = self._corners(g)
        for s in (-1, 1):
            top = (cx + s * 1.05 * nw, ny - 0.02 * b)
            end = (cx + s * (corner_x + 0.12 * self.at.mw), corner_y + 0.12 * b)
            mid = (cx + s * 0.5 * (1.25 * nw + corner_x + 0.2 * self.at.mw), 0.5 * (top[1] + end[1]))
            draw.line(img, draw.curve(top, mid, end, 12), draw.shade(p.skin, 1 - 0.38 * depth), 2.2)

    def _corners(self, g) -> tuple[float, float]:
        """Lip corner offset from the midline and corner height."""
        mw = self.at.mw
        x = mw * (1 + 0.2 * g["AU12"] + 0.28 * g["AU20"] - 0.18 * g["AU23"] - 0.04 * g["AU15"])
        y = self.at.mouth_y + mw * (-0.32 * g["AU12"] + 0.28 * g["AU15"] + 0.07 * g["AU20"] + 0.05 * g["AU16"])
        return x, y

    def _mouth(self, img, g, drop) -> None:
        p, cx, mw = self.p, HEAD_CENTRE[0], self.at.mw
        half, cy = self._corners(g)
        L, R = np.array([cx - half, cy]), np.array([cx + half, cy])
        thin = max(0.25, 1 - 0.6 * g["AU23"] - 0.3 * g["AU20"] - 0.25 * g["AU12"])
        ul, ll = p.lip_th * thin, 1.3 * p.lip_th * thin
        y_ui = self.at.mouth_y - 0.12 * mw * g["AU9"]  # AU9 drags the upper lip up
        opening = drop * 1.5 + mw * (0.06 * g["AU20"] + 0.1 * max(0.0, g["AU12"] - 0.4))
        y_li = y_ui + opening + 0.3 * mw * g["AU16"]
        n = 16
        up_out = draw.curve(L, (cx, y_ui - ul), R, n)
        up_in = draw.curve(L, (cx, y_ui), R, n)
        lo_in = draw.curve(L, (cx, y_li), R, n)
        lo_out = draw.curve(L, (cx, y_li + ll), R, n)
        if y_li - y_ui > 0.8:
            draw.poly(img, np.concatenate([up_in, lo_in[::-1]]), draw.shade(p.lips, 0.4))
            gap = lo_in[:, 1] - up_in[:, 1]
            teeth = draw.shade(draw.mix((200, 212, 220), p.skin, 0.2), 0.85)
            top_teeth = up_in.copy()
            top_teeth[:, 1] += np.minimum(gap, 0.22 * mw)
            draw.poly(img, np.concatenate([up_in, top_teeth[::-1]]), teeth)
            if g["AU16"] > 0.05:
                low_teeth = lo_in.copy()
                low_teeth[:, 1] -= np.minimum(gap, 0.15 * mw * min(1.0, 2 * g["AU16"]))
                draw.poly(img, np.concatenate([low_teeth, lo_in[::-1]]), draw.shade(teeth, 0.9))
        draw.poly(img, np.concatenate([up_out, up_in[::-1]]), draw.shade(p.lips, 0.9))
        draw.poly(img, np.concatenate([lo_in, lo_out[::-1]]), p.lips)
        draw.line(
            img, 0.5 * (up_in + lo_in) if y_li - y_ui <= 0.8 else up_in, draw.shade(p.lips, 0.45), 2.0 + g["AU23"]
        )
        for c in (L, R):
            draw.ellipse(img, c, (1.5, 1.5), draw.shade(p.lips, 0.5))
