"""``--evaluate``: score a model on ``<dataset_dir>/testing`` with the portrait papers' metric.

Per test image, at the image's own resolution: ground truth = matte >= 128, prediction =
foreground probability >= 0.5 after upsampling. Reported: the mean of per-image foreground IoU
(``mean_fg_iou``, the papers' "mIoU"), the dataset-level IoU (total intersection / total union),
the mean over images of the two-class (person, background) mean IoU, the boundary F-score within
3 px, and images per second end to end (decode, resize, predict, upsample, refine). The alpha is
refined first (``--refine``); when the mattes are soft, the alpha errors of ``postprocess.alpha_metrics``
are reported too, over the whole image and over the ground truth's unknown band.
"""
import os
import time

import cv2
import numpy as np
import tensorflow as tf

from config import OutputConfig
from data.dataset import dataset_dirs, decode_image, decode_matte, find_pairs, set_names
from data.scan import usable
from postprocess.alpha_metrics import alpha_errors
from engine.infer import predict_alpha, write_image
from models.predictors import load_predictor
from postprocess.refine import default_band, refine
from utils import writable_folder

BOUNDARY_TOLERANCE = 3
WORST_SHOWN = 16
SHEET_HEIGHT = 200


def iou(a, b):
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else np.logical_and(a, b).sum() / union


def boundary(mask):
    """One-pixel inner boundary of a boolean mask."""
    m = mask.astype(np.uint8)
    return (m - cv2.erode(m, np.ones((3, 3), np.uint8))).astype(bool)


def boundary_f(truth, pred, tolerance=BOUNDARY_TOLERANCE):
    """F-score of boundary pixels matched within ``tolerance`` pixels (Perazzi et al. 2016)."""
    bt, bp = boundary(truth), boundary(pred)
    if not bt.any() and not bp.any():
        return 1.0
    if not bt.any() or not bp.any():
        return 0.0
    near = lambda b: cv2.distanceTransform((~b).astype(np.uint8), cv2.DIST_L2, 3) <= tolerance  # noqa: E731
    precision, recall = (bp & near(bt)).sum() / bp.sum(), (bt & near(bp)).sum() / bt.sum()
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def score(truth, pred):
    """Per-image figures for boolean masks of the same size."""
    return {"fg_iou": iou(truth, pred), "bg_iou": iou(~truth, ~pred), "boundary_f": boundary_f(truth, pred),
            "inter": np.logical_and(truth, pred).sum(), "union": np.logical_or(truth, pred).sum()}


def soft_mattes(pairs):
    """Whether the mattes of ``pairs`` hold more than two grey levels between them."""
    levels = set()
    for _, matte in pairs:
        levels.update(np.unique(cv2.imread(matte, cv2.IMREAD_GRAYSCALE)).tolist())
        if len(levels) > 2:
            return True
    return False


def usable_test_pairs(dataset_dir):
    """``dataset_dir``/testing's pairs after the training scan: unusable ones skipped and named, mattes of
    another size named (they are resized to their image)."""
    return usable(find_pairs(os.path.join(dataset_dir, "testing")), "test", "resized to the image")[0]


def matte_at_image_size(image, matte):
    size = tf.shape(image)[:2]
    return tf.cond(tf.reduce_all(tf.shape(matte)[:2] == size), lambda: matte,
                   lambda: tf.image.resize(matte, size, method="bilinear"))


def decoded_test_pairs(dataset_dir, pairs=None):
    """(image, matte at the image's size, image path, matte path) for each usable test pair, decoded in
    parallel ahead of use, and their number."""
    pairs = pairs or usable_test_pairs(dataset_dir)
    images, mattes = (list(x) for x in zip(*pairs))
    ds = tf.data.Dataset.from_tensor_slices((images, mattes))

    def load(image_path, matte_path):
        image = decode_image(image_path)
        return image, matte_at_image_size(image, decode_matte(matte_path)), image_path, matte_path
    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).prefetch(4).as_numpy_iterator(), len(pairs)


def contact_sheet(rows):
    """image | truth | prediction rows, each scaled to SHEET_HEIGHT, stacked vertically."""
    def fit(a):
        a = np.dstack([a] * 3) if a.ndim == 2 else a
        return cv2.resize(a, (round(a.shape[1] * SHEET_HEIGHT / a.shape[0]), SHEET_HEIGHT))
    strips = [np.hstack([fit(image), fit(truth), fit(pred)]) for image, truth, pred in rows]
    width = max(s.shape[1] for s in strips)
    return np.vstack([np.pad(s, ((0, 0), (0, width - s.shape[1]), (0, 0))) for s in strips])


def figure_line(figures):
    return " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())


def evaluate(weights, dataset_dir, output: OutputConfig):
    """Score ``weights`` on each --dataset_dir folder's test split: one summary line per set (and their mean
    when there are several); the worst images of each go to --output_dir. Returns the figures by set."""
    predict, size = load_predictor(weights, output.input_shape)
    folders = dataset_dirs(dataset_dir)
    by_set = {}
    for name, folder in zip(set_names(folders), folders):
        figures, sheet = evaluate_set(predict, size, folder, output.output_dir, weights,
                                      name if len(folders) > 1 else "", output.refine, output.trimap_band)
        print((f"set={name} " if len(folders) > 1 else "") + figure_line(figures))
        print(f"worst {min(WORST_SHOWN, figures['images'])} images: {sheet}")
        by_set[name] = figures
    if len(folders) > 1:
        keys = ("mean_fg_iou", "dataset_iou", "miou_2class", "boundary_f")
        print(f"mean over {len(folders)} sets: " + figure_line({k: float(np.mean([f[k] for f in by_set.values()]))
                                                              for k in keys}))
    return by_set if len(folders) > 1 else by_set[name]


def evaluate_set(predict, size, folder, output_dir, weights, label, method, band):
    """Figures for ``folder``'s test split with the alpha refined by ``method`` in a trimap band of
    ``band`` px (None: ``default_band`` of each photo), and the path of its worst-images sheet."""
    pairs = usable_test_pairs(folder)
    iterator, count = decoded_test_pairs(folder, pairs)
    soft = soft_mattes(pairs)
    results, alpha_scores, refine_s, start = [], [], 0.0, time.perf_counter()
    for image, matte, path, matte_path in iterator:
        alpha = predict_alpha(predict, image, size)
        image_band = band or default_band(image.shape)
        refine_start = time.perf_counter()
        alpha = refine(image, alpha, method, image_band)
        refine_s += time.perf_counter() - refine_start
        pred = alpha >= 0.5
        results.append((score(matte[..., 0] >= 128 / 255, pred), (path.decode(), matte_path.decode()), pred))
        if soft:
            alpha_scores.append(alpha_errors(alpha, matte[..., 0], image_band))
    figures = summarize([r[0] for r in results], count / (time.perf_counter() - start), size)
    figures.update(refine=method, refine_ms=1000 * refine_s / max(1, count))
    if alpha_scores:
        figures.update({key: float(np.mean([s[key] for s in alpha_scores])) for key in alpha_scores[0]})
    return figures, write_worst(results, output_dir, weights, label)


def summarize(scores, img_per_s, size):
    mean = lambda key: float(np.mean([s[key] for s in scores]))  # noqa: E731
    return {"images": len(scores), "input": size, "mean_fg_iou": mean("fg_iou"),
            "dataset_iou": float(sum(s["inter"] for s in scores) / max(1, sum(s["union"] for s in scores))),
            "miou_2class": float(np.mean([(s["fg_iou"] + s["bg_iou"]) / 2 for s in scores])),
            "boundary_f": mean("boundary_f"), "img_per_s": float(img_per_s)}


def write_worst(results, output_dir, weights, label=""):
    worst = sorted(results, key=lambda r: r[0]["fg_iou"])[:WORST_SHOWN]
    rows = []
    for s, (path, matte_path), pred in worst:
        image = decode_image(path)
        truth = matte_at_image_size(image, decode_matte(matte_path)).numpy()[..., 0] >= 0.5
        image = image.numpy()
        rows.append((image, (truth * 255).astype(np.uint8), (pred * 255).astype(np.uint8)))
    stem = os.path.splitext(os.path.basename(weights))[0] + (f"_{label}" if label else "")
    path = os.path.join(writable_folder(output_dir, "--output_dir"), f"{stem}_worst.jpg")
    write_image(path, contact_sheet(rows))
    return path
