"""Full-resolution refiners: the guided filter's basic properties, the trimap band, knn and cf."""
import cv2
import numpy as np
import pytest

from postprocess.refine import default_band, guided_filter, refine, trimap


def step(height=40, width=40, edge=20):
    a = np.zeros((height, width), np.float32)
    a[:, edge:] = 1.0
    return a


def photo(alpha):
    """uint8 RGB: dark blue where alpha is 0, bright orange where it is 1."""
    dark, bright = np.array([20, 30, 90]), np.array([230, 160, 40])
    return np.round(dark + alpha[..., None] * (bright - dark)).astype(np.uint8)


@pytest.mark.parametrize("subsample", [1, 2])
def test_constant_guide_keeps_alpha_within_its_range(subsample):
    alpha = np.random.default_rng(0).uniform(0.2, 0.7, (40, 40)).astype(np.float32)
    out = guided_filter(np.full((40, 40, 3), 0.5, np.float32), alpha, 4, 1e-3, subsample)
    assert out.min() >= 0.2 - 1e-5 and out.max() <= 0.7 + 1e-5


def test_constant_alpha_is_unchanged():
    guide = np.random.default_rng(1).uniform(0, 1, (40, 40, 3)).astype(np.float32)
    assert np.allclose(guided_filter(guide, np.full((40, 40), 0.3, np.float32), 4, 1e-3), 0.3, atol=1e-5)


@pytest.mark.parametrize("subsample", [1, 2])
def test_edge_preserving_on_a_step(subsample):
    alpha = step()
    guide = photo(alpha).astype(np.float32) / 255
    out = guided_filter(guide, alpha, 4, 1e-4, subsample)
    box = cv2.blur(alpha, (9, 9))
    assert np.abs(out - alpha).max() < 0.1 < 0.4 < np.abs(box - alpha).max()


def test_guided_snaps_a_blurred_outline_to_the_photo_edge():
    truth = step(edge=21)
    blurred = np.roll(cv2.GaussianBlur(truth, (0, 0), 3), -1, axis=1)  # soft, and 1 px early
    out = refine(photo(truth), blurred, "guided", 6)
    jumps, blurred_jumps = np.diff(out[20]), np.diff(blurred[20])
    assert np.argmax(jumps) == 20 and jumps.max() > 3 * blurred_jumps.max()
    assert np.array_equal(out >= 0.5, truth >= 0.5)


def test_trimap_band_and_none():
    alpha = step()
    tri = trimap(alpha, 3)
    assert tri[0, 10] == 0 and tri[0, 30] == 1 and tri[0, 18] == 0.5 and tri[0, 22] == 0.5
    assert refine(photo(alpha), alpha, "none", 3) is alpha
    assert default_band((800, 600)) == 6 and default_band((800, 600), 0.02) == 12 and default_band((20, 30)) == 2


@pytest.mark.parametrize("method", ["knn", "cf"])
def test_matting_fixes_the_known_pixels_and_finds_the_edge(method):
    truth = step()
    shifted = np.roll(cv2.GaussianBlur(truth, (0, 0), 2), 2, axis=1)  # outline 2 px off
    out = refine(photo(truth), shifted, method, 5)
    tri = trimap(shifted, 5)
    assert np.array_equal(out[tri != 0.5], tri[tri != 0.5])
    assert ((out >= 0.5) == (truth >= 0.5)).mean() > ((shifted >= 0.5) == (truth >= 0.5)).mean()
