"""Full-resolution refinement (``--refine``) of our models' and peers' soft outputs, side by side.

    python benchmarks/refine.py trained_models/initial.h5 --peer PEERS/selfie_segmentation_legacy.tflite \
        --dataset_dir DATASETS/eg1800 [--refine none,guided,knn,cf] [--limit 50]

(PEERS and DATASETS: the folders of the shared data holding MediaPipe's file and the datasets.)

Each model's person probability is upsampled to the photo's own size and refined by each refiner,
then scored as ``--evaluate`` scores it (truth = matte >= 128, prediction = alpha >= 0.5): mean fg
IoU and boundary F (3 px); with soft mattes also SAD and MSE (whole image). The refiner's time per
image excludes the model. ``--limit N`` scores the first N test pairs. Prints the models' sha256
prefixes, the photo sizes and a Markdown table.
"""
import argparse
import collections
import hashlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.subjects import ours, peer  # noqa: E402
from postprocess.alpha_metrics import alpha_errors  # noqa: E402
from engine.evaluate import score, soft_mattes, decoded_test_pairs, usable_test_pairs  # noqa: E402
from postprocess.refine import default_band, refine  # noqa: E402
from config import REFINERS  # noqa: E402


def refiner_list(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in REFINERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown refiner '{(unknown or [text])[0]}'; valid: {', '.join(REFINERS)}")
    return names


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", help="our .h5 checkpoints or .tflite exports (with sidecars)")
    p.add_argument("--peer", action="append", default=[], help="a peer's .tflite (no sidecar), e.g. MediaPipe's")
    p.add_argument("--dataset_dir", required=True, help="folder whose testing/ holds X.jpg + X_matte.png")
    p.add_argument("--refine", type=refiner_list, default=list(REFINERS), help="refiners, comma-separated")
    p.add_argument("--trimap_band", type=int, default=None, help="band in px (default: as --refine's)")
    p.add_argument("--limit", type=int, default=None, help="score only the first N test pairs")
    return p.parse_args()


def sha256_prefix(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def score_all(subjects, refiners, dataset_dir, band, limit):
    """{(model, refiner): [per-image figures]} and the photo sizes seen."""
    figures, sizes = collections.defaultdict(list), collections.Counter()
    pairs = usable_test_pairs(dataset_dir)
    soft = soft_mattes(pairs)
    iterator, count = decoded_test_pairs(dataset_dir, pairs)
    for _, (image, matte, _, _) in zip(range(limit or count), iterator):
        truth, image_band = matte, band or default_band(image.shape)
        sizes[f"{image.shape[1]}×{image.shape[0]}"] += 1
        for name, predict in subjects.items():
            alpha = predict(image)
            for method in refiners:
                start = time.perf_counter()
                refined = refine(image, alpha, method, image_band)
                seconds = time.perf_counter() - start
                row = score(truth >= 128 / 255, refined >= 0.5)
                row["ms"] = 1000 * seconds
                if soft:
                    row.update(alpha_errors(refined, truth, image_band))
                figures[name, method].append(row)
    return figures, sizes, soft


def main():
    args = parse_args()
    subjects = {os.path.basename(p): ours(p) for p in args.models}
    subjects.update({os.path.basename(p): peer(p) for p in args.peer})
    for path in [*args.models, *args.peer]:
        print(f"{os.path.basename(path)}: sha256 {sha256_prefix(path)}")
    figures, sizes, soft = score_all(subjects, args.refine, args.dataset_dir, args.trimap_band, args.limit)
    common = ", ".join(f"{size} ({n})" for size, n in sizes.most_common(3))
    print(f"{sum(sizes.values())} test pairs of {args.dataset_dir}; photos: {common}"
          + (f" and {len(sizes) - 3} more sizes" if len(sizes) > 3 else ""))
    extra = ("sad", "mse") if soft else ()
    print("| model | refine | mean fg IoU | boundary F | refine ms / image |" + "".join(f" {k} |" for k in extra))
    print("|---|---|---|---|---|" + "---|" * len(extra))
    for (name, method), rows in figures.items():
        mean = lambda key: np.mean([r[key] for r in rows])  # noqa: E731
        cells = [f"{mean('fg_iou'):.4f}", f"{mean('boundary_f'):.4f}", f"{mean('ms'):.1f}"]
        cells += [f"{mean(k):.4f}" for k in extra]
        print(f"| {name} | {method} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
