"""Soft pseudo-alpha for binary mattes, with each pair's foreground and background colours, cached once.

    python -m data.pseudo_alpha SRC DST [--band PX] [--subsets training,testing] [--limit N]

For every pair of ``SRC/<subset>`` (the seed layout) it writes to ``DST/<subset>``:

- ``NAME.<ext>``: the photo, hard-linked (copied where a link cannot be made);
- ``NAME_matte.png``: the soft alpha. A trimap is made from the binary ground truth (postprocess/refine.py's
  ``trimap``: certain person and background more than ``--band`` px from its outline, unknown within),
  and pymatting's closed-form matting (Levin et al. 2008) solves the unknown band with the photo as the
  guide, as ``--refine=cf`` does (on a crop around the band shrunk to at most 120,000 pixels). Outside the
  band the matte is the ground truth, unchanged;
- ``NAME_fg.png``, ``NAME_bg.png``: the foreground F and background B colours (pymatting's
  ``estimate_foreground_ml``), which with the alpha composite back to the photo; the matting loss
  composites F over another photo's B (losses/matting.py).

A pair whose four files exist is skipped, so an interrupted run resumes; every file is written to a
temporary name and renamed. ``DST/pseudo_alpha.json`` records the source, the band, pymatting's version
and the counts. docs/DATA.md describes the cache.
"""
import argparse
import os
import shutil
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data.layout import companion_paths, find_pairs  # noqa: E402
from postprocess.refine import default_band, solve_band, trimap  # noqa: E402
from utils import UserError, read_json, warn, write_bytes, write_json  # noqa: E402

RECORD = "pseudo_alpha.json"
SUBSETS = "training,testing"
PROGRESS_EVERY = 25
BAND_FRACTION = 0.02  # the soft band: 2 % of the short side either side of the annotated outline


def pseudo_alpha(image, truth, band):
    """Soft alpha (H, W) in [0, 1] for uint8 RGB ``image`` and the ground truth ``truth`` (H, W) in [0, 1]:
    closed-form matting within ``band`` px of the outline, ``truth`` outside; and whether it was solved.
    Where the solve has no certain person or no certain background to start from (a matte that is nearly
    all person, say), ``truth`` is kept as it is."""
    tri = trimap(truth, band)
    try:
        solved = solve_band(image.astype(np.float32) / 255.0, tri, "cf")
    except ValueError:  # pymatting: the trimap holds no foreground or no background values
        return truth.astype(np.float32), False
    return np.where(tri == 0.5, np.clip(solved, 0.0, 1.0), truth).astype(np.float32), True


def colours(image, alpha):
    """Foreground and background colours (H, W, 3) in [0, 1] that composite to ``image`` with ``alpha``."""
    from pymatting import estimate_foreground_ml

    return estimate_foreground_ml(image.astype(np.float64) / 255.0, alpha.astype(np.float64), return_background=True)


def read_pair(image_path, matte_path):
    """uint8 RGB photo and the matte as float (H, W) in [0, 1] at the photo's size."""
    image, matte = cv2.imread(image_path, cv2.IMREAD_COLOR), cv2.imread(matte_path, cv2.IMREAD_GRAYSCALE)
    if image is None or matte is None:
        raise ValueError(f"cannot read {image_path if image is None else matte_path}")
    if matte.shape != image.shape[:2]:
        matte = cv2.resize(matte, image.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), matte.astype(np.float32) / 255.0


def to_uint8(x):
    return np.clip(np.round(np.asarray(x) * 255.0), 0, 255).astype(np.uint8)


def write_png(path, array):
    """``array`` (uint8 gray, or RGB) as a PNG, through a temporary file and a rename."""
    rgb = array.ndim == 3
    ok, data = cv2.imencode(".png", cv2.cvtColor(array, cv2.COLOR_RGB2BGR) if rgb else array)
    if not ok:
        raise OSError(f"OpenCV cannot encode {path}")
    write_bytes(path, data.tobytes())


def place_photo(source, target):
    """``source`` at ``target``: a hard link where the file system allows one, else a copy; atomic."""
    tmp = f"{target}.tmp"
    if os.path.lexists(tmp):
        os.remove(tmp)
    try:
        os.link(os.path.realpath(source), tmp)
    except OSError:
        shutil.copy2(source, tmp)
    os.replace(tmp, target)


def outputs(image_path, matte_path, folder):
    """The four files a pair becomes in ``folder``: photo, matte, F, B."""
    photo = os.path.join(folder, os.path.basename(image_path))
    matte = os.path.join(folder, os.path.basename(matte_path))
    return (photo, matte, *companion_paths(matte))


def cache_pair(image_path, matte_path, folder, band):
    """Write one pair's four files into ``folder``; returns whether its band was solved."""
    image, truth = read_pair(image_path, matte_path)
    alpha, solved = pseudo_alpha(image, truth, band or default_band(truth.shape, BAND_FRACTION))
    if not solved:
        warn(f"{matte_path}: no certain person or background to solve the band from; kept as it is")
    fg, bg = colours(image, alpha)
    photo, matte, fg_path, bg_path = outputs(image_path, matte_path, folder)
    write_png(fg_path, to_uint8(fg))
    write_png(bg_path, to_uint8(bg))
    write_png(matte, to_uint8(alpha))
    place_photo(image_path, photo)
    return solved


def cache_subset(pairs, folder, band, name):
    """Cache ``pairs`` into ``folder``, skipping complete ones; returns the counts and the seconds spent."""
    os.makedirs(folder, exist_ok=True)
    counts, spent = {"pairs": len(pairs), "written": 0, "skipped": 0, "failed": 0, "kept_as_is": 0}, 0.0
    for i, (image_path, matte_path) in enumerate(pairs, 1):
        if all(os.path.isfile(p) for p in outputs(image_path, matte_path, folder)):
            counts["skipped"] += 1
        else:
            start = time.perf_counter()
            try:
                counts["kept_as_is"] += not cache_pair(image_path, matte_path, folder, band)
                counts["written"] += 1
            except (ValueError, np.linalg.LinAlgError, cv2.error) as err:
                warn(f"skipping {image_path}: {err}")
                counts["failed"] += 1
            spent += time.perf_counter() - start
        if i % PROGRESS_EVERY == 0 or i == len(pairs):
            print(f"{name}: {i}/{len(pairs)} pairs, {per_pair(spent, counts)} ms per pair written, "
                  f"{counts['skipped']} already there", flush=True)
    counts["cached"] = counts["written"] + counts["skipped"]
    return counts, spent


def per_pair(seconds, counts):
    done = counts["written"] + counts["failed"]
    return f"{1000 * seconds / done:.0f}" if done else "-"


def subset_pairs(source, subsets, limit):
    """``{subset: pairs}`` for the subsets ``source`` has (the first ``limit`` of each when given)."""
    if not os.path.isdir(source):
        raise UserError(f"SRC not found: {source}")
    found = {s: find_pairs(os.path.join(source, s))[:limit] for s in subsets if os.path.isdir(os.path.join(source, s))}
    if not found:
        raise UserError(f"SRC {source} holds none of {', '.join(s + '/' for s in subsets)}")
    for s in sorted(set(subsets) - set(found)):
        print(f"note: {source} has no {s}/; skipped")
    return found


def check_record(dest, source, band):
    """A UserError when ``dest`` already caches another source or band (its pairs would mix)."""
    record = read_json(os.path.join(dest, RECORD))
    if record and (record.get("source"), record.get("band_px")) != (source, band):
        raise UserError(f"DST {dest} caches {record.get('source')} with --band {record.get('band_px') or 'default'}; "
                        f"give the same SRC and --band to resume, or another DST")


def build_cache(source, dest, band=None, subsets=SUBSETS.split(","), limit=None):
    """Cache every pair of ``source``'s ``subsets`` into ``dest``; returns the record written beside them."""
    import pymatting

    source = os.path.abspath(source)
    pairs = subset_pairs(source, subsets, limit)
    check_record(dest, source, band)
    counts, spent = {}, 0.0
    for name, subset in pairs.items():
        counts[name], seconds = cache_subset(subset, os.path.join(dest, name), band, name)
        spent += seconds
    done = sum(c["written"] + c["failed"] for c in counts.values())
    default = f"{BAND_FRACTION:.0%} of the photo's short side"
    record = {"source": source, "band_px": band, "band": f"{band} px" if band else default,
              "alpha": "closed-form matting (pymatting estimate_alpha_cf) of the ground truth's trimap band",
              "colours": "pymatting estimate_foreground_ml(image, alpha, return_background=True)",
              "pymatting": pymatting.__version__, "limit": limit, "counts": counts,
              "ms_per_pair": round(1000 * spent / done, 1) if done else None}
    write_json(os.path.join(dest, RECORD), record)
    return record


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m data.pseudo_alpha", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", metavar="SRC", help="a dataset folder with training/ and/or testing/")
    p.add_argument("dest", metavar="DST", help="where to write the cache (the same layout, plus companions)")
    p.add_argument("--band", type=int, default=None,
                   help="unknown band's half-width in pixels (default: 2%% of each photo's short side)")
    p.add_argument("--subsets", default=SUBSETS, help=f"comma-separated subsets of SRC (default {SUBSETS})")
    p.add_argument("--limit", type=int, default=None, help="only the first N pairs of each subset")
    args = p.parse_args(argv)
    try:
        if args.band is not None and args.band < 1:
            raise UserError(f"--band must be at least 1 pixel, got {args.band}")
        record = build_cache(args.source, args.dest, args.band, [s for s in args.subsets.split(",") if s], args.limit)
    except UserError as err:
        p.exit(2, f"{p.prog}: error: {err}\n")
    summary = ", ".join(f"{name} {c['written']} written, {c['skipped']} skipped, {c['failed']} failed"
                        for name, c in record["counts"].items())
    print(f"{args.dest}: {summary}; {record['ms_per_pair'] or '-'} ms per pair written")


if __name__ == "__main__":
    main()
