"""Scoring saliency maps against ground-truth masks: the pointing game and the energy ratio.

- **Pointing game** (Zhang et al. 2016, "Top-down neural attention by excitation backprop"): a
  frame is a hit when the map's peak lies inside the mask, grown by ``tolerance`` pixels (their
  15 px at 224 px input, :func:`default_tolerance` scales it to the crop). A flat-topped map (a
  coarse grid upsampled) points at the maximal pixel nearest the middle of its top, not at its
  first pixel in raster order, which would favour the top-left corner.
- **Energy ratio**: the share of the map's mass inside the mask divided by the mask's share of
  the face, ``(sum_mask s / sum s) / (|mask| / |face|)``. 1 is a map spread evenly over the face;
  above 1, mass concentrates on the changed pixels. Mass off the face counts in ``sum s``, so
  looking at the background lowers it.

Baselines on the same frames: a centre prior (an isotropic Gaussian at the crop centre, sigma a
quarter of the side) and a random map (independent uniform pixels from a seeded generator).
"""

from __future__ import annotations

import numpy as np

ZHANG_TOLERANCE = 15 / 224  # 15 px at a 224-px input, as a fraction of the side


def default_tolerance(side: int) -> int:
    return int(round(ZHANG_TOLERANCE * side))


def peak(saliency: np.ndarray) -> tuple[int, int]:
    """``(y, x)`` of the maximum of a 2-D map; among ties, the one nearest the ties' centroid."""
    top = np.argwhere(saliency >= saliency.max() - 1e-6 * max(abs(float(saliency.max())), 1e-12))
    if len(top) == 1:
        return int(top[0, 0]), int(top[0, 1])
    y, x = top[((top - top.mean(axis=0)) ** 2).sum(axis=1).argmin()]
    return int(y), int(x)


def _grow(mask: np.ndarray, radius: int) -> np.ndarray:
    import cv2

    if radius <= 0:
        return mask
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), disk) > 0


def pointing_hit(saliency: np.ndarray, mask: np.ndarray, *, tolerance: int = 0) -> bool:
    """Whether the peak of ``saliency`` (2-D) falls within ``tolerance`` px of ``mask``; an all-zero map misses."""
    if not saliency.max() > 0:
        return False
    return bool(_grow(mask, tolerance)[peak(saliency)])


def energy_ratio(saliency: np.ndarray, mask: np.ndarray, face: np.ndarray) -> float:
    """``(mass in mask / total mass) / (mask area / face area)``; 0 for an all-zero map, NaN for an empty mask."""
    area = mask.sum() / max(int((face | mask).sum()), 1)
    total = float(saliency.sum())
    if area == 0:
        return float("nan")
    return 0.0 if total <= 0 else float(saliency[mask].sum()) / total / float(area)


def centre_prior(side: int) -> np.ndarray:
    """An isotropic Gaussian at the centre of a ``side`` x ``side`` crop, sigma = side / 4; peak 1."""
    c = (side - 1) / 2
    y, x = np.mgrid[0:side, 0:side]
    return np.exp(-((y - c) ** 2 + (x - c) ** 2) / (2 * (side / 4) ** 2)).astype(np.float32)


def random_map(side: int, rng: np.random.Generator) -> np.ndarray:
    return rng.random((side, side), dtype=np.float32)


def score_frames(maps: np.ndarray, changed: np.ndarray, face: np.ndarray, *, tolerance: int) -> dict[str, list]:
    """Per-frame ``hits`` and ``energy`` of ``maps`` ``(T, S, S)`` against masks of the same shape,
    skipping frames whose mask is empty (neutral frames: nothing to point at)."""
    hits, energy = [], []
    for s, m, f in zip(maps, changed, face):
        if m.any():
            hits.append(pointing_hit(s, m, tolerance=tolerance))
            energy.append(energy_ratio(s, m, f))
    return {"hits": hits, "energy": energy}
