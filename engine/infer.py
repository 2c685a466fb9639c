"""``--infer_single_img``: segment a photo, every photo of a folder, or a glob's matches, the model loaded once.

Each photo's outputs go to ``--output_dir`` at the photo's resolution, in the orientation a viewer shows
it: ``<stem>_mask.png``, ``_alpha.png``, ``_cutout.png``, ``_overlay.jpg`` (and ``_composite.jpg`` with
``--background``). A photo that cannot be read is named in one line and skipped; the run ends with a summary.
"""
import glob
import os
import sys
import time

import cv2
import numpy as np

from config import OutputConfig
from data.images import PHOTO_EXTENSIONS, read_image
from data.layout import MATTE_SUFFIX
from engine.segmenter import Segmenter
from postprocess.cutout import background_kind, composite, foreground_and_background, new_background, to_uint8
from utils import UserError, warn, writable_folder

GLOB_CHARACTERS = "*?["
OVERLAY = np.array([0, 255, 0], np.uint8)  # the green tint over the person: half of it where alpha is 1


def photo_paths(img_path):
    """The photos ``--img_path`` names: one file, the photos of a folder, or the files a glob matches
    (mattes, ``NAME_matte.png``, left out of the last two), sorted."""
    if os.path.isfile(img_path):
        return [img_path]
    if os.path.isdir(img_path):
        candidates = [os.path.join(img_path, name) for name in os.listdir(img_path)]
    elif any(c in img_path for c in GLOB_CHARACTERS):
        candidates = glob.glob(img_path, recursive=True)
    else:
        raise UserError(f"--img_path: no such file or folder: {img_path}")
    photos = sorted(p for p in candidates if os.path.isfile(p) and p.lower().endswith(PHOTO_EXTENSIONS)
                    and not p.endswith(MATTE_SUFFIX))
    if not photos:
        raise UserError(f"--img_path: no photos ({', '.join(PHOTO_EXTENSIONS)}) in {img_path}")
    stems = {}
    for path in photos:
        other = stems.setdefault(output_stem(path), path)
        if other != path:
            raise UserError(f"--img_path: {other} and {path} would write the same files in --output_dir")
    return photos


def output_stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def render_outputs(image, alpha, background="", picture=None):
    """The outputs as arrays: mask (0/255), alpha, RGBA cut-out (the person's estimated colours, so no
    background shows through its soft edge), RGB overlay, and with a ``background`` (a --background
    value; ``picture``: its decoded file) the composite over it."""
    foreground, scene = foreground_and_background(image, alpha)
    alpha8 = to_uint8(alpha)
    outputs = {"mask.png": np.where(alpha >= 0.5, 255, 0).astype(np.uint8), "alpha.png": alpha8,
               "cutout.png": np.dstack([foreground, alpha8]), "overlay.jpg": composite(OVERLAY, alpha / 2, image)}
    if background:
        outputs["composite.jpg"] = composite(foreground, alpha, new_background(background, scene, picture))
    return outputs


def write_image(path, array):
    """Write an RGB/RGBA/gray uint8 array; colour arrays are converted to OpenCV's BGR order."""
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGBA2BGRA if array.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    tmp = f"{path}.tmp{os.path.splitext(path)[1]}"
    if not cv2.imwrite(tmp, array):
        raise UserError(f"--output_dir: could not write {path}")
    os.replace(tmp, path)


def progress(done, total, name):
    """A one-line progress bar on a terminal; nothing in a pipe or a log."""
    if total > 1 and sys.stderr.isatty():
        width = 30
        filled = round(width * done / total)
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {name[:40]:<40}", end="",
              file=sys.stderr, flush=True)
        if done == total:
            print(file=sys.stderr)


def infer_photos(weights, img_path, output: OutputConfig):
    """Run ``weights`` on every photo ``--img_path`` names and write their outputs under ``--output_dir``;
    returns the written paths."""
    photos = photo_paths(img_path)
    picture = read_image(output.background, "--background") if background_kind(output.background) == "file" else None
    writable_folder(output.output_dir, "--output_dir")
    segmenter = Segmenter(weights, output.refine, output.input_shape, output.trimap_band)
    paths, skipped, start = [], 0, time.perf_counter()
    for done, photo in enumerate(photos, 1):
        try:
            image = read_image(photo)
        except UserError as err:
            if len(photos) == 1:
                raise
            warn(f"skipped: {err}")
            skipped += 1
            continue
        alpha = segmenter(image)
        for suffix, array in render_outputs(image, alpha, output.background, picture).items():
            path = os.path.join(output.output_dir, f"{output_stem(photo)}_{suffix}")
            write_image(path, array)
            paths.append(path)
            print(path)
        progress(done, len(photos), os.path.basename(photo))
    written = len(photos) - skipped
    seconds = time.perf_counter() - start
    print(f"{written} photo{'s' if written != 1 else ''} done, {skipped} skipped, "
          f"{1000 * seconds / max(1, written):.0f} ms per photo (refine={output.refine}, outputs written)")
    if not written:
        raise UserError(f"--img_path: none of the {len(photos)} photos could be read")
    return paths
