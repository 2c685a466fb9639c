"""Where do MediaPipe's masks and ours part? Each resampling step of ours swapped for MediaPipe's, in turn.

    python benchmarks/resampling.py trained_models/initial.tflite --dataset_dir DATASETS/eg1800

(DATASETS: the shared data's datasets/ folder; needs requirements-mediapipe.txt.) The file runs in LiteRT
as its sidecar describes it. The photo is shrunk to the model's input either as ``--infer_single_img``
does (antialiased, pixel-centred bilinear) or as MediaPipe's ImageSegmenter does (an affine warp that
samples from the top-left pixel, without antialiasing); the probability is brought back to the photo's
size either as ours does (pixel-centred bilinear) or as MediaPipe does (corner-aligned bilinear). For
each of the four pipelines: the mean per-image foreground IoU with the ground truth on DIR/testing,
and the IoU with MediaPipe's own category mask of the same file, pooled over the photos. Prints a
Markdown table.
"""
import argparse
import os
import sys

import cv2
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.latency import Segmenters  # noqa: E402
from data.dataset import normalize, resize_image  # noqa: E402
from engine.evaluate import decoded_test_pairs, iou  # noqa: E402
from models.predictors import LiteRTModel, foreground, read_sidecar  # noqa: E402
from utils import native_stderr_muted  # noqa: E402


def shrink_ours(photo, size):
    return resize_image(normalize(photo[None]), size).numpy()


def shrink_mediapipe(photo, size):
    height, width = photo.shape[:2]
    warp = np.float32([[size / width, 0, 0], [0, size / height, 0]])
    return cv2.warpAffine(photo, warp, (size, size), flags=cv2.INTER_LINEAR)[None].astype(np.float32) / 255.0


def grow_ours(probability, height, width):
    return tf.image.resize(probability[None, ..., None], (height, width), method="bilinear")[0, ..., 0].numpy()


def grow_mediapipe(probability, height, width):
    size = probability.shape[0]
    warp = np.float32([[(size - 1) / (width - 1), 0, 0], [0, (size - 1) / (height - 1), 0]])
    return cv2.warpAffine(probability, warp, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


SHRINK = {"ours": shrink_ours, "MediaPipe's": shrink_mediapipe}
GROW = {"ours": grow_ours, "MediaPipe's": grow_mediapipe}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a .tflite exported by main.py (with its sidecar and metadata)")
    p.add_argument("--dataset_dir", required=True, help="a folder with testing/")
    args = p.parse_args()
    side = read_sidecar(args.model)
    with native_stderr_muted():
        model = LiteRTModel(args.model, threads=2)
    size, kind = int(model.input["shape"][1]), side["output"]["kind"]
    mediapipe = Segmenters(args.model, int(model.output["shape"][-1]))
    truth_ious = {(s, g): [] for s in SHRINK for g in GROW}
    agreement = {key: np.zeros(2) for key in truth_ious}
    theirs_ious = []
    for photo, matte, _, _ in decoded_test_pairs(args.dataset_dir)[0]:
        height, width = photo.shape[:2]
        truth = matte >= 128 / 255
        theirs = mediapipe.person_mask(photo, "category")
        theirs_ious.append(iou(truth, theirs))
        for shrink_name, shrink in SHRINK.items():
            probability = foreground(model(shrink(photo, size)), kind)[0]
            for grow_name, grow in GROW.items():
                mine = grow(probability, height, width) >= 0.5
                truth_ious[shrink_name, grow_name].append(iou(truth, mine))
                agreement[shrink_name, grow_name] += np.logical_and(mine, theirs).sum(), np.logical_or(mine, theirs).sum()
    mediapipe.close()
    print(f"{args.model} on {len(theirs_ious)} photos of {args.dataset_dir}/testing\n")
    print("| shrink | grow | mean fg IoU with the ground truth | IoU with MediaPipe's category mask |")
    print("|---|---|---|---|")
    for (shrink_name, grow_name), values in truth_ious.items():
        both, either = agreement[shrink_name, grow_name]
        print(f"| {shrink_name} | {grow_name} | {np.mean(values):.4f} | {both / either:.4f} |")
    print(f"| MediaPipe's ImageSegmenter | | {np.mean(theirs_ious):.4f} | 1 |")


if __name__ == "__main__":
    main()
