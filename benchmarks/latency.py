"""How fast do exported models run? Each file beside MediaPipe's selfie segmenter, in one run.

    python benchmarks/latency.py trained_models/initial*.tflite --peer PEERS/selfie_segmentation_legacy.tflite

(PEERS: the folder holding MediaPipe's file, `peers/` of the shared data.)

For each .tflite: file size; median invoke time in the LiteRT interpreter (XNNPACK) at 1 and 2
threads; and the median end-to-end time from a decoded 600x800 RGB array to a full-resolution mask
(resize, normalise, invoke, decode, bilinear upsample, threshold), at 2 threads. The models are
measured in interleaved rounds; each figure is the median of the rounds' medians. Our files are read
as their sidecars describe them; a peer without one is taken as RGB in [0, 1] in, person probability
in its last channel out (MediaPipe's convention). Prints a Markdown table.
"""
import argparse
import os
import statistics
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ai_edge_litert.interpreter import Interpreter  # noqa: E402

from models.predictors import foreground, read_sidecar, sidecar_path  # noqa: E402

FRAME_SHAPE = (800, 600, 3)  # a 600 x 800 portrait photo, as in EG1800


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help=".tflite files exported by main.py (with their .json sidecars)")
    p.add_argument("--peer", action="append", default=[], help="a peer's .tflite (no sidecar), e.g. MediaPipe's")
    p.add_argument("--runs", type=int, default=200, help="timed invokes per model, thread count and round")
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds over all models, interleaved so that a busy moment does not favour one; "
                        "each figure is the median over rounds")
    return p.parse_args()


def reader(path):
    """(scale, offset, output kind) for one of our files, or MediaPipe's convention for a peer."""
    if os.path.isfile(sidecar_path(path)):
        side = read_sidecar(path)
        return side["input"]["scale"], side["input"]["offset"], side["output"]["kind"]
    return 1 / 255, 0.0, "sigmoid"


def median_ms(fn, runs):
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


class Subject:
    """One .tflite in two interpreters (1 and 2 threads), with its end-to-end pipeline."""

    def __init__(self, path):
        self.path, (self.scale, self.offset, self.kind) = path, reader(path)
        self.interpreters = {threads: Interpreter(model_path=path, num_threads=threads) for threads in (1, 2)}
        for interpreter in self.interpreters.values():
            interpreter.allocate_tensors()
            inp = interpreter.get_input_details()[0]
            interpreter.set_tensor(inp["index"], np.random.default_rng(0).random(inp["shape"], np.float32))
        self.size = int(self.interpreters[1].get_input_details()[0]["shape"][1])

    def end_to_end(self, frame):
        interpreter = self.interpreters[2]
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        x = cv2.resize(frame, (self.size, self.size), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        interpreter.set_tensor(inp["index"], (x * self.scale + self.offset)[None])
        interpreter.invoke()
        prob = foreground(interpreter.get_tensor(out["index"]), self.kind)[0]
        return cv2.resize(prob, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR) >= 0.5

    def measure(self, runs, frame):
        return {"invoke_ms_1t": median_ms(self.interpreters[1].invoke, runs),
                "invoke_ms_2t": median_ms(self.interpreters[2].invoke, runs),
                "end_to_end_ms_2t": median_ms(lambda: self.end_to_end(frame), max(20, runs // 4))}


def main():
    args = parse_args()
    frame = np.random.default_rng(1).integers(0, 256, FRAME_SHAPE, dtype=np.uint8)
    subjects = [Subject(path) for path in args.models + args.peer]
    rounds = [[subject.measure(args.runs, frame) for subject in subjects] for _ in range(args.rounds)]
    rows = []
    for i, subject in enumerate(subjects):
        row = {key: statistics.median(r[i][key] for r in rounds) for key in rounds[0][i]}
        rows.append({**row, "file": os.path.basename(subject.path), "input": f"{subject.size}x{subject.size}",
                     "KB": os.path.getsize(subject.path) / 1024})
    print("| file | input | size (KB) | invoke, 1 thread (ms) | invoke, 2 threads (ms) | end to end, 600x800 (ms) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['file']} | {r['input']} | {r['KB']:.0f} | {r['invoke_ms_1t']:.2f} | {r['invoke_ms_2t']:.2f} "
              f"| {r['end_to_end_ms_2t']:.2f} |")


if __name__ == "__main__":
    main()
