"""The evaluation metric of docs/DATA.md on masks worked out by hand."""
import numpy as np

from engine.evaluate import boundary_f, iou, score, summarize


def square(size=40, lo=10, hi=30):
    mask = np.zeros((size, size), bool)
    mask[lo:hi, lo:hi] = True
    return mask


def test_iou_by_hand():
    truth, pred = square(lo=10, hi=30), square(lo=20, hi=30)
    assert np.isclose(iou(truth, pred), 100 / 400)
    assert iou(np.zeros((4, 4), bool), np.zeros((4, 4), bool)) == 1.0


def test_boundary_f_tolerance():
    truth = square()
    assert boundary_f(truth, truth) == 1.0
    shifted = np.roll(truth, 2, axis=1)
    assert boundary_f(truth, shifted) == 1.0  # within 3 px
    far = np.roll(truth, 8, axis=1)
    assert boundary_f(truth, far) < 0.6
    assert boundary_f(truth, np.zeros_like(truth)) == 0.0


def test_summary_means_and_dataset_iou():
    a, b = score(square(), square()), score(square(), square(lo=20, hi=30))
    figures = summarize([a, b], img_per_s=10.0, size=64)
    assert np.isclose(figures["mean_fg_iou"], (1.0 + 0.25) / 2)
    assert np.isclose(figures["dataset_iou"], (400 + 100) / (400 + 400))
    bg_b = (1600 - 400) / (1600 - 100)
    assert np.isclose(figures["miou_2class"], (1.0 + (0.25 + bg_b) / 2) / 2)


def test_outline_distance_bins_errors_by_how_far_they_are_from_the_edge():
    from benchmarks.error_bands import outline_distance
    truth = square()
    distance = outline_distance(truth)
    assert distance[10, 20] == 0 and distance[9, 20] == 0  # both sides of the top edge
    assert distance[20, 20] >= 9 and distance[0, 20] >= 9  # the middle, and far outside
    grown = square(lo=8, hi=32)  # a 2 px halo: every wrong pixel within 2 px of the outline
    assert distance[grown ^ truth].max() <= 2
