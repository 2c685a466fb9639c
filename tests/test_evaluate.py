"""The evaluation metric of docs/DATA.md on masks worked out by hand."""
import cv2
import numpy as np

from data.synthetic import make_dataset
from engine.evaluate import boundary_f, iou, score, summarize, decoded_test_pairs, usable_test_pairs


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


def test_bad_test_pairs_are_skipped_and_a_mismatched_matte_resized(tmp_path, capsys):
    make_dataset(str(tmp_path / "set"), train=2, test=3, size=64, seed=2)
    testing = tmp_path / "set" / "testing"
    names = sorted(p.name for p in testing.glob("*_matte.png"))
    (testing / names[0].replace("_matte.png", ".jpg")).write_bytes(b"not a jpeg")
    small = cv2.imread(str(testing / names[1]), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(testing / names[1]), cv2.resize(small, (32, 32), interpolation=cv2.INTER_NEAREST))
    pairs = usable_test_pairs(str(tmp_path / "set"))
    err = capsys.readouterr().err
    assert len(pairs) == 2 and "skipping unusable test pair" in err and names[0].replace("_matte.png", ".jpg") in err
    assert names[1] in err and "resized to the image" in err
    iterator, count = decoded_test_pairs(str(tmp_path / "set"), pairs)
    shapes = [(image.shape[:2], matte.shape[:2]) for image, matte, _, _ in iterator]
    assert count == 2 and all(a == b for a, b in shapes)
