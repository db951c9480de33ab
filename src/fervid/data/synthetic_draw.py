"""The pens the synthetic face is drawn with: anti-aliased OpenCV shapes at sub-pixel positions,
quadratic Bézier curves, colour shading and mixing, and soft Gaussian fields.

Coordinates are float canvas pixels; OpenCV gets them as fixed point with :data:`SHIFT`
fractional bits, so features move smoothly as AU intensities change instead of jumping from one
whole pixel to the next.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

SHIFT = 4


def fixed_point(points: np.ndarray) -> np.ndarray:
    """Float (N, 2) points → OpenCV fixed-point int32 (N, 2)."""
    return np.round(np.asarray(points) * (1 << SHIFT)).astype(np.int32)


def poly(img, points, color) -> None:
    cv2.fillPoly(img, [fixed_point(points)], color, cv2.LINE_AA, SHIFT)


def line(img, points, color, thickness) -> None:
    cv2.polylines(img, [fixed_point(points)], False, color, max(1, int(round(thickness))), cv2.LINE_AA, SHIFT)


def ellipse(img, centre, axes, color, angle=0.0, thickness=-1) -> None:
    cv2.ellipse(
        img,
        tuple(fixed_point(centre).tolist()),
        tuple(fixed_point(np.maximum(axes, 0.5)).tolist()),
        angle,
        0,
        360,
        color,
        thickness,
        cv2.LINE_AA,
        SHIFT,
    )


@functools.cache
def _bezier_basis(n: int) -> np.ndarray:
    """(n, 3) weights of a quadratic Bézier through p0, mid, p1, with ``mid`` hit at t = 1/2."""
    t = np.linspace(0, 1, n)
    w0, wc, w1 = (1 - t) ** 2, 2 * (1 - t) * t, t**2
    # control point c = 2 mid - (p0 + p1) / 2, folded into the weights
    return np.stack([w0 - 0.5 * wc, 2 * wc, w1 - 0.5 * wc], 1)


def curve(p0, mid, p1, n: int = 12) -> np.ndarray:
    """Quadratic Bézier from p0 to p1 passing through ``mid`` at its half-way point: (n, 2)."""
    return _bezier_basis(n) @ np.array([p0, mid, p1], dtype=np.float64)


def shade(color, f: float) -> tuple[float, float, float]:
    return tuple(float(min(255.0, c * f)) for c in color)


def mix(a, b, w: float) -> tuple[float, float, float]:
    return tuple(float(x + (y - x) * w) for x, y in zip(a, b))


def gauss(X, Y, x0, y0, sx, sy):
    return np.exp(-0.5 * (((X - x0) / sx) ** 2 + ((Y - y0) / sy) ** 2))
