"""Single-image inference: predict at the model's input size, bring the result back to the photo's size."""
import os
import time

import cv2
import numpy as np
import tensorflow as tf

from config import OutputConfig
from data.dataset import decode_image
from data.preprocess import normalize, resize_image
from postprocess.cutout import background_kind, composite, foreground_and_background, new_background
from models.predictors import load_predictor
from postprocess.refine import default_band, refine
from utils import UserError, writable_folder

OVERLAY_COLOUR = np.array([0, 255, 0], np.float32)  # RGB green tint over the person


def read_image(path, flag="--img_path"):
    """An image file as uint8 RGB (H, W, 3); a UserError names the file if it cannot be used."""
    if not os.path.isfile(path):
        raise UserError(f"{flag}: no such file: {path}")
    try:
        return decode_image(path).numpy()
    except tf.errors.InvalidArgumentError:
        raise UserError(f"{flag}: {path} is not a readable PNG/JPEG/BMP/GIF image") from None


def predict_alpha(predict, image, size):
    """Foreground probability (H, W) in [0, 1] for uint8 RGB ``image``.

    ``predict`` maps a float32 batch (1, size, size, 3) to the model's probabilities; the same
    function serves any backend that can provide it.
    """
    batch = resize_image(normalize(image[None]), size)
    foreground = np.asarray(predict(batch))[..., -1:]
    alpha = tf.image.resize(foreground, image.shape[:2], method="bilinear")[0, ..., 0]
    return np.clip(alpha.numpy(), 0.0, 1.0)


def timed_refine(image, alpha, method, band):
    """``refine`` with ``band`` (None: ``default_band`` of the photo); prints the time it took."""
    band = band or default_band(image.shape)
    start = time.perf_counter()
    refined = refine(image, alpha, method, band)
    print(f"refine={method} band={band}px: {1000 * (time.perf_counter() - start):.1f} ms per image")
    return refined


def render_outputs(image, alpha, background="", picture=None):
    """The outputs as arrays: mask (0/255), alpha, RGBA cut-out (the person's estimated colours, so no
    background shows through its soft edge), RGB overlay, and with a ``background`` (a --background
    value; ``picture``: its decoded file) the composite over it."""
    mask = np.where(alpha >= 0.5, 255, 0).astype(np.uint8)
    alpha8 = np.round(alpha * 255).astype(np.uint8)
    foreground, scene = foreground_and_background(image, alpha)
    cutout = np.dstack([np.round(foreground * 255).astype(np.uint8), alpha8])
    tint = alpha[..., None] * 0.5
    overlay = (image * (1 - tint) + OVERLAY_COLOUR * tint).astype(np.uint8)
    outputs = {"mask.png": mask, "alpha.png": alpha8, "cutout.png": cutout, "overlay.jpg": overlay}
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


def infer_single_image(weights, img_path, output: OutputConfig):
    """Run ``weights`` on ``--img_path`` and write its outputs under ``--output_dir``; returns their paths."""
    image = read_image(img_path)
    picture = read_image(output.background, "--background") if background_kind(output.background) == "file" else None
    predict, size = load_predictor(weights, output.input_shape)
    alpha = timed_refine(image, predict_alpha(predict, image, size), output.refine, output.trimap_band)
    writable_folder(output.output_dir, "--output_dir")
    stem = os.path.splitext(os.path.basename(img_path))[0]
    paths = []
    for suffix, array in render_outputs(image, alpha, output.background, picture).items():
        path = os.path.join(output.output_dir, f"{stem}_{suffix}")
        write_image(path, array)
        paths.append(path)
        print(path)
    return paths
