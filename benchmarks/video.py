"""How stable is each model on video? Our models beside MediaPipe's selfie segmenter on synthetic clips.

    python benchmarks/video.py trained_models/initial.h5 runs/video_4ch/best.h5 --ema 0.5 \
        --peer PEERS/selfie_segmentation_legacy.tflite \
        --dataset_dir DATASETS/eg1800 --dataset_dir ./datasets/ccp1004 --clips 20 --frames 60

(PEERS, DATASETS: the shared data's peers/ and datasets/ folders.) Each ``--dataset_dir``'s testing/ photos
become clips of a moving camera (data/clips.py: static frames, pan, zoom, rotation, shake, lighting), with
the ground truth warped alike. Every model runs every clip frame by frame as ``--infer_video`` does
(engine/video.py: LiteRT, 2 threads; a 4-channel model gets its previous output as the prior), and:

- IoU: per frame, person = probability >= 0.5 against ground truth >= 0.5, averaged over all frames;
- flicker: mean |p_t - warp(p_{t-1})| over the pixels where the ground truth is static after warping
  (|g_t - warp(g_{t-1})| < 0.02, inside the frame), warp = the camera's motion from frame t-1 to t: the
  change of the probability that the motion does not explain; "flips" is the same on the 0/1 masks (the
  share of pixels that switch);
- dtSSD (Erofeev et al. 2015, as video matting papers report it): per frame pair
  sqrt(mean((p_t - p_{t-1}) - (g_t - g_{t-1}))^2), averaged, x 100;
- FPS: frames per second from a decoded RGB frame to its probability at the frame's size.

``--ema A`` adds each model again with ``--temporal_smoothing=A``. A model that carries
something from frame to frame (a prior, a smoothed probability) runs with ``--motion_compensation`` as
``--infer_video`` does by default, and again without it ("motion compensated: no"), unless ``--motion on``
or ``off`` keeps one. Prints Markdown tables: all clips, then per set, then flicker per phase of the clips.
"""
import argparse
import json
import os
import sys
import time
from collections import defaultdict

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data.clips import PHASES, Clip, clips_from, parse_size, phase_of  # noqa: E402
from engine.video import FrameModel, Segmenter, litert_frame_model, load_frame_model  # noqa: E402
from models.channels import RGB  # noqa: E402
from utils import native_stderr_muted  # noqa: E402

STATIC = 0.02  # |g_t - warp(g_{t-1})| below this: the scene is static there after warping


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", help="our .h5 checkpoints or .tflite exports (with sidecars)")
    p.add_argument("--peer", action="append", default=[], help="a peer's .tflite (no sidecar), e.g. MediaPipe's")
    p.add_argument("--dataset_dir", action="append", required=True, help="a folder with testing/ (repeatable)")
    p.add_argument("--ema", type=float, action="append", default=[],
                   help="also run each model with --temporal_smoothing=A (repeatable)")
    p.add_argument("--motion", choices=("both", "on", "off"), default="both",
                   help="run stateful models with motion compensation, without it, or both ways")
    p.add_argument("--clips", type=int, default=20, help="clips per set")
    p.add_argument("--frames", type=int, default=60, help="frames per clip")
    p.add_argument("--size", type=parse_size, default=(480, 640), help="frame WIDTHxHEIGHT (default 480x640)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default="", help="also write the figures to this file")
    return p.parse_args()


def peer_model(path: str) -> FrameModel:
    """A peer's .tflite by MediaPipe's convention: RGB in [0, 1], the person's probability in its last channel."""
    lite = litert_frame_model(path=path, kind="sigmoid")  # sigmoid: read channel 0 as it is
    return FrameModel(lite.predict, lite.size, lite.channels)


def subjects(args) -> dict:
    """{row name: (frame model, smoothing, motion compensation)}."""
    rows = {}
    with native_stderr_muted():
        models = {p: load_frame_model(p) for p in args.models}  # named by their paths: runs' checkpoints share names
        models.update({os.path.basename(p): peer_model(p) for p in args.peer})
    motions = {"both": (True, False), "on": (True,), "off": (False,)}[args.motion]
    for name, model in models.items():
        ways = [(name, 0.0)] + [(f"{name} + EMA {ema:g}", ema) for ema in args.ema]
        for row, smoothing in ways:
            if model.channels == RGB and not smoothing:
                rows[row] = (model, smoothing, False)  # nothing carried over: nothing to move
                continue
            for motion in motions:
                rows[row if motion else f"{row}, motion compensated: no"] = (model, smoothing, motion)
    return rows


def frame_pair(clip: Clip, t: int, alphas: list) -> dict:
    """Flicker, flips and the dtSSD term between frames t-1 and t."""
    height, width = clip.mattes.shape[1:]
    step = clip.step(t)
    warp = lambda x: cv2.warpAffine(x, step, (width, height), flags=cv2.INTER_LINEAR,  # noqa: E731
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    inside = warp(np.ones((height, width), np.float32)) > 0.999
    static = inside & (np.abs(clip.mattes[t] - warp(clip.mattes[t - 1])) < STATIC)
    moved = warp(alphas[t - 1])
    flicker = float(np.abs(alphas[t] - moved)[static].mean())
    flips = float(((alphas[t] >= 0.5) != (moved >= 0.5))[static].mean())
    change = (alphas[t] - alphas[t - 1]) - (clip.mattes[t] - clip.mattes[t - 1])
    return {"flicker": flicker, "flips": flips, "dtssd": float(np.sqrt(np.mean(change ** 2)))}


def iou(truth: np.ndarray, pred: np.ndarray) -> float:
    union = np.logical_or(truth, pred).sum()
    return 1.0 if union == 0 else float(np.logical_and(truth, pred).sum() / union)


def run_clip(segmenter: Segmenter, clip: Clip) -> dict:
    """Per-frame IoUs, per-pair figures by phase, and the seconds the frames took."""
    segmenter.reset()
    alphas, seconds = [], 0.0
    for frame in clip.frames:
        start = time.perf_counter()
        alphas.append(segmenter(frame))
        seconds += time.perf_counter() - start
    frames = len(clip.frames)
    pairs = [(phase_of(t, frames), frame_pair(clip, t, alphas)) for t in range(1, frames)]
    return {"iou": [iou(clip.mattes[t] >= 0.5, alphas[t] >= 0.5) for t in range(frames)], "pairs": pairs,
            "seconds": seconds, "frames": frames}


def summarize(runs: list) -> dict:
    """The figures over a list of run_clip results."""
    pairs = [p for r in runs for _, p in r["pairs"]]
    by_phase = defaultdict(list)
    for r in runs:
        for phase, p in r["pairs"]:
            by_phase[phase].append(p["flicker"])
    return {"iou": float(np.mean([v for r in runs for v in r["iou"]])),
            "flicker": float(np.mean([p["flicker"] for p in pairs])),
            "flips": float(np.mean([p["flips"] for p in pairs])),
            "dtssd": 100 * float(np.mean([p["dtssd"] for p in pairs])),
            "fps": sum(r["frames"] for r in runs) / max(1e-9, sum(r["seconds"] for r in runs)),
            "flicker_by_phase": {phase: float(np.mean(v)) for phase, v in by_phase.items()},
            "clips": len(runs)}


def print_tables(results: dict, sets: list) -> None:
    print("| model | per-frame IoU | flicker | flips | dtSSD | FPS |")
    print("|---|---|---|---|---|---|")
    for name, by_set in results.items():
        f = by_set["all"]
        print(f"| {name} | {f['iou']:.4f} | {f['flicker']:.5f} | {f['flips']:.5f} | {f['dtssd']:.3f} | "
              f"{f['fps']:.0f} |")
    print("\n| model | " + " | ".join(f"{s} IoU | {s} flicker" for s in sets) + " |")
    print("|---|" + "---|---|" * len(sets))
    for name, by_set in results.items():
        print(f"| {name} | " + " | ".join(f"{by_set[s]['iou']:.4f} | {by_set[s]['flicker']:.5f}" for s in sets) + " |")
    print("\nflicker per phase of the clips (all sets):\n")
    print("| model | " + " | ".join(PHASES) + " |")
    print("|---|" + "---|" * len(PHASES))
    for name, by_set in results.items():
        phases = by_set["all"]["flicker_by_phase"]
        print(f"| {name} | " + " | ".join(f"{phases.get(p, float('nan')):.5f}" for p in PHASES) + " |")


def main():
    args = parse_args()
    rows = subjects(args)
    sets = [os.path.basename(os.path.normpath(d)) for d in args.dataset_dir]
    runs = {name: defaultdict(list) for name in rows}
    for set_name, folder in zip(sets, args.dataset_dir):
        for clip in clips_from(folder, args.clips, args.frames, args.size, args.seed):
            for name, (model, smoothing, motion) in rows.items():
                runs[name][set_name].append(run_clip(Segmenter(model, smoothing, motion), clip))
    results = {name: {**{s: summarize(by_set[s]) for s in sets}, "all": summarize(sum(by_set.values(), []))}
               for name, by_set in runs.items()}
    print(f"clips: {', '.join(f'{s} {args.clips}' for s in sets)}; {args.frames} frames of "
          f"{args.size[0]}x{args.size[1]} each\n")
    print_tables(results, sets)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": {k: v for k, v in vars(args).items()}, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
