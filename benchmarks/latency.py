"""How fast do exported models run? Each file beside MediaPipe's selfie segmenter, in one run.

    python benchmarks/latency.py trained_models/initial*.tflite --peer PEERS/selfie_segmentation_legacy.tflite

(PEERS: the folder holding MediaPipe's file, `peers/` of the shared data.)

For each .tflite: file size; median invoke time in the LiteRT interpreter (XNNPACK) at 1 and 2
threads; and the median end-to-end time from a decoded 600x800 RGB array to a full-resolution mask
(resize, normalise, invoke, decode, bilinear upsample, threshold), at 2 threads. The models are
measured in interleaved rounds; each figure is the median of the rounds' medians. Our files are read
as their sidecars describe them; a peer without one is taken as RGB in [0, 1] in, person probability
in its last channel out (MediaPipe's convention). Prints a Markdown table.

``--mediapipe`` (needs requirements-mediapipe.txt) also runs every file through MediaPipe Tasks'
ImageSegmenter, as an app does (IMAGE mode, CPU), which reads it by its TFLite model metadata: the
median time from the 600x800 array to the person's mask at the photo's size, with a category mask
or with confidence masks, in the same interleaved rounds. With ``--dataset_dir DIR`` it then
prints the IoU of MediaPipe's person masks with ours on DIR/testing, pooled over the photos (ours:
``--infer_single_img`` with ``--refine=none``, the file run in LiteRT as its sidecar describes it):
at the photo's size, and on the photo first resized to the model's input by our preprocessing,
where MediaPipe does not resample; and the mean per-image foreground IoU with the ground truth, at the
photo's size, of ours and of MediaPipe's category mask (what an app gets from the same file).

    python benchmarks/latency.py trained_models/initial*.tflite --peer PEERS/models/kop12/selfie_segmenter.tflite \
        --mediapipe --dataset_dir DATASETS/eg1800
"""
import argparse
import importlib.util
import os
import statistics
import sys
import time
from functools import partial

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ai_edge_litert.interpreter import Interpreter  # noqa: E402

from benchmarks.subjects import ours  # noqa: E402
from convert.metadata import check_metadata  # noqa: E402
from data.dataset import find_pairs, resize_image  # noqa: E402
from engine.evaluate import decoded_test_pairs, iou  # noqa: E402
from models.predictors import foreground, read_sidecar, sidecar_path  # noqa: E402
from utils import UserError  # noqa: E402

FRAME_SHAPE = (800, 600, 3)  # a 600 x 800 portrait photo, as in EG1800
MASKS = ("category", "confidence")
AGREEMENT_COLUMNS = ((("category", "photo"), ("confidence", "photo")), (("category", "input"), ("confidence", "input")),
                     (("truth", "ours"), ("truth", "category")))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help=".tflite files exported by main.py (with their .json sidecars)")
    p.add_argument("--peer", action="append", default=[], help="a peer's .tflite (no sidecar), e.g. MediaPipe's")
    p.add_argument("--runs", type=int, default=200, help="timed invokes per model, thread count and round")
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds over all models, interleaved so that a busy moment does not favour one; "
                        "each figure is the median over rounds")
    p.add_argument("--mediapipe", action="store_true",
                   help="also time every file through MediaPipe Tasks' ImageSegmenter (each must carry metadata)")
    p.add_argument("--dataset_dir", default="",
                   help="with --mediapipe: the IoU of MediaPipe's masks with ours on DIR/testing")
    args = p.parse_args()
    if args.dataset_dir and not args.mediapipe:
        p.error("--dataset_dir needs --mediapipe")
    if args.mediapipe and importlib.util.find_spec("mediapipe") is None:
        p.error("--mediapipe needs MediaPipe: see requirements-mediapipe.txt")
    try:
        for path in args.models + args.peer if args.mediapipe else ():
            check_metadata(path, "--mediapipe")
        args.photos = find_pairs(os.path.join(args.dataset_dir, "testing")) if args.dataset_dir else []
    except UserError as err:
        p.error(str(err))
    return args


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


class Segmenters:
    """One .tflite in MediaPipe Tasks' ImageSegmenter, as an app runs it: one giving a category mask, one
    giving confidence masks."""

    def __init__(self, path, channels):
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision
        self.image = lambda frame: mp.Image(image_format=mp.ImageFormat.SRGB, data=frame)
        self.by_mask = {mask: vision.ImageSegmenter.create_from_options(vision.ImageSegmenterOptions(
            base_options=BaseOptions(model_asset_path=path), output_category_mask=mask == "category",
            output_confidence_masks=mask == "confidence")) for mask in MASKS}
        self.person = channels - 1  # MediaPipe marks a single mask's person 0; of two channels, ours is 1

    def person_mask(self, frame, mask):
        """The person's pixels at ``frame``'s size."""
        result = self.by_mask[mask].segment(self.image(frame))
        if mask == "category":
            return result.category_mask.numpy_view()[..., 0] == self.person
        return result.confidence_masks[-1].numpy_view()[..., 0] >= 0.5

    def close(self):
        for segmenter in self.by_mask.values():
            segmenter.close()


class Subject:
    """One .tflite in two interpreters (1 and 2 threads), with its end-to-end pipeline, and optionally
    in MediaPipe's ImageSegmenter."""

    def __init__(self, path, mediapipe=False):
        self.path, (self.scale, self.offset, self.kind) = path, reader(path)
        self.interpreters = {threads: Interpreter(model_path=path, num_threads=threads) for threads in (1, 2)}
        for interpreter in self.interpreters.values():
            interpreter.allocate_tensors()
            inp = interpreter.get_input_details()[0]
            interpreter.set_tensor(inp["index"], np.random.default_rng(0).random(inp["shape"], np.float32))
        self.size = int(self.interpreters[1].get_input_details()[0]["shape"][1])
        channels = int(self.interpreters[1].get_output_details()[0]["shape"][-1])
        self.mediapipe = Segmenters(path, channels) if mediapipe else None

    def end_to_end(self, frame):
        interpreter = self.interpreters[2]
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        x = cv2.resize(frame, (self.size, self.size), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        interpreter.set_tensor(inp["index"], (x * self.scale + self.offset)[None])
        interpreter.invoke()
        prob = foreground(interpreter.get_tensor(out["index"]), self.kind)[0]
        return cv2.resize(prob, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR) >= 0.5

    def measure(self, runs, frame):
        frames = max(20, runs // 4)
        figures = {"invoke_ms_1t": median_ms(self.interpreters[1].invoke, runs),
                   "invoke_ms_2t": median_ms(self.interpreters[2].invoke, runs),
                   "end_to_end_ms_2t": median_ms(partial(self.end_to_end, frame), frames)}
        for mask in MASKS if self.mediapipe else ():
            figures[f"mediapipe_{mask}_ms"] = median_ms(partial(self.mediapipe.person_mask, frame, mask), frames)
        return figures


def at_input_size(photo, size):
    """``photo`` resized to the model's input by our preprocessing, so that MediaPipe does not resample it."""
    return np.clip(np.round(resize_image(photo[None].astype(np.float32), size).numpy()[0]), 0, 255).astype(np.uint8)


def agreement(subject, pairs):
    """IoU of MediaPipe's person masks with ours, pooled over the photos: {(mask, where): IoU}, where the
    photo is taken at its own size or at the model's input size; and at the photo's size, the mean
    per-image foreground IoU with the ground truth of ours and of MediaPipe's category mask:
    {("truth", "ours" or "category"): IoU}."""
    alpha = ours(subject.path)
    counts = {(mask, where): np.zeros(2) for mask in MASKS for where in ("photo", "input")}
    truths = {("truth", who): [] for who in ("ours", "category")}
    for photo, matte, _, _ in decoded_test_pairs(None, pairs)[0]:
        truth = matte >= 128 / 255
        for where, image in (("photo", photo), ("input", at_input_size(photo, subject.size))):
            mine = alpha(image) >= 0.5
            for mask in MASKS:
                theirs = subject.mediapipe.person_mask(image, mask)
                counts[mask, where] += np.logical_and(theirs, mine).sum(), np.logical_or(theirs, mine).sum()
                if where == "photo" and mask == "category":
                    truths["truth", "ours"].append(iou(truth, mine))
                    truths["truth", "category"].append(iou(truth, theirs))
    return {**{key: both / either for key, (both, either) in counts.items()},
            **{key: float(np.mean(values)) for key, values in truths.items()}}


def print_litert_table(rows):
    print("| file | input | size (KB) | invoke, 1 thread (ms) | invoke, 2 threads (ms) | end to end, 600x800 (ms) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['file']} | {r['input']} | {r['KB']:.0f} | {r['invoke_ms_1t']:.2f} | {r['invoke_ms_2t']:.2f} "
              f"| {r['end_to_end_ms_2t']:.2f} |")


def print_mediapipe_table(rows, photos):
    print("\nThrough MediaPipe Tasks' ImageSegmenter, from a 600x800 array to the person's mask at its size:\n")
    agreement_columns = (" | IoU with ours at the photo's size: category, confidence"
                         " | IoU with ours at the model's input size: category, confidence"
                         " | mean fg IoU with the ground truth: ours, MediaPipe's category mask") if photos else ""
    print(f"| file | category mask (ms) | confidence masks (ms){agreement_columns} |")
    print("|---|---|---" + ("|---|---|---" if photos else "") + "|")
    for r in rows:
        agreed, ious = r.get("agreement"), " | - | - | -" if photos else ""
        if agreed:
            ious = "".join(f" | {agreed[one]:.4f}, {agreed[other]:.4f}" for one, other in AGREEMENT_COLUMNS)
        print(f"| {r['file']} | {r['mediapipe_category_ms']:.2f} | {r['mediapipe_confidence_ms']:.2f}{ious} |")
    if photos:
        print(f"\nIoU pooled over {len(photos)} photos; a peer has no sidecar, so no output of ours to compare with.")


def main():
    args = parse_args()
    frame = np.random.default_rng(1).integers(0, 256, FRAME_SHAPE, dtype=np.uint8)
    subjects = [Subject(path, args.mediapipe) for path in args.models + args.peer]
    rounds = [[subject.measure(args.runs, frame) for subject in subjects] for _ in range(args.rounds)]
    rows = []
    for i, subject in enumerate(subjects):
        row = {key: statistics.median(r[i][key] for r in rounds) for key in rounds[0][i]}
        if args.photos and subject.path in args.models:
            row["agreement"] = agreement(subject, args.photos)
        rows.append({**row, "file": os.path.basename(subject.path), "input": f"{subject.size}x{subject.size}",
                     "KB": os.path.getsize(subject.path) / 1024})
    print_litert_table(rows)
    if args.mediapipe:
        print_mediapipe_table(rows, args.photos)
        for subject in subjects:
            subject.mediapipe.close()


if __name__ == "__main__":
    main()
