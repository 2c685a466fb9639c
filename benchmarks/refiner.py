"""The phone refiner (``--refiner_size``'s NAME_refiner.tflite) beside postprocess/refine.py on real photos.

    python benchmarks/refiner.py /tmp/refiner/initial_refiner.tflite --dataset_dir DATASETS/eg1800 \
        --peer PEERS/selfie_segmentation_legacy.tflite [--limit N] [--runs 50]

(PEERS and DATASETS: the folders of the shared data holding MediaPipe's file and the datasets.)

Each test photo of DIR/testing is brought to the refiner's size (cv2 INTER_AREA; eg1800's photos are
600x800 already) and run through the model the refiner pairs with (NAME.tflite beside it, in LiteRT as
its sidecar describes); its probability is then refined by postprocess/refine.py (``--refine=guided``) and by
the .tflite refiner. Prints, as a Markdown table, mean fg IoU and boundary F (3 px) of the unrefined,
Python-refined and tflite-refined alphas (truth = matte >= 128), how far the two refined alphas are apart
(max |diff|, pixels off by more than convert/refiner.py's OFF_BY, IoU of their masks pooled over the photos), and the times: Python's refine per photo (OpenCV at 1 and 2
threads, median over the photos), the refiner's invoke at 1 and 2 threads, beside the model's and the peer's invokes (each the median of
``--runs`` invokes, in ``--rounds`` interleaved rounds, median over rounds).
"""
import argparse
import json
import os
import statistics
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ai_edge_litert.interpreter import Interpreter  # noqa: E402

from benchmarks.latency import median_ms  # noqa: E402
from engine.evaluate import decoded_test_pairs, score  # noqa: E402
from convert.refiner import OFF_BY, feed, interpreter_for, run  # noqa: E402
from engine.segmenter import Segmenter  # noqa: E402
from postprocess.refine import refine, upsample  # noqa: E402
from models.predictors import sidecar_path  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("refiner", help="a NAME_refiner.tflite written by --refiner_size, with its sidecar and NAME.tflite")
    p.add_argument("--dataset_dir", required=True, help="folder whose testing/ holds X.jpg + X_matte.png")
    p.add_argument("--peer", default="", help="a peer's .tflite to time beside it, e.g. MediaPipe's selfie segmenter")
    p.add_argument("--limit", type=int, default=None, help="score only the first N test pairs")
    p.add_argument("--runs", type=int, default=50, help="timed invokes per file, thread count and round")
    p.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    return p.parse_args()


class Refiner:
    """NAME_refiner.tflite in LiteRT at 1 and 2 threads."""

    def __init__(self, path):
        with open(sidecar_path(path)) as f:
            self.sidecar = json.load(f)
        self.width, self.height = self.sidecar["refiner"]["photo_size"]
        self.band = self.sidecar["refiner"]["band_px"]
        self.interpreters = {threads: interpreter_for(path=path, threads=threads) for threads in (1, 2)}

    def __call__(self, photo, low):
        feed(self.interpreters[1], photo, low)  # for the timings
        return run(self.interpreters[2], photo, low)


def invokers(path):
    """{threads: invoke} for a one-input .tflite, fed random input."""
    found = {}
    for threads in (1, 2):
        interpreter = Interpreter(model_path=path, num_threads=threads)
        interpreter.allocate_tensors()
        detail = interpreter.get_input_details()[0]
        interpreter.set_tensor(detail["index"], np.random.default_rng(0).random(detail["shape"], np.float32))
        found[threads] = interpreter.invoke
    return found


def compare(refiner, model_path, dataset_dir, limit):
    """Per-photo scores of the three alphas, the two refined alphas' agreement (a line), and Python's refine
    times."""
    segmenter = Segmenter(model_path, refine="none")
    rows, worst, counts = {"none": [], "guided (Python)": [], "guided (tflite)": []}, 0.0, [0, 0, 0, 0]
    python_ms = {1: [], 2: []}
    iterator, count = decoded_test_pairs(dataset_dir)
    for _, (image, matte, _, _) in zip(range(limit or count), iterator):
        photo = cv2.resize(image, (refiner.width, refiner.height), interpolation=cv2.INTER_AREA)
        truth = cv2.resize(matte, (refiner.width, refiner.height), interpolation=cv2.INTER_LINEAR) >= 128 / 255
        low = segmenter.probability(photo)[None, ..., None]
        alpha = upsample(low[0, ..., 0], photo.shape)
        for threads, times in python_ms.items():
            cv2.setNumThreads(threads)
            start = time.perf_counter()
            python = refine(photo, alpha, "guided", refiner.band)
            times.append(1000 * (time.perf_counter() - start))
        lite = refiner(photo, low)
        for name, result in (("none", alpha), ("guided (Python)", python), ("guided (tflite)", lite)):
            rows[name].append(score(truth, result >= 0.5))
        worst = max(worst, float(np.abs(lite - python).max()))
        counts[0] += np.logical_and(lite >= 0.5, python >= 0.5).sum()
        counts[1] += np.logical_or(lite >= 0.5, python >= 0.5).sum()
        counts[2], counts[3] = counts[2] + (np.abs(lite - python) > OFF_BY).sum(), counts[3] + python.size
    agreement = f"max |diff| {worst:.2e}, {counts[2]} of {counts[3]} pixels off by more than {OFF_BY:g}, " \
                f"mask IoU (pooled) {counts[0] / counts[1]:.6f}"
    return rows, agreement, {t: statistics.median(times) for t, times in python_ms.items()}


def timings(refiner, files, runs, rounds):
    """{(label, threads): median invoke ms} over interleaved rounds."""
    subjects = {"refiner": {t: i.invoke for t, i in refiner.interpreters.items()}}
    subjects.update({os.path.basename(path): invokers(path) for path in files})
    measured = [{(name, t): median_ms(fn, runs) for name, by_threads in subjects.items() for t, fn in by_threads.items()}
                for _ in range(rounds)]
    return {key: statistics.median(m[key] for m in measured) for key in measured[0]}


def main():
    args = parse_args()
    refiner = Refiner(args.refiner)
    model_path = os.path.join(os.path.dirname(args.refiner), refiner.sidecar["pairs_with"])
    rows, agreement, python_ms = compare(refiner, model_path, args.dataset_dir, args.limit)
    print(f"{len(rows['none'])} test photos of {args.dataset_dir} at {refiner.width}x{refiner.height}, "
          f"band {refiner.band} px; model {os.path.basename(model_path)}")
    print("| alpha | mean fg IoU | boundary F |\n|---|---|---|")
    for name, figures in rows.items():
        print(f"| {name} | {np.mean([r['fg_iou'] for r in figures]):.4f} | "
              f"{np.mean([r['boundary_f'] for r in figures]):.4f} |")
    print(f"\ntflite against Python: {agreement}")
    times = timings(refiner, [model_path] + ([args.peer] if args.peer else []), args.runs, args.rounds)
    print("\n| what | size (KB) | 1 thread (ms) | 2 threads (ms) |\n|---|---|---|---|")
    print(f"| postprocess/refine.py guided, per photo (OpenCV threads) | - | {python_ms[1]:.2f} | {python_ms[2]:.2f} |")
    for name, path in [("refiner", args.refiner), (os.path.basename(model_path), model_path)] + \
            ([(os.path.basename(args.peer), args.peer)] if args.peer else []):
        print(f"| {os.path.basename(path)} invoke | {os.path.getsize(path) / 1024:.0f} | {times[name, 1]:.2f} | "
              f"{times[name, 2]:.2f} |")


if __name__ == "__main__":
    main()
