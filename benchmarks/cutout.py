"""The cut-out's alpha beside MediaPipe's soft output, on soft mattes, and a picture of both.

    python benchmarks/cutout.py trained_models/initial.tflite \
        --peer PEERS/selfie_segmentation_legacy.tflite \
        --dataset_dir datasets/eg1800_alpha --dataset_dir datasets/ccp1004_alpha \
        [--options default,none,threshold,guided:0.04:1e-3:0.02] [--limit N]
    python benchmarks/cutout.py trained_models/initial.tflite --peer PEERS/selfie_segmentation_legacy.tflite \
        --sheet docs/images/cutouts.jpg --photos docs/images/astronaut.jpg ...

(PEERS: the folder of the shared data holding MediaPipe's file; the soft mattes come from
``python -m data.pseudo_alpha``, docs/MATTING.md.)

For each ``--dataset_dir``'s ``testing/`` (or ``--split``; soft mattes: the ground truth outside its band, closed-form
matting inside), each row's alpha is scored at the photo's resolution: SAD, MSE, Grad and Conn over the
whole image (postprocess/alpha_metrics.py, as ``--evaluate`` reports them); SAD split into ``near``, within
NEAR_FRACTION of the diagonal of the true outline (the matte >= 0.5's boundary), and ``far``; ``ghost %``,
the share of pixels whose alpha is in (0.1, 0.9) farther than NEAR_FRACTION of the diagonal from the true
outline (half-transparent regions where nothing is half-transparent); the mean person IoU of alpha >= 0.5;
``ramp px``, how wide the alpha's soft edge is: its pixels in (0.05, 0.95) per pixel of true outline;
and the milliseconds per photo of turning our model's probability into the alpha (the model excluded; for
a peer, its whole run, model included). After each table: the photos where our first row's MSE exceeds the
first peer's most, and their share of the summed difference.

Rows: our model with each of ``--options`` (``default``: what ``--infer_single_img`` does; ``all_regions``:
the same without leaving out the regions the model was never sure of; ``none``: the probability upsampled;
``threshold``: that at 0.5; ``logit``: the logit upsampled, then the sigmoid; ``knn``, ``cf``: the matting
solvers; ``guided:R:EPS:B``: the guided refiner with radius R and band B as shares of the short side) and
each ``--peer``'s raw output upsampled bilinearly (MediaPipe's convention: RGB in [0, 1] resized to its input, the person in its last
channel). ``--sheet`` writes, per photo of ``--photos``: the photo, our alpha and composite over a flat
colour, then the first peer's (the same cut-out code for both: only the alpha differs).
"""
import argparse
import os
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.subjects import peer  # noqa: E402
from config import BAND_FRACTION, OutputConfig  # noqa: E402
from data.images import read_image  # noqa: E402
from data.layout import find_pairs  # noqa: E402
from data.scan import usable  # noqa: E402
from engine.evaluate import boundary, decoded_test_pairs, iou  # noqa: E402
from engine.segmenter import Segmenter  # noqa: E402
from postprocess.alpha_metrics import error_maps, region_errors  # noqa: E402
from postprocess.cutout import composite, foreground_and_background, new_background  # noqa: E402
from postprocess.refine import (default_band, guided_refine, photo_alpha, refine, upsample,  # noqa: E402
                                without_unsure_regions)

NEAR_FRACTION = 0.03
GHOST_RANGE = (0.1, 0.9)
RAMP = (0.05, 0.95)
WORST_SHOWN = 10
SHEET_COLOUR = "#00A0FF"
SHEET_HEIGHT = 320
DEFAULT_OPTIONS = "default,none,threshold"


def option_alpha(option):
    """``alpha(image, probability) -> (H, W)`` for one ``--options`` entry."""
    band = lambda image, fraction=BAND_FRACTION: default_band(image.shape, fraction)  # noqa: E731
    if option == "default":
        return lambda image, p: photo_alpha(image, p, OutputConfig.refine, band(image))
    if option == "all_regions":
        return lambda image, p: refine(image, upsample(p, image.shape), OutputConfig.refine, band(image))
    if option == "threshold":
        return lambda image, p: (upsample(p, image.shape) >= 0.5).astype(np.float32)
    if option == "logit":
        logit = lambda p: np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1))  # noqa: E731
        return lambda image, p: (1 / (1 + np.exp(-upsample_logit(logit(p), image.shape)))).astype(np.float32)
    if option in ("none", "knn", "cf"):
        return lambda image, p: photo_alpha(image, p, option, band(image))
    name, radius, eps, fraction = option.split(":")
    if name != "guided":
        raise SystemExit(f"--options: unknown option '{option}' (default, all_regions, none, threshold, knn, cf or "
                         "guided:R:EPS:B)")
    return lambda image, p: guided_refine(image, upsample(without_unsure_regions(p), image.shape),
                                          band(image, float(fraction)), float(radius), float(eps))


def upsample_logit(logit, shape):
    return cv2.resize(logit, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def figures(alpha, truth):
    """One photo's row: whole-image alpha errors, SAD near and far from the true outline, ghost share, IoU."""
    maps = error_maps(alpha.astype(np.float64), truth.astype(np.float64))
    row = region_errors(maps, np.ones(truth.shape, bool))
    outline = boundary(truth >= 0.5)
    distance = cv2.distanceTransform((~outline).astype(np.uint8), cv2.DIST_L2, 3)
    near = distance <= NEAR_FRACTION * np.hypot(*truth.shape)
    row.update(near=float(maps["sad"][near].sum() / 1000), far=float(maps["sad"][~near].sum() / 1000),
               ghost=float(((alpha > GHOST_RANGE[0]) & (alpha < GHOST_RANGE[1]) & ~near).mean()),
               iou=float(iou(truth >= 0.5, alpha >= 0.5)),
               ramp=float(((alpha > RAMP[0]) & (alpha < RAMP[1])).sum() / max(1, outline.sum())))
    return row


def score_set(model, peers, options, dataset_dir, limit, split="testing"):
    """{row name: [per-photo figures]} for one dataset's ``split``, and the photo sizes seen."""
    rows, sizes = {}, set()
    pairs = usable(find_pairs(os.path.join(dataset_dir, split)), split, "resized to the image")[0]
    iterator, count = decoded_test_pairs(dataset_dir, pairs)
    for _, (image, truth, path, _) in zip(range(limit or count), iterator):
        sizes.add(f"{image.shape[1]}x{image.shape[0]}")
        probability = model.probability(image)
        for option, make_alpha in options.items():
            start = time.perf_counter()
            alpha = make_alpha(image, probability)
            milliseconds = 1000 * (time.perf_counter() - start)
            row = figures(alpha, truth)
            row.update(ms=milliseconds, photo=os.path.basename(path))
            rows.setdefault(f"ours, {option}", []).append(row)
        for name, peer_alpha in peers.items():
            start = time.perf_counter()
            alpha = np.clip(peer_alpha(image), 0, 1)
            milliseconds = 1000 * (time.perf_counter() - start)
            row = figures(alpha, truth)
            row.update(ms=milliseconds, photo=os.path.basename(path))
            rows.setdefault(f"{name}, raw", []).append(row)
    return rows, sizes


def print_table(dataset_dir, rows, sizes, split="testing"):
    print(f"\n{dataset_dir}/{split}: {len(next(iter(rows.values())))} photos ({', '.join(sorted(sizes)[:3])}"
          f"{', ...' if len(sizes) > 3 else ''})")
    print("| alpha | SAD | near | far | MSE | Grad | Conn | ghost % | mean IoU | ramp px | ms / photo |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, photos in rows.items():
        mean = lambda key: float(np.mean([p[key] for p in photos]))  # noqa: E731
        print(f"| {name} | {mean('sad'):.2f} | {mean('near'):.2f} | {mean('far'):.2f} | {mean('mse'):.4f} | "
              f"{mean('grad'):.2f} | {mean('conn'):.2f} | {100 * mean('ghost'):.3f} | {mean('iou'):.4f} | "
              f"{mean('ramp'):.1f} | {mean('ms'):.1f} |")


def print_mse_gap(rows, shown=WORST_SHOWN):
    """The photos where our first row's MSE exceeds the first peer's most, and their share of the mean gap."""
    ours = next(name for name in rows if name.startswith("ours"))
    peers = [name for name in rows if not name.startswith("ours")]
    if not peers:
        return
    gaps = sorted(((o["mse"] - p["mse"], o["photo"]) for o, p in zip(rows[ours], rows[peers[0]])), reverse=True)
    total = sum(gap for gap, _ in gaps)
    worst = gaps[:shown]
    share = f"{sum(gap for gap, _ in worst) / total:.0%} of the summed gap" if total > 0 else "the gap is negative"
    print(f"MSE, {ours} minus {peers[0]}: mean {total / len(gaps):+.4f}; the {shown} largest ({share}): "
          + ", ".join(f"{photo} {gap:+.3f}" for gap, photo in worst))


def sheet(model, peer_name, peer_alpha, photos, path):
    """Per photo, a row: photo | our alpha | our composite | peer's alpha | peer's composite."""
    strips = []
    for photo in photos:
        image = read_image(photo, "--photos")
        panels = [image]
        for alpha in (model(image), np.clip(peer_alpha(image), 0, 1)):
            foreground, scene = foreground_and_background(image, alpha)
            panels += [np.dstack([np.round(alpha * 255).astype(np.uint8)] * 3),
                       composite(foreground, alpha, new_background(SHEET_COLOUR, scene))]
        width = round(image.shape[1] * SHEET_HEIGHT / image.shape[0])
        strips.append(np.hstack([cv2.resize(p, (width, SHEET_HEIGHT), interpolation=cv2.INTER_AREA)
                                 for p in panels]))
    widest = max(s.shape[1] for s in strips)
    picture = np.vstack([np.pad(s, ((0, 0), (0, widest - s.shape[1]), (0, 0)), constant_values=255) for s in strips])
    cv2.imwrite(path, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"{path}: per row, the photo, ours (alpha, composite over {SHEET_COLOUR}), "
          f"then {peer_name}'s")



def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="our .h5 checkpoint or .tflite export (with its sidecar)")
    p.add_argument("--peer", action="append", default=[], help="a peer's .tflite (no sidecar), e.g. MediaPipe's")
    p.add_argument("--dataset_dir", action="append", default=[], help="a folder whose testing/ holds soft mattes")
    p.add_argument("--options", default=DEFAULT_OPTIONS, help="our rows, comma-separated (see above)")
    p.add_argument("--limit", type=int, default=None, help="score only the first N pairs of each set")
    p.add_argument("--split", default="testing", help="the subfolder scored (training: to choose parameters)")
    p.add_argument("--sheet", default="", help="write the picture here (needs --photos and a --peer)")
    p.add_argument("--photos", nargs="*", default=[], help="photos for --sheet")
    return p.parse_args()


def main():
    args = parse_args()
    model = Segmenter(args.model)
    peers = {os.path.basename(path): peer(path) for path in args.peer}
    options = {option: option_alpha(option) for option in args.options.split(",") if option}
    print(f"default: --refine={OutputConfig.refine}; model {args.model} at {model.size}x{model.size}")
    for dataset_dir in args.dataset_dir:
        rows, sizes = score_set(model, peers, options, dataset_dir, args.limit, args.split)
        print_table(dataset_dir, rows, sizes, args.split)
        print_mse_gap(rows)
    if args.sheet:
        sheet(model, *next(iter(peers.items())), args.photos, args.sheet)


if __name__ == "__main__":
    main()
