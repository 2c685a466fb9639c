"""Full-resolution refinement of an upsampled alpha, with the photo as the guide.

Each refiner changes only a trimap band of ``band`` pixels either side of the predicted outline
(alpha = 0.5); outside it the alpha is the thresholded prediction, 0 or 1.

- ``guided``: He et al.'s guided filter (colour guide), in its fast form: the linear coefficients
  are fitted on a copy of the photo shrunk ``GUIDED_SUBSAMPLE`` times and applied at full size.
- ``knn`` / ``cf``: pymatting's KNN matting (Chen et al. 2013) and closed-form matting (Levin et
  al. 2008), solved on a crop around the band, shrunk until it holds at most ``SOLVE_PIXELS`` pixels.
"""
import contextlib
import io

import cv2
import numpy as np

from config import GUIDED_SUBSAMPLE, REFINERS

BAND_FRACTION = 0.02
GUIDED_RADIUS_FRACTION = 0.04
GUIDED_EPS = 1e-3
SOLVE_PIXELS = 120_000


def default_band(shape):
    """Trimap half-width in pixels for an (H, W) photo: BAND_FRACTION of its short side, at least 2."""
    return max(2, round(BAND_FRACTION * min(shape[:2])))


def refine(image, alpha, method, band):
    """``alpha`` (H, W) in [0, 1] refined by ``method`` with uint8 RGB ``image`` (H, W, 3) as the guide."""
    if method not in REFINERS:
        raise ValueError(f"unknown refiner '{method}'; valid: {', '.join(REFINERS)}")
    if method == "none":
        return alpha
    guide = image.astype(np.float32) / 255.0
    known = trimap(alpha, band)
    if method == "guided":
        radius = max(1, round(GUIDED_RADIUS_FRACTION * min(alpha.shape)))
        refined = guided_filter(guide, alpha.astype(np.float32), radius, GUIDED_EPS, GUIDED_SUBSAMPLE)
    else:
        refined = solve_band(guide, known, method)
    return np.where(known == 0.5, np.clip(refined, 0.0, 1.0), known).astype(np.float32)


def trimap(alpha, band):
    """1 where the prediction is more than ``band`` px inside the person, 0 more than ``band`` px
    outside, 0.5 in between."""
    person = (alpha >= 0.5).astype(np.uint8)
    inside = cv2.distanceTransform(person, cv2.DIST_L2, 3) > band
    outside = cv2.distanceTransform(1 - person, cv2.DIST_L2, 3) > band
    return np.where(inside, 1.0, np.where(outside, 0.0, 0.5))


def box(x, radius):
    return cv2.blur(x, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def guided_filter(guide, src, radius, eps, subsample=1):
    """He et al.'s guided filter of ``src`` (H, W) by the colour ``guide`` (H, W, 3), both float32 in
    [0, 1]; ``subsample`` > 1 is the fast guided filter (coefficients fitted at 1/subsample size)."""
    height, width = src.shape
    small = (max(1, width // subsample), max(1, height // subsample))
    g = cv2.resize(guide, small, interpolation=cv2.INTER_AREA) if subsample > 1 else guide
    p = cv2.resize(src, small, interpolation=cv2.INTER_AREA) if subsample > 1 else src
    r = max(1, radius // subsample)
    mean_g, mean_p = box(g, r), box(p, r)
    cov_gp = box(g * p[..., None], r) - mean_g * mean_p[..., None]
    var_g = box(np.einsum("hwi,hwj->hwij", g, g).reshape(*p.shape, 9), r).reshape(*p.shape, 3, 3)
    var_g -= np.einsum("hwi,hwj->hwij", mean_g, mean_g)
    a = np.linalg.solve(var_g + eps * np.eye(3, dtype=np.float32), cov_gp[..., None])[..., 0]
    b = mean_p - np.einsum("hwi,hwi->hw", a, mean_g)
    mean_a, mean_b = box(a.astype(np.float32), r), box(b.astype(np.float32), r)
    if subsample > 1:
        mean_a = cv2.resize(mean_a, (width, height), interpolation=cv2.INTER_LINEAR)
        mean_b = cv2.resize(mean_b, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.einsum("hwi,hwi->hw", mean_a, guide) + mean_b


def solve_band(guide, tri, method):
    """pymatting's ``method`` ('knn' or 'cf') on a crop around the trimap's unknown band, shrunk to at
    most SOLVE_PIXELS pixels; returns the alpha at full size (the trimap's values outside the crop)."""
    from pymatting import estimate_alpha_cf, estimate_alpha_knn

    rows, cols = np.nonzero(tri == 0.5)
    if rows.size == 0:
        return tri
    margin = 2  # a ring of known pixels around the band anchors the solve
    top, left = max(0, rows.min() - margin), max(0, cols.min() - margin)
    bottom, right = min(tri.shape[0], rows.max() + margin + 1), min(tri.shape[1], cols.max() + margin + 1)
    crop_g, crop_t = guide[top:bottom, left:right], tri[top:bottom, left:right]
    scale = min(1.0, np.sqrt(SOLVE_PIXELS / crop_t.size))
    size = (max(1, round(crop_t.shape[1] * scale)), max(1, round(crop_t.shape[0] * scale)))
    small_g = np.clip(cv2.resize(crop_g, size, interpolation=cv2.INTER_AREA), 0, 1).astype(np.float64)
    small_t = cv2.resize(crop_t, size, interpolation=cv2.INTER_NEAREST)
    if not (small_t == 0.5).any():
        return tri
    with contextlib.redirect_stdout(io.StringIO()):  # pymatting prints its preconditioner's retries
        solved = {"knn": estimate_alpha_knn, "cf": estimate_alpha_cf}[method](small_g, small_t)
    out = tri.copy()
    out[top:bottom, left:right] = cv2.resize(solved.astype(np.float32), crop_t.shape[::-1],
                                             interpolation=cv2.INTER_LINEAR)
    return out
