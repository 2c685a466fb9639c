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
import math

import cv2
import numpy as np

from config import BAND_FRACTION, GUIDED_SUBSAMPLE, REFINERS, WORK_PIXELS

GUIDED_RADIUS_FRACTION = 0.04
GUIDED_EPS = 1e-3
SOLVE_PIXELS = 120_000
SURE = 0.75  # a person region whose mean probability is below this is left out (docs/MATTING.md)
UNSURE = 0.49


def default_band(shape, fraction=BAND_FRACTION):
    """Trimap half-width in pixels for an (H, W) photo: ``fraction`` of its short side, at least 2."""
    return max(2, round(fraction * min(shape[:2])))


def upsample(probability, shape):
    """The model's person probability (S, S) brought to a photo's (H, W), bilinear, in [0, 1]."""
    return np.clip(cv2.resize(probability, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)


def photo_alpha(image, probability, method, band):
    """The alpha of uint8 RGB ``image`` (H, W, 3) from the model's probability (S, S): upsampled, then
    refined by ``method`` in a band of ``band`` px; a refiner first leaves out the regions the model was
    never sure of (``without_unsure_regions``). ``none`` is the probability as the model gave it."""
    if method != "none":
        probability = without_unsure_regions(probability)
    return refine(image, upsample(probability, image.shape), method, band)


def without_unsure_regions(probability):
    """``probability`` (S, S) with each connected person region (probability >= 0.5) whose mean is below
    SURE pushed just under 0.5: a fragment the model half believes in (a held helmet's rim, a speck) goes
    to the background instead of becoming a half-transparent ghost."""
    count, labels = cv2.connectedComponents((probability >= 0.5).astype(np.uint8), connectivity=8)
    means = np.bincount(labels.ravel(), probability.ravel(), count) / np.bincount(labels.ravel(), minlength=count)
    unsure = np.flatnonzero(means < SURE)
    unsure = unsure[unsure > 0]  # label 0 is the background
    return np.where(np.isin(labels, unsure), np.minimum(probability, UNSURE), probability).astype(np.float32)


def refine(image, alpha, method, band):
    """``alpha`` (H, W) in [0, 1] refined by ``method`` with uint8 RGB ``image`` (H, W, 3) as the guide."""
    if method not in REFINERS:
        raise ValueError(f"unknown refiner '{method}'; valid: {', '.join(REFINERS)}")
    if method == "none":
        return alpha
    if method == "guided":
        return guided_refine(image, alpha, band)
    guide = image.astype(np.float32) / 255.0
    known = trimap(alpha, band)
    return in_band(solve_band(guide, known, method), known)


def guided_refine(image, alpha, band, radius_fraction=GUIDED_RADIUS_FRACTION, eps=GUIDED_EPS):
    """``--refine=guided``: the fast guided filter of ``alpha`` by the photo, with a radius of
    ``radius_fraction`` of the short side, within ``band`` px of the outline (computed there only). Above
    WORK_PIXELS the fit is shrunk further, to the size a WORK_PIXELS photo's fit has."""
    radius = max(1, round(radius_fraction * min(alpha.shape)))
    subsample = GUIDED_SUBSAMPLE * max(1, math.ceil(math.sqrt(alpha.size / WORK_PIXELS)))
    known = trimap(alpha, band)
    unknown = np.nonzero(known == 0.5)
    known[unknown] = np.clip(guided_filter(image, alpha.astype(np.float32), radius, eps, subsample, unknown), 0, 1)
    return known


def in_band(refined, known):
    """``refined`` (clipped to [0, 1]) in the trimap's unknown band, the trimap's 0 or 1 outside it."""
    return np.where(known == 0.5, np.clip(refined, 0.0, 1.0), known).astype(np.float32)


def trimap(alpha, band):
    """1 where the prediction is more than ``band`` px inside the person, 0 more than ``band`` px
    outside, 0.5 in between (float32)."""
    person = (alpha >= 0.5).astype(np.uint8)
    known = np.full(alpha.shape, 0.5, np.float32)
    known[cv2.distanceTransform(person, cv2.DIST_L2, 3) > band] = 1.0
    known[cv2.distanceTransform(1 - person, cv2.DIST_L2, 3) > band] = 0.0
    return known


def box(x, radius):
    return cv2.blur(x, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def guided_filter(guide, src, radius, eps, subsample=1, pixels=None):
    """He et al.'s guided filter of ``src`` (H, W, float32 in [0, 1]) by the colour ``guide`` (H, W, 3):
    float32 in [0, 1], or uint8 RGB read as pixel / 255; ``subsample`` > 1 is the fast guided filter
    (coefficients fitted at 1/subsample size and brought back bilinearly, as cv2.resize does). The filtered
    image (H, W), or with ``pixels`` (rows, columns) its values there only."""
    height, width = src.shape
    scale = np.float32(1 / 255 if guide.dtype == np.uint8 else 1)
    small = (max(1, width // subsample), max(1, height // subsample))
    g = guide.astype(np.float32) * scale
    p = src
    if subsample > 1:
        g, p = cv2.resize(g, small, interpolation=cv2.INTER_AREA), cv2.resize(src, small, interpolation=cv2.INTER_AREA)
    r = max(1, radius // subsample)
    mean_g, mean_p = box(g, r), box(p, r)
    cov_gp = box(g * p[..., None], r) - mean_g * mean_p[..., None]
    var_g = box(np.einsum("hwi,hwj->hwij", g, g).reshape(*p.shape, 9), r).reshape(*p.shape, 3, 3)
    var_g -= np.einsum("hwi,hwj->hwij", mean_g, mean_g)
    a = np.linalg.solve(var_g + eps * np.eye(3, dtype=np.float32), cov_gp[..., None])[..., 0]
    b = mean_p - np.einsum("hwi,hwi->hw", a, mean_g)
    coefficients = np.dstack([box(a.astype(np.float32), r), box(b.astype(np.float32), r)])  # a (3), b
    rows, cols = pixels if pixels is not None else np.indices((height, width)).reshape(2, -1)
    at = bilinear(coefficients, rows, cols, height, width)
    out = at[:, 3] + np.einsum("ni,ni->n", at[:, :3], guide[rows, cols].astype(np.float32) * scale)
    return out if pixels is not None else out.reshape(height, width)


def bilinear(small, rows, cols, height, width):
    """``small`` (h, w, C) brought to (height, width) as cv2.resize's INTER_LINEAR does (half-pixel centres,
    edges repeated), evaluated at the pixels (``rows``, ``cols``) only: (N, C)."""
    def taps(index, full, size):
        position = np.maximum((index + 0.5) * (size / full) - 0.5, 0).astype(np.float32)
        low = np.minimum(position.astype(np.int64), size - 1)
        return low, np.minimum(low + 1, size - 1), np.minimum(position - low, 1)[:, None]
    top, bottom, dy = taps(rows, height, small.shape[0])
    left, right, dx = taps(cols, width, small.shape[1])
    upper = small[top, left] * (1 - dx) + small[top, right] * dx
    lower = small[bottom, left] * (1 - dx) + small[bottom, right] * dx
    return upper * (1 - dy) + lower * dy


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
