"""Our models beside the peers on several kinds of people photos, in one run, with --evaluate's metric.

    python benchmarks/cross_domain.py trained_models/initial.h5 trained_models/initial.tflite \
        --peer PEERS/selfie_segmentation_legacy.tflite \
        --dataset_dir DATASETS/eg1800 --dataset_dir ./datasets/ccp1004 --dataset_dir ./datasets/humanseg290

(PEERS and DATASETS: the shared data's peers/ and datasets/ folders; ./datasets/* are held-out splits made
by ``python -m data.holdout``.) Each folder's ``testing/`` pairs are scored at the photos' own resolution:
per image the foreground IoU (truth = matte >= 128, prediction = probability >= 0.5), averaged over the
images (mean fg IoU); and the dataset IoU (total intersection / total union). Prints a Markdown table,
one row per model, one column pair per set, and the mean over the sets.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.subjects import ours, peer  # noqa: E402
from engine.evaluate import iou, decoded_test_pairs  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", help="our .h5 checkpoints or .tflite exports (with sidecars)")
    p.add_argument("--peer", action="append", default=[], help="a peer's .tflite (no sidecar), e.g. MediaPipe's")
    p.add_argument("--dataset_dir", action="append", required=True, help="a folder with testing/ (repeatable)")
    return p.parse_args()


def score_set(subjects, folder):
    """{model: (mean fg IoU, dataset IoU, images)} on ``folder``/testing."""
    per_image = {name: [] for name in subjects}
    inter, union = dict.fromkeys(subjects, 0), dict.fromkeys(subjects, 0)
    iterator, _ = decoded_test_pairs(folder)
    for image, matte, _, _ in iterator:
        truth = matte >= 128 / 255
        for name, alpha in subjects.items():
            pred = alpha(image) >= 0.5
            per_image[name].append(iou(truth, pred))
            inter[name] += np.logical_and(truth, pred).sum()
            union[name] += np.logical_or(truth, pred).sum()
    return {name: (float(np.mean(v)), inter[name] / max(1, union[name]), len(v)) for name, v in per_image.items()}


def main():
    args = parse_args()
    subjects = {os.path.basename(p): ours(p) for p in args.models}
    subjects.update({os.path.basename(p): peer(p) for p in args.peer})
    names = [os.path.basename(os.path.normpath(d)) for d in args.dataset_dir]
    results = {name: score_set(subjects, folder) for name, folder in zip(names, args.dataset_dir)}
    counts = ", ".join(f"{n} {next(iter(results[n].values()))[2]}" for n in names)
    print(f"test images: {counts}")
    print("| model | " + " | ".join(f"{n} mean fg IoU | {n} dataset IoU" for n in names) + " | mean of sets |")
    print("|---|" + "---|---|" * len(names) + "---|")
    for model in subjects:
        cells = [f"{results[n][model][0]:.4f} | {results[n][model][1]:.4f}" for n in names]
        mean = np.mean([results[n][model][0] for n in names])
        print(f"| {model} | " + " | ".join(cells) + f" | {mean:.4f} |")


if __name__ == "__main__":
    main()
