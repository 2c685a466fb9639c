"""``--evaluate``: score a model on ``<dataset_dir>/testing`` with the portrait papers' metric.

Per test image, at the image's own resolution: ground truth = matte >= 128, prediction =
foreground probability >= 0.5 after upsampling. Reported: the mean of per-image foreground IoU
(``mean_fg_iou``, the papers' "mIoU"), the dataset-level IoU (total intersection / total union),
the mean over images of the two-class (person, background) mean IoU, the boundary F-score within
3 px, and images per second end to end (decode, resize, predict, upsample, refine). The alpha is
refined first (``--refine``); when the mattes are soft, the alpha errors of ``postprocess.alpha_metrics``
are reported too, over the whole image and over the ground truth's unknown band.
"""
import collections
import heapq
import os
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from config import OutputConfig
from data.images import read_image, read_matte
from data.layout import dataset_dirs, find_pairs, set_names
from data.scan import usable
from engine.infer import write_image
from engine.segmenter import Segmenter
from postprocess.alpha_metrics import alpha_errors
from postprocess.refine import default_band, photo_alpha
from utils import writable_folder

BOUNDARY_TOLERANCE = 3
WORST_SHOWN = 16
SHEET_HEIGHT = 200
DECODE_AHEAD = 4  # test pairs decoded ahead of the model, in threads (Pillow releases the GIL)


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


def decoded_pair(image_path, matte_path):
    """(image, matte at the image's size (H, W) in [0, 1], image path, matte path)."""
    image, matte = read_image(image_path, "--dataset_dir"), read_matte(matte_path)
    if matte.shape != image.shape[:2]:
        matte = cv2.resize(matte, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    return image, matte, image_path, matte_path


def decoded_test_pairs(dataset_dir, pairs=None):
    """(image, matte, image path, matte path) for each usable test pair, decoded DECODE_AHEAD ahead of use,
    and their number."""
    pairs = pairs or usable_test_pairs(dataset_dir)

    def generate():
        with ThreadPoolExecutor(DECODE_AHEAD) as pool:
            ahead = collections.deque()
            for pair in pairs:
                ahead.append(pool.submit(decoded_pair, *pair))
                if len(ahead) > DECODE_AHEAD:
                    yield ahead.popleft().result()
            while ahead:
                yield ahead.popleft().result()
    return generate(), len(pairs)


def contact_sheet(rows):
    """image | truth | prediction rows, each scaled to SHEET_HEIGHT and captioned, stacked vertically."""
    def fit(a):
        a = np.dstack([a] * 3) if a.ndim == 2 else a
        return cv2.resize(a, (round(a.shape[1] * SHEET_HEIGHT / a.shape[0]), SHEET_HEIGHT))
    strips = []
    for image, truth, pred, caption in rows:
        strip = np.hstack([fit(image), fit(truth), fit(pred)])
        for colour, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):  # white on a black outline
            cv2.putText(strip, caption, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, thickness, cv2.LINE_AA)
        strips.append(strip)
    width = max(s.shape[1] for s in strips)
    return np.vstack([np.pad(s, ((0, 0), (0, width - s.shape[1]), (0, 0))) for s in strips])


def figure_line(figures):
    return " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())


def evaluate(weights, dataset_dir, output: OutputConfig):
    """Score ``weights`` on each --dataset_dir folder's test split: one summary line per set (and their mean
    when there are several); the worst images of each go to --output_dir. Returns the figures by set."""
    segmenter = Segmenter(weights, output.refine, output.input_shape, output.trimap_band)
    folders = dataset_dirs(dataset_dir)
    by_set = {}
    for name, folder in zip(set_names(folders), folders):
        figures, sheet = evaluate_set(segmenter, folder, output.output_dir, weights, name if len(folders) > 1 else "")
        print((f"set={name} " if len(folders) > 1 else "") + figure_line(figures))
        print(f"worst {min(WORST_SHOWN, figures['images'])} images: {sheet}")
        by_set[name] = figures
    if len(folders) > 1:
        keys = ("mean_fg_iou", "dataset_iou", "miou_2class", "boundary_f")
        print(f"mean over {len(folders)} sets: " + figure_line({k: float(np.mean([f[k] for f in by_set.values()]))
                                                              for k in keys}))
    return by_set if len(folders) > 1 else by_set[name]


def evaluate_set(segmenter, folder, output_dir, weights, label):
    """Figures for ``folder``'s test split, the alpha refined as ``segmenter`` refines it, and the path of
    its worst-images sheet. Only the WORST_SHOWN worst predictions are kept for the sheet."""
    pairs = usable_test_pairs(folder)
    iterator, count = decoded_test_pairs(folder, pairs)
    soft = soft_mattes(pairs)
    scores, worst, alpha_scores, refine_s, start = [], [], [], 0.0, time.perf_counter()
    for index, (image, matte, path, matte_path) in enumerate(iterator):
        probability = segmenter.probability(image)
        band = segmenter.trimap_band or default_band(image.shape)
        refine_start = time.perf_counter()
        alpha = photo_alpha(image, probability, segmenter.refine, band)
        refine_s += time.perf_counter() - refine_start
        pred = alpha >= 0.5
        scores.append(score(matte >= 128 / 255, pred))
        entry = (-scores[-1]["fg_iou"], index, path, matte_path, np.packbits(pred))
        (heapq.heappush if len(worst) < WORST_SHOWN else heapq.heappushpop)(worst, entry)
        if soft:
            alpha_scores.append(alpha_errors(alpha, matte, band))
    figures = summarize(scores, count / (time.perf_counter() - start), segmenter.size)
    figures.update(refine=segmenter.refine, refine_ms=1000 * refine_s / max(1, count))
    if alpha_scores:
        figures.update({key: float(np.mean([s[key] for s in alpha_scores])) for key in alpha_scores[0]})
    return figures, write_worst(sorted(worst, reverse=True), output_dir, weights, label)


def summarize(scores, img_per_s, size):
    mean = lambda key: float(np.mean([s[key] for s in scores]))  # noqa: E731
    return {"images": len(scores), "input": size, "mean_fg_iou": mean("fg_iou"),
            "dataset_iou": float(sum(s["inter"] for s in scores) / max(1, sum(s["union"] for s in scores))),
            "miou_2class": float(np.mean([(s["fg_iou"] + s["bg_iou"]) / 2 for s in scores])),
            "boundary_f": mean("boundary_f"), "img_per_s": float(img_per_s)}


def write_worst(worst, output_dir, weights, label=""):
    """The sheet of ``worst``: (-IoU, index, image path, matte path, packed prediction), worst first."""
    rows = []
    for negative_iou, _, path, matte_path, packed in worst:
        image, matte, _, _ = decoded_pair(path, matte_path)
        pred = np.unpackbits(packed, count=matte.size).reshape(matte.shape).astype(bool)
        rows.append((image, ((matte >= 0.5) * 255).astype(np.uint8), (pred * 255).astype(np.uint8),
                     f"{os.path.basename(path)}  IoU {-negative_iou:.3f}"))
    stem = os.path.splitext(os.path.basename(weights))[0] + (f"_{label}" if label else "")
    path = os.path.join(writable_folder(output_dir, "--output_dir"), f"{stem}_worst.jpg")
    write_image(path, contact_sheet(rows))
    return path
