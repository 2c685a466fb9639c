"""Alpha-matte errors of the alphamatting.com benchmark (Rhemann et al. 2009), computed as the Python
ports of Deep Image Matting's evaluation code compute them: alphas in [0, 1], summed over a region.

- SAD: sum of absolute differences / 1000.
- MSE: mean squared difference over the region's pixels.
- Grad: sum of squared differences of the gradient magnitudes (first-order Gaussian derivative
  filters, sigma 1.4) / 1000.
- Conn: sum of absolute differences of the connectivity degrees (thresholds every 0.1, largest
  4-connected component of both mattes, differences below 0.15 ignored) / 1000.
"""
import cv2
import numpy as np

GRAD_SIGMA = 1.4
GRAD_CUTOFF = 1e-2  # the derivative kernel ends where its Gaussian falls below this
CONN_STEPS = 10
CONN_MIN_DISTANCE = 0.15


def gaussian_derivative_kernel(sigma):
    """The x-derivative kernel of the benchmark's ``gaussgradient``, normalised to unit L2 norm."""
    half = int(np.ceil(sigma * np.sqrt(-2 * np.log(np.sqrt(2 * np.pi) * sigma * GRAD_CUTOFF))))
    u = np.arange(-half, half + 1, dtype=np.float64)
    gauss = np.exp(-u ** 2 / (2 * sigma ** 2)) / (sigma * np.sqrt(2 * np.pi))
    kernel = np.outer(gauss, -u * gauss / sigma ** 2)
    return kernel / np.sqrt((kernel ** 2).sum())


def gradient_magnitude(alpha, sigma=GRAD_SIGMA):
    kx = gaussian_derivative_kernel(sigma)
    gx = cv2.filter2D(alpha.astype(np.float64), -1, kx, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.filter2D(alpha.astype(np.float64), -1, kx.T, borderType=cv2.BORDER_REPLICATE)
    return np.sqrt(gx ** 2 + gy ** 2)


def largest_component(mask):
    """The largest 4-connected component of a boolean mask (all False when it is empty)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
    if count < 2:
        return np.zeros_like(mask)
    return labels == 1 + np.argmax(stats[1:, cv2.CC_STAT_AREA])


def connectivity_level(pred, truth):
    """Per pixel, the last threshold at which it was still in the largest component of both mattes
    above that threshold (1 if it never left)."""
    level = np.full(pred.shape, -1.0)
    thresholds = np.arange(CONN_STEPS + 1) / CONN_STEPS
    for previous, t in zip(thresholds, thresholds[1:]):
        omega = largest_component((pred >= t) & (truth >= t))
        level[(level == -1) & ~omega] = previous
    level[level == -1] = 1.0
    return level


def error_maps(pred, truth):
    """Per-pixel absolute, squared, gradient and connectivity errors of ``pred`` against ``truth``."""
    level = connectivity_level(pred, truth)
    phi = lambda a: 1 - (a - level) * (a - level >= CONN_MIN_DISTANCE)  # noqa: E731
    return {"sad": np.abs(pred - truth), "mse": (pred - truth) ** 2,
            "grad": (gradient_magnitude(pred) - gradient_magnitude(truth)) ** 2,
            "conn": np.abs(phi(pred) - phi(truth))}


def region_errors(maps, region):
    """SAD, MSE, Grad and Conn of ``error_maps`` over a boolean ``region``."""
    figures = {name: float(m[region].sum() / 1000) for name, m in maps.items()}
    figures["mse"] = float(maps["mse"][region].sum() / max(1, region.sum()))
    return figures


def unknown_region(truth, band):
    """The unknown band of a trimap made from the ground truth: every soft pixel, and every opaque or
    clear pixel within ``band`` px of a pixel that is not the same."""
    opaque, clear = (truth >= 1).astype(np.uint8), (truth <= 0).astype(np.uint8)
    inside = cv2.distanceTransform(opaque, cv2.DIST_L2, 3) > band
    outside = cv2.distanceTransform(clear, cv2.DIST_L2, 3) > band
    return ~(inside | outside)


def alpha_errors(pred, truth, band):
    """{sad, mse, grad, conn} over the whole image and, suffixed ``_unknown``, over ``unknown_region``."""
    maps = error_maps(pred.astype(np.float64), truth.astype(np.float64))
    whole, unknown = region_errors(maps, np.ones(truth.shape, bool)), region_errors(maps, unknown_region(truth, band))
    return {**whole, **{f"{k}_unknown": v for k, v in unknown.items()}}
