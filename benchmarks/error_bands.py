"""Where do a model's mistakes lie: on the person's outline, or far from it?

    python benchmarks/error_bands.py trained_models/initial.h5 --peer PEERS/selfie_segmentation_legacy.tflite \
        --dataset_dir DATASETS/eg1800

(PEERS and DATASETS: the folders of the shared data holding MediaPipe's file and the datasets.)

For each model, over ``<dataset_dir>/testing`` at the images' own resolution (prediction =
probability >= 0.5, truth = matte >= 128, as ``--evaluate``): the wrong pixels, binned by their
distance to the true outline, as a share of the summed union of prediction and truth. The bins add
up to 1 - dataset IoU. Errors within a few pixels of the outline are an edge's precision; errors
far from it are regions taken for the wrong class. A peer without a sidecar is run by MediaPipe's
convention (RGB in [0, 1], person probability out). Prints a Markdown table.
"""
import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.subjects import ours, peer  # noqa: E402
from engine.evaluate import boundary, decoded_test_pairs  # noqa: E402

BANDS = (0, 3, 8, 16, 32)  # lower edges in pixels; the last bin is open


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help="our .h5 checkpoints or .tflite exports (with sidecars)")
    p.add_argument("--peer", action="append", default=[], help="a peer's .tflite (no sidecar), e.g. MediaPipe's")
    p.add_argument("--dataset_dir", required=True, help="folder whose testing/ holds X.jpg + X_matte.png")
    return p.parse_args()


def outline_distance(truth):
    """Distance of each pixel to the nearest pixel on either side of the true outline."""
    outline = boundary(truth) | boundary(~truth)
    return cv2.distanceTransform((~outline).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def main():
    args = parse_args()
    subjects = {os.path.basename(p): ours(p) for p in args.models}
    subjects.update({os.path.basename(p): peer(p) for p in args.peer})
    errors = {name: np.zeros(len(BANDS)) for name in subjects}
    union = dict.fromkeys(subjects, 0)
    iterator, _ = decoded_test_pairs(args.dataset_dir)
    for image, matte, _, _ in iterator:
        truth = matte >= 128 / 255
        distance = outline_distance(truth)
        for name, alpha in subjects.items():
            pred = alpha(image) >= 0.5
            errors[name] += np.histogram(distance[pred ^ truth], bins=[*BANDS, np.inf])[0]
            union[name] += np.logical_or(pred, truth).sum()
    bins = [f"{a}–{b} px" for a, b in zip(BANDS, BANDS[1:])] + [f"≥ {BANDS[-1]} px"]
    print("| model | " + " | ".join(bins) + " | all (1 − dataset IoU) |")
    print("|---|" + "---|" * (len(bins) + 1))
    for name, counts in errors.items():
        shares = counts / max(1, union[name])
        print(f"| {name} | " + " | ".join(f"{s:.4f}" for s in shares) + f" | {shares.sum():.4f} |")


if __name__ == "__main__":
    main()
