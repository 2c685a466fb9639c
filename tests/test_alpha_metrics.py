"""SAD, MSE, Grad and Conn (alphamatting.com's definitions) against values worked out by hand."""
import numpy as np
import pytest

from postprocess.alpha_metrics import alpha_errors, error_maps, region_errors, unknown_region

PRED = np.array([[0.0, 0.5], [1.0, 1.0]])
TRUTH = np.array([[0.0, 1.0], [1.0, 0.25]])
ALL = np.ones((2, 2), bool)


def test_sad_and_mse_by_hand():
    whole = region_errors(error_maps(PRED, TRUTH), ALL)
    assert whole["sad"] == pytest.approx((0.5 + 0.75) / 1000)
    assert whole["mse"] == pytest.approx((0.25 + 0.5625) / 4)
    one = region_errors(error_maps(PRED, TRUTH), np.array([[False, True], [False, False]]))
    assert one["sad"] == pytest.approx(0.5 / 1000) and one["mse"] == pytest.approx(0.25)


def test_conn_a_pixel_cut_off_from_the_person():
    # Both mattes are >= t at pixels 0, 1, 3 for every t: the largest 4-connected component is {0, 1},
    # so pixels 2 and 3 drop out at the first threshold (level 0), pixels 0, 1 never (level 1).
    # d = alpha - level: pred (0, 0, 0, 1), truth (0, 0, 1, 1); phi = 1 - d where d >= 0.15:
    # pred (1, 1, 1, 0), truth (1, 1, 0, 0); |difference| sums to 1.
    pred, truth = np.array([[1.0, 1.0, 0.0, 1.0]]), np.ones((1, 4))
    assert region_errors(error_maps(pred, truth), np.ones((1, 4), bool))["conn"] == pytest.approx(1 / 1000)


def test_conn_soft_values():
    # pixel 1 leaves the component at t = 0.3 (truth 0.2 < 0.3): level 0.2; pixel 0 at t = 0.6
    # (pred 0.5 < 0.6): level 0.5. d: pred (0, 0.3), truth (0.5, 0); phi: pred (1, 0.7), truth (0.5, 1).
    pred, truth = np.array([[0.5, 0.5]]), np.array([[1.0, 0.2]])
    assert region_errors(error_maps(pred, truth), np.ones((1, 2), bool))["conn"] == pytest.approx(0.8 / 1000)


def gauss(x, sigma):
    return np.exp(-x ** 2 / (2 * sigma ** 2)) / (sigma * np.sqrt(2 * np.pi))


def test_grad_of_a_step_against_a_flat_prediction():
    # A vertical step, constant down the columns: gy = 0 and gx(x) = G * sum_{j: x + j >= c} dgauss(j) / N,
    # where the kernel is gauss(i) * dgauss(j) / N (N its L2 norm) and G = sum_i gauss(i).
    sigma, half, height, width, c = 1.4, 4, 9, 21, 10  # half = ceil(1.4 sqrt(-2 ln(sqrt(2 pi) 1.4 0.01))) = 4
    u = np.arange(-half, half + 1)
    g, d = gauss(u, sigma), -u * gauss(u, sigma) / sigma ** 2
    norm = np.sqrt((g ** 2).sum() * (d ** 2).sum())
    gx = [g.sum() * sum(dj for j, dj in zip(u, d) if x + j >= c) / norm for x in range(width)]
    expected = height * sum(v ** 2 for v in gx) / 1000
    truth = np.zeros((height, width))
    truth[:, c:] = 1.0
    figures = region_errors(error_maps(np.zeros_like(truth), truth), np.ones_like(truth, bool))
    assert figures["grad"] == pytest.approx(expected, rel=1e-9)
    assert region_errors(error_maps(truth, truth), np.ones_like(truth, bool))["grad"] == 0.0


def test_unknown_region_is_the_band_around_soft_and_edge_pixels():
    truth = np.zeros((30, 30))
    truth[10:20, 10:20] = 1.0
    truth[15, 25] = 0.5  # a soft pixel out in the background
    unknown = unknown_region(truth, 2)
    assert unknown[10, 15] and unknown[9, 15] and unknown[15, 25] and unknown[15, 27]
    assert not unknown[15, 15] and not unknown[0, 0] and not unknown[15, 5]


def test_alpha_errors_reports_whole_image_and_unknown_band():
    truth = np.zeros((30, 30))
    truth[10:20, 10:20] = 1.0
    pred = truth.copy()
    pred[0, 0] = 1.0  # an error far from the outline: in the whole image only
    figures = alpha_errors(pred, truth, 2)
    assert figures["sad"] == pytest.approx(1 / 1000) and figures["sad_unknown"] == 0.0
    assert set(figures) == {f"{k}{s}" for k in ("sad", "mse", "grad", "conn") for s in ("", "_unknown")}
