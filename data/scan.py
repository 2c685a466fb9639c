"""A scan of image/matte pairs before training: unusable files are named and left out.

Decisions, documented in docs/DATA.md:
- an unreadable or truncated image or matte: the pair is skipped with a warning naming the file;
- a matte whose size differs from its image: used, resized with the image (both are resized to
  --input_shape), with a warning naming the file;
- 16-bit, grayscale, palette, RGBA and CMYK images are converted to 8-bit RGB;
- an empty matte (no person): used as it is; --check_data reports it.
"""
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from data.layout import name_list
from utils import UserError, warn

SCAN_THREADS = 4


@dataclass
class ScanReport:
    good: list = field(default_factory=list)
    bad: list = field(default_factory=list)  # (path, reason)
    resized: list = field(default_factory=list)  # (matte path, matte size, image size)
    empty: list = field(default_factory=list)  # matte paths


def _open(path):
    """(size, array) of a fully decoded image; raises OSError/ValueError if it is unusable."""
    with Image.open(path) as image:
        image.load()
        return image.size, (np.asarray(image.convert("L")) if path.endswith("_matte.png") else None)


def check_pair(pair):
    """One pair's verdict: ("bad", path, reason) or ("ok", notes); a photo without a matte (empty matte
    path) is only decoded."""
    image_path, matte_path = pair
    sizes = {}
    for path in filter(None, pair):
        try:
            sizes[path], matte = _open(path)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
            return "bad", path, str(err) or type(err).__name__
    notes = []
    if not matte_path:
        return "ok", notes
    if sizes[matte_path] != sizes[image_path]:
        notes.append(("resized", matte_path, sizes[matte_path], sizes[image_path]))
    if matte.max() == 0:
        notes.append(("empty", matte_path))
    return "ok", notes


def scan_pairs(pairs):
    """Decode every pair once (in threads: Pillow releases the GIL while decoding)."""
    report = ScanReport()
    with ThreadPoolExecutor(SCAN_THREADS) as pool:
        for pair, verdict in zip(pairs, pool.map(check_pair, pairs)):
            if verdict[0] == "bad":
                report.bad.append(verdict[1:])
                continue
            report.good.append(pair)
            for note in verdict[1]:
                getattr(report, note[0]).append(note[1:] if note[0] == "resized" else note[1])
    return report


def size_text(size):
    return f"{size[0]}x{size[1]}"


def usable(pairs, split, resized="resized with the image"):
    """``pairs`` without the unusable ones, each named in a warning, and how many were left out; a matte of
    another size than its image is named too (``resized`` says what becomes of it)."""
    report = scan_pairs(pairs)
    if not report.good:
        raise UserError(f"no usable {split} pairs: all {len(pairs)} have unreadable files: "
                        f"{name_list([path for path, _ in report.bad])}")
    for path, reason in report.bad:
        warn(f"skipping unusable {split} pair: {path}: {reason}")
    for matte, matte_size, image_size in report.resized:
        warn(f"{matte} is {size_text(matte_size)} but its image is {size_text(image_size)}: {resized}")
    return report.good, len(report.bad)
