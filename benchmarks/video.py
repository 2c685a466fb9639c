"""How stable is each model on video? Our models beside MediaPipe's selfie segmenter, on synthetic clips
and on real ones.

    python benchmarks/video.py trained_models/initial.h5 runs/video_4ch/best.h5 --ema 0.5 \
        --peer PEERS/selfie_segmentation_legacy.tflite \
        --dataset_dir DATASETS/eg1800 --dataset_dir ./datasets/ccp1004 --clips 20 --frames 60
    python benchmarks/video.py trained_models/initial.h5 runs/video_4ch/best.h5 --ema 0.5 \
        --peer PEERS/selfie_segmentation_legacy.tflite --real_clips DATASETS/davis_people --json out.json

(PEERS, DATASETS: the shared data's peers/ and datasets/ folders.) Every model runs every clip frame by
frame as ``--infer_video`` does (engine/video.py: LiteRT, 2 threads; a 4-channel model gets its previous
output as the prior).

**Synthetic clips** (``--dataset_dir``, repeatable): each set's testing/ photos become clips of a moving
camera (data/clips.py: static frames, pan, zoom, rotation, shake, lighting), with the ground truth warped
alike. Per set:

- IoU: per frame, person = probability >= 0.5 against ground truth >= 0.5, averaged over all frames;
- flicker: mean |p_t - warp(p_{t-1})| over the pixels where the ground truth is static after warping
  (|g_t - warp(g_{t-1})| < 0.02, inside the frame), warp = the camera's motion from frame t-1 to t: the
  change of the probability that the motion does not explain; "flips" is the same on the 0/1 masks (the
  share of pixels that switch);
- dtSSD (Erofeev et al. 2015, as video matting papers report it): per frame pair
  sqrt(mean((p_t - p_{t-1}) - (g_t - g_{t-1}))^2), averaged, x 100;
- FPS: frames per second from a decoded RGB frame to its probability at the frame's size.

**Real clips** (``--real_clips DIR``): every ``DIR/clips/<clip>/`` (frames ``*.jpg``/``*.png`` and their
``*_matte.png``, in name order; DAVIS's person clips) is a clip. IoU, dtSSD and FPS as above (dtSSD
against the ground truth's own change between the frames). The camera and the person both move, so
there is no warp to undo; flicker counts only what the ground truth says did not change:

- flicker: mean |p_t - p_{t-1}| over the pixels whose ground truth is the same in frames t-1 and t
  (person in both, or background in both) and which lie farther than ``OUTLINE_MARGIN`` x the frame's
  short side (2 %: 10 px at 480p) from the ground truth's outline in either frame. There the right
  probability is the same in both frames (1 or 0), so any change is the model's, not the motion's: a
  limb that moves changes the truth and is left out, and so is the outline, where labels and upsampling
  are unsure by a few pixels; "flips" is the same on the 0/1 masks.

Real clips print one table for all clips together (frame-weighted), one per clip, and one per
``--group NAME=CLIP,CLIP`` (e.g. the clips held out from every choice). ``--sheet OUT.png`` draws the
frames where one row loses most IoU against another (``--sheet_row``, ``--sheet_against``; by default the
first 4-channel row against the first 3-channel row without smoothing): where the prior lags.

``--flow_check SIZE`` runs no model: on each real clip it moves the truth of the frame before onto each
frame with the motion compensation at model size SIZE, at each ``--flow_scale``, and prints its IoU with
that frame's truth: how close a perfect prior comes after the flow, the floor of what a prior can lag.

``--ema A`` adds each model again with ``--temporal_smoothing=A``. A model that carries
something from frame to frame (a prior, a smoothed probability) runs with ``--motion_compensation`` as
``--infer_video`` does by default, and again without it ("motion compensated: no"), unless ``--motion on``
or ``off`` keeps one; ``--flow_scale S`` (repeatable) runs the motion-compensated rows with the flow at S
times the model's size (default: ``--infer_video``'s). ``--json OUT`` writes every row's figures: for real clips a list of rows, each with
its ``name``, ``iou``, ``dtssd``, ``flicker``, ``flips`` and ``fps`` over all clips, and the same per clip
(``clips``, with each frame's IoU) and per group (``groups``).
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
from engine.video import FLOW_SCALE, FrameModel, Segmenter, litert_frame_model, load_frame_model  # noqa: E402
from models.channels import RGB, WITH_PRIOR  # noqa: E402
from utils import native_stderr_muted  # noqa: E402

STATIC = 0.02  # |g_t - warp(g_{t-1})| below this: the scene is static there after warping
OUTLINE_MARGIN = 0.02  # real clips' flicker leaves out pixels this close to the truth's outline (x short side)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MATTE_SUFFIX = "_matte.png"
SHEET_FRAMES = 8
SHEET_TILE = 300  # pixels: the height of each frame of the contact sheet


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", help="our .h5 checkpoints or .tflite exports (with sidecars)")
    p.add_argument("--peer", action="append", default=[], help="a peer's .tflite (no sidecar), e.g. MediaPipe's")
    p.add_argument("--dataset_dir", action="append", default=[],
                   help="a folder with testing/ whose photos become synthetic clips (repeatable)")
    p.add_argument("--real_clips", default="", help="a folder with clips/<clip>/: frames and their _matte.png")
    p.add_argument("--only", default="", help="real clips: run only these clips (comma-separated names)")
    p.add_argument("--group", action="append", default=[],
                   help="real clips: NAME=CLIP,CLIP,... also summed up as one group (repeatable)")
    p.add_argument("--sheet", default="", help="real clips: write a contact sheet of the worst frames to this .png")
    p.add_argument("--sheet_row", default="", help="the row whose worst frames the sheet shows")
    p.add_argument("--sheet_against", default="", help="the row it is compared with")
    p.add_argument("--ema", type=float, action="append", default=[],
                   help="also run each model with --temporal_smoothing=A (repeatable)")
    p.add_argument("--motion", choices=("both", "on", "off"), default="both",
                   help="run stateful models with motion compensation, without it, or both ways")
    p.add_argument("--flow_scale", type=float, action="append", default=[],
                   help="motion-compensated rows: the flow at this many times the model's size (repeatable; "
                        "default: --infer_video's)")
    p.add_argument("--clips", type=int, default=20, help="clips per set")
    p.add_argument("--frames", type=int, default=60, help="frames per clip")
    p.add_argument("--size", type=parse_size, default=(480, 640), help="frame WIDTHxHEIGHT (default 480x640)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--flow_check", type=int, default=0, metavar="SIZE",
                   help="real clips, no model: how well the motion compensation at this model size moves a "
                        "perfect prior (the truth of the frame before) onto each frame, at each --flow_scale")
    p.add_argument("--json", default="", help="also write the figures to this file")
    args = p.parse_args()
    if not args.dataset_dir and not args.real_clips:
        p.error("give --dataset_dir (synthetic clips), --real_clips, or both")
    return args


def peer_model(path: str) -> FrameModel:
    """A peer's .tflite by MediaPipe's convention: RGB in [0, 1], the person's probability in its last channel."""
    lite = litert_frame_model(path=path, kind="sigmoid")  # sigmoid: read channel 0 as it is
    return FrameModel(lite.predict, lite.size, lite.channels)


def subjects(args) -> dict:
    """{row name: (frame model, smoothing, motion compensation, flow scale)}."""
    rows = {}
    with native_stderr_muted():
        models = {p: load_frame_model(p) for p in args.models}  # named by their paths: runs' checkpoints share names
        models.update({os.path.basename(p): peer_model(p) for p in args.peer})
    motions = {"both": (True, False), "on": (True,), "off": (False,)}[args.motion]
    scales = args.flow_scale or [FLOW_SCALE]
    for name, model in models.items():
        ways = [(name, 0.0)] + [(f"{name} + EMA {ema:g}", ema) for ema in args.ema]
        for row, smoothing in ways:
            if model.channels == RGB and not smoothing:
                rows[row] = (model, smoothing, False, FLOW_SCALE)  # nothing carried over: nothing to move
                continue
            for motion in motions:
                if not motion:
                    rows[f"{row}, motion compensated: no"] = (model, smoothing, False, FLOW_SCALE)
                    continue
                for scale in scales:
                    named = row if len(scales) == 1 else f"{row}, flow at {scale:g}x"
                    rows[named] = (model, smoothing, True, scale)
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


def read_real_clip(folder: str) -> tuple:
    """A real clip: frames (T, H, W, 3) uint8 RGB and ground truths (T, H, W) uint8 0..255, in name order."""
    names = sorted(f for f in os.listdir(folder)
                   if f.lower().endswith(IMAGE_SUFFIXES) and not f.endswith(MATTE_SUFFIX))
    frames, truths = [], []
    for name in names:
        matte_path = os.path.join(folder, os.path.splitext(name)[0] + MATTE_SUFFIX)
        if not os.path.isfile(matte_path):
            raise SystemExit(f"--real_clips: {matte_path} is missing")
        frame = cv2.cvtColor(cv2.imread(os.path.join(folder, name), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        truth = cv2.imread(matte_path, cv2.IMREAD_GRAYSCALE)
        if truth.shape != frame.shape[:2]:
            truth = cv2.resize(truth, frame.shape[1::-1], interpolation=cv2.INTER_LINEAR)
        frames.append(frame)
        truths.append(truth)
    if len(frames) < 2:
        raise SystemExit(f"--real_clips: {folder} has fewer than 2 frames with mattes")
    return np.stack(frames), np.stack(truths)


def real_clip_folders(root: str, only: str) -> dict:
    """{clip name: folder} under ``root``/clips, in name order (``only``: the comma-separated names kept)."""
    base = os.path.join(root, "clips")
    if not os.path.isdir(base):
        raise SystemExit(f"--real_clips: no folder {base}")
    clips = {c: os.path.join(base, c) for c in sorted(os.listdir(base)) if os.path.isdir(os.path.join(base, c))}
    if only:
        wanted = [c.strip() for c in only.split(",") if c.strip()]
        missing = [c for c in wanted if c not in clips]
        if missing:
            raise SystemExit(f"--only: no clip {', '.join(missing)} under {base}")
        clips = {c: clips[c] for c in wanted}
    return clips


def far_from_outline(person: np.ndarray, margin: float) -> np.ndarray:
    """Pixels farther than ``margin`` pixels from the outline of the boolean mask ``person``."""
    outline = person ^ cv2.erode(person.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    if not outline.any():
        return np.ones_like(person)
    return cv2.distanceTransform((~outline).astype(np.uint8), cv2.DIST_L2, 3) > margin


def real_pair(truth_before: np.ndarray, truth: np.ndarray, alpha_before: np.ndarray, alpha: np.ndarray) -> dict:
    """Flicker, flips and the dtSSD term between two consecutive frames of a real clip (truths in [0, 1])."""
    person_before, person = truth_before >= 0.5, truth >= 0.5
    margin = OUTLINE_MARGIN * min(truth.shape)
    steady = (person_before == person) & far_from_outline(person_before, margin) & far_from_outline(person, margin)
    change = np.abs(alpha - alpha_before)[steady]
    switched = ((alpha >= 0.5) != (alpha_before >= 0.5))[steady]
    excess = (alpha - alpha_before) - (truth - truth_before)
    return {"flicker": float(change.mean()) if change.size else 0.0,
            "flips": float(switched.mean()) if switched.size else 0.0,
            "dtssd": float(np.sqrt(np.mean(excess ** 2)))}


def run_real_clip(segmenter: Segmenter, frames: np.ndarray, truths: np.ndarray, keep: bool = False) -> dict:
    """Per-frame IoUs, per-pair figures and the seconds the frames took on one real clip; ``keep``: also
    each frame's probability (uint8 0..255, for the contact sheet)."""
    segmenter.reset()
    ious, pairs, kept, seconds = [], [], [], 0.0
    before = None
    for frame, truth8 in zip(frames, truths):
        start = time.perf_counter()
        alpha = segmenter(frame)
        seconds += time.perf_counter() - start
        truth = truth8.astype(np.float32) * (1 / 255)
        ious.append(iou(truth >= 0.5, alpha >= 0.5))
        if before is not None:
            pairs.append(real_pair(before[0], truth, before[1], alpha))
        before = (truth, alpha)
        if keep:
            kept.append(np.round(alpha * 255).astype(np.uint8))
    return {"iou": ious, "pairs": pairs, "seconds": seconds, "frames": len(frames), "alphas": kept}


def summarize_real(runs: list) -> dict:
    """The figures over a list of run_real_clip results: frame-weighted means."""
    pairs = [p for r in runs for p in r["pairs"]]
    return {"iou": float(np.mean([v for r in runs for v in r["iou"]])),
            "dtssd": 100 * float(np.mean([p["dtssd"] for p in pairs])),
            "flicker": float(np.mean([p["flicker"] for p in pairs])),
            "flips": float(np.mean([p["flips"] for p in pairs])),
            "fps": sum(r["frames"] for r in runs) / max(1e-9, sum(r["seconds"] for r in runs)),
            "frames": sum(r["frames"] for r in runs)}


def parse_groups(specs: list, clips: dict) -> dict:
    groups = {}
    for spec in specs:
        name, _, members = spec.partition("=")
        names = [c.strip() for c in members.split(",") if c.strip()]
        if not name or not names or any(c not in clips for c in names):
            raise SystemExit(f"--group {spec}: give NAME=CLIP,CLIP with clips among {', '.join(clips)}")
        groups[name] = names
    return groups


def default_sheet_rows(rows: dict) -> tuple:
    """The first 4-channel row without smoothing, motion compensated if it ran so, and the first 3-channel
    row without smoothing."""
    prior = [n for n, (m, s, *_) in rows.items() if m.channels == WITH_PRIOR and not s]
    plain = [n for n, (m, s, *_) in rows.items() if m.channels == RGB and not s]
    compensated = [n for n in prior if rows[n][2]]
    return (compensated or prior or [""])[0], (plain or [""])[0]


def real_results(args, rows: dict) -> dict:
    """Every row on every real clip: {row: {"all": figures, "clips": {clip: figures}, "groups": ...}} and the
    contact sheet if asked."""
    clips = real_clip_folders(args.real_clips, args.only)
    groups = parse_groups(args.group, clips)
    default_row, default_against = default_sheet_rows(rows)
    sheet_row, sheet_against = args.sheet_row or default_row, args.sheet_against or default_against
    if args.sheet and (sheet_row not in rows or sheet_against not in rows):
        raise SystemExit(f"--sheet: rows {sheet_row!r} and {sheet_against!r} must both run; rows: {', '.join(rows)}")
    runs = {name: {} for name in rows}
    candidates = []  # (IoU lost by sheet_row against sheet_against, clip, frame index, frame, truth, two alphas)
    for clip, folder in clips.items():
        frames, truths = read_real_clip(folder)
        for name, (model, smoothing, motion, scale) in rows.items():
            keep = bool(args.sheet) and name in (sheet_row, sheet_against)
            runs[name][clip] = run_real_clip(Segmenter(model, smoothing, motion, scale), frames, truths, keep)
        if args.sheet:
            worse, better = runs[sheet_row][clip], runs[sheet_against][clip]
            for t in range(len(frames)):
                candidates.append((better["iou"][t] - worse["iou"][t], clip, t, frames[t], truths[t],
                                   worse["alphas"][t], better["alphas"][t]))
            candidates = sorted(candidates, key=lambda c: -c[0])[:SHEET_FRAMES]
            for name in (sheet_row, sheet_against):
                runs[name][clip]["alphas"] = []
    if args.sheet:
        write_sheet(args.sheet, candidates, sheet_row, sheet_against)
    results = {}
    for name, by_clip in runs.items():
        results[name] = {"all": summarize_real(list(by_clip.values())),
                         "clips": {c: {**summarize_real([r]), "frame_iou": r["iou"]} for c, r in by_clip.items()},
                         "groups": {g: summarize_real([by_clip[c] for c in members]) for g, members in groups.items()}}
    return results


def flow_check(frames: np.ndarray, truths: np.ndarray, size: int, scale: float) -> list:
    """Per frame pair: IoU of the truth of frame t-1, moved onto frame t by the Segmenter's motion compensation
    at model size ``size`` (None: not moved), against the truth of frame t, both at that size (>= 0.5)."""
    perfect = FrameModel(lambda batch: batch[0, ..., -1], size, WITH_PRIOR)  # its prior is all it needs
    segmenter = Segmenter(perfect, 0.0, scale is not None, scale or FLOW_SCALE)
    ious = []
    for t, (frame, truth) in enumerate(zip(frames, truths)):
        small = cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)
        truth_small = cv2.resize(truth, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        segmenter.follow_motion(frame, small)
        if t:
            ious.append(iou(segmenter.previous >= 0.5, truth_small >= 0.5))
        segmenter.previous = truth_small
    return ious


def print_flow_check(args) -> dict:
    scales = [None] + (args.flow_scale or [1.0, FLOW_SCALE])
    names = ["not moved"] + [f"flow at {s:g}x" for s in scales[1:]]
    figures = {}
    for clip, folder in real_clip_folders(args.real_clips, args.only).items():
        frames, truths = read_real_clip(folder)
        figures[clip] = {n: flow_check(frames, truths, args.flow_check, s) for n, s in zip(names, scales)}
    print(f"a perfect prior moved onto the next frame at {args.flow_check}x{args.flow_check}: mean IoU with that "
          f"frame's truth (worst pair)\n")
    print("| clip | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for clip, by_name in list(figures.items()) + [("all", {n: sum((f[n] for f in figures.values()), [])
                                                           for n in names})]:
        print(f"| {clip} | " + " | ".join(f"{np.mean(v):.4f} ({min(v):.3f})" for v in by_name.values()) + " |")
    return figures


def sheet_tile(frame: np.ndarray, truth: np.ndarray, worse: np.ndarray, better: np.ndarray, caption: str):
    """One frame, cropped around the person: red where the row is wrong and the other right, blue the other
    way round, yellow where both are wrong, the ground truth's outline in white."""
    person, a, b = truth >= 128, worse >= 128, better >= 128
    tile = frame.copy()
    for wrong, colour in (((a != person) & (b == person), (255, 40, 40)), ((b != person) & (a == person), (60, 90, 255)),
                          ((a != person) & (b != person), (255, 220, 0))):
        tile[wrong] = (0.35 * tile[wrong] + 0.65 * np.array(colour)).astype(np.uint8)
    contours, _ = cv2.findContours(person.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(tile, contours, -1, (255, 255, 255), 1)
    ys, xs = np.nonzero(person)
    if ys.size:  # the person and half its size around it
        pad = int(0.5 * max(np.ptp(ys), np.ptp(xs))) + 10
        top, bottom = max(0, ys.min() - pad), min(frame.shape[0], ys.max() + pad + 1)
        left, right = max(0, xs.min() - pad), min(frame.shape[1], xs.max() + pad + 1)
        tile = tile[top:bottom, left:right]
    scale = SHEET_TILE / tile.shape[0]
    tile = cv2.resize(tile, (max(1, round(tile.shape[1] * scale)), SHEET_TILE), interpolation=cv2.INTER_AREA)
    tile = np.pad(tile, ((22, 0), (0, 0), (0, 0)))
    cv2.putText(tile, caption, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def write_sheet(path: str, candidates: list, row: str, against: str) -> None:
    tiles = []
    for lost, clip, t, frame, truth, worse, better in candidates:
        caption = f"{clip} #{t}: IoU {iou(truth >= 128, worse >= 128):.3f} vs {iou(truth >= 128, better >= 128):.3f}"
        tiles.append(sheet_tile(frame, truth, worse, better, caption))
    if not tiles:
        return
    rows = [tiles[i:i + 4] for i in range(0, len(tiles), 4)]
    width = max(sum(t.shape[1] for t in r) for r in rows)
    lines = [np.pad(np.hstack(r), ((0, 0), (0, width - sum(t.shape[1] for t in r)), (0, 0))) for r in rows]
    legend = np.zeros((24, width, 3), np.uint8)
    cv2.putText(legend, f"red: {row} wrong where {against} is right; blue: the reverse; yellow: both; white: truth's outline",
                (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.imwrite(path, cv2.cvtColor(np.vstack([legend] + lines), cv2.COLOR_RGB2BGR))
    print(f"{path}: the {len(tiles)} frames where {row} loses most IoU against {against}\n")


def print_real_tables(results: dict) -> None:
    header = "| model | per-frame IoU | flicker | flips | dtSSD | FPS |\n|---|---|---|---|---|---|"
    line = lambda name, f: (f"| {name} | {f['iou']:.4f} | {f['flicker']:.5f} | {f['flips']:.5f} | "  # noqa: E731
                            f"{f['dtssd']:.3f} | {f['fps']:.0f} |")
    first = next(iter(results.values()))
    print(f"real clips, all {len(first['clips'])} ({first['all']['frames']} frames):\n\n{header}")
    for name, r in results.items():
        print(line(name, r["all"]))
    for group in first["groups"]:
        print(f"\ngroup {group} ({first['groups'][group]['frames']} frames):\n\n{header}")
        for name, r in results.items():
            print(line(name, r["groups"][group]))
    clips = list(first["clips"])
    print("\nper clip (IoU / flicker / dtSSD):\n\n| model | " + " | ".join(clips) + " |")
    print("|---|" + "---|" * len(clips))
    for name, r in results.items():
        cells = [f"{r['clips'][c]['iou']:.4f} / {r['clips'][c]['flicker']:.5f} / {r['clips'][c]['dtssd']:.2f}"
                 for c in clips]
        print(f"| {name} | " + " | ".join(cells) + " |")


def synthetic_results(args, rows: dict) -> dict:
    sets = [os.path.basename(os.path.normpath(d)) for d in args.dataset_dir]
    runs = {name: defaultdict(list) for name in rows}
    for set_name, folder in zip(sets, args.dataset_dir):
        for clip in clips_from(folder, args.clips, args.frames, args.size, args.seed):
            for name, (model, smoothing, motion, scale) in rows.items():
                runs[name][set_name].append(run_clip(Segmenter(model, smoothing, motion, scale), clip))
    results = {name: {**{s: summarize(by_set[s]) for s in sets}, "all": summarize(sum(by_set.values(), []))}
               for name, by_set in runs.items()}
    print(f"clips: {', '.join(f'{s} {args.clips}' for s in sets)}; {args.frames} frames of "
          f"{args.size[0]}x{args.size[1]} each\n")
    print_tables(results, sets)
    return results


def main():
    args = parse_args()
    if args.flow_check:
        if not args.real_clips:
            raise SystemExit("--flow_check needs --real_clips")
        figures = print_flow_check(args)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"args": vars(args), "flow_check": figures}, f, indent=2)
        return
    rows = subjects(args)
    report = {"args": vars(args)}
    if args.dataset_dir:
        report["synthetic"] = synthetic_results(args, rows)
    if args.real_clips:
        if args.dataset_dir:
            print()
        real = real_results(args, rows)
        print_real_tables(real)
        report["real"] = [{"name": name, **{k: r["all"][k] for k in ("iou", "dtssd", "flicker", "flips", "fps",
                                                                     "frames")},
                           "clips": r["clips"], "groups": r["groups"]} for name, r in real.items()]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
