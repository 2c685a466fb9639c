"""Cut-outs and background replacement: I = alpha * F + (1 - alpha) * B, with F and B estimated from the photo.

Photos of any size cost about the same: F and B are estimated at a working resolution of at most
WORK_PIXELS (a 600x800 photo is below it, a 12 MP one is shrunk 5 times a side); B, smooth by nature, is brought
back to the photo's size and F is solved from the compositing equation at full resolution, so a hair's
colour is the photo's own. The blur of ``--background=blur`` is computed at the working resolution too.
"""
import os
import re

import cv2
import numpy as np

from config import WORK_PIXELS
from utils import UserError

COLOUR = re.compile(r"^#([0-9a-fA-F]{6})$")
BLUR_FRACTION = 0.03
OPAQUE_ENOUGH = 1 / 255  # below this alpha a pixel's foreground colour is not seen


def background_kind(spec):
    """'none', 'blur', 'colour' or 'file' for a ``--background`` value; a UserError for any other."""
    if spec in ("", "blur"):
        return "blur" if spec else "none"
    if COLOUR.match(spec):
        return "colour"
    if spec.startswith("#"):
        raise UserError(f"--background: expected #RRGGBB (six hex digits), blur or an image path, got '{spec}'")
    if not os.path.isfile(spec):
        raise UserError(f"--background: '{spec}' is not #RRGGBB, blur or an image file")
    return "file"


def working_scale(shape):
    """The factor (<= 1) that brings an (H, W) photo within WORK_PIXELS."""
    return min(1.0, (WORK_PIXELS / (shape[0] * shape[1])) ** 0.5)


def resized(array, width, height):
    """``array`` at (width, height): area-averaged when it shrinks, bilinear when it grows."""
    shrinks = width < array.shape[1]
    return cv2.resize(array, (width, height), interpolation=cv2.INTER_AREA if shrinks else cv2.INTER_LINEAR)


def shrunk(array):
    """``array`` brought within WORK_PIXELS (itself when it is)."""
    height, width = array.shape[:2]
    scale = working_scale(array.shape)
    return array if scale == 1 else resized(array, max(1, round(width * scale)), max(1, round(height * scale)))


def to_uint8(x):
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def foreground_and_background(image, alpha):
    """The person's colours F and the scene's colours B, uint8 RGB at the photo's size: pymatting's
    multilevel estimate at the working resolution; when the photo was shrunk, B is brought back and F
    solved from I = alpha F + (1 - alpha) B at full size where the alpha is soft (the photo where it is 1;
    where it is 0, F is never seen)."""
    from pymatting import estimate_foreground_ml

    height, width = alpha.shape
    photo, matte = shrunk(image), shrunk(alpha)
    foreground, background = estimate_foreground_ml(photo / 255.0, np.clip(matte, 0, 1).astype(np.float64),
                                                    return_background=True)
    if photo is image:
        return to_uint8(foreground), to_uint8(background)
    background = resized(to_uint8(background), width, height)
    solved = image.copy()  # where alpha is 1 the person's colour is the photo's
    soft = np.nonzero((alpha > 0) & (alpha < 1))
    b = background[soft].astype(np.float32)
    opacity = np.maximum(alpha[soft], OPAQUE_ENOUGH)[:, None]
    solved[soft] = np.clip(np.rint(b + (image[soft] - b) / opacity), 0, 255)
    return solved, background


def fill(picture, height, width):
    """``picture`` scaled to cover (height, width) and cropped to it around its centre."""
    scale = max(height / picture.shape[0], width / picture.shape[1])
    size = (max(width, round(picture.shape[1] * scale)), max(height, round(picture.shape[0] * scale)))
    scaled = resized(picture, *size)
    top, left = (scaled.shape[0] - height) // 2, (scaled.shape[1] - width) // 2
    return scaled[top:top + height, left:left + width]


def new_background(spec, scene, picture=None):
    """The background ``spec`` names, uint8 RGB at the size of ``scene`` (the estimated B): ``picture``
    (the decoded file) when given; for ``blur`` the scene blurred at the working resolution (the person's
    pixels filled in from their surroundings, so no halo of the person is smeared into it); else the colour."""
    height, width = scene.shape[:2]
    if picture is not None:
        return fill(picture, height, width)
    if spec == "blur":
        small = shrunk(scene)
        return resized(cv2.GaussianBlur(small, (0, 0), BLUR_FRACTION * min(small.shape[:2])), width, height)
    rgb = np.array([int(spec[i:i + 2], 16) for i in (1, 3, 5)], np.uint8)
    return np.broadcast_to(rgb, (height, width, 3))


def composite(foreground, alpha, background):
    """alpha * F + (1 - alpha) * B as uint8 RGB, for uint8 RGB F and B (arrays, or colours broadcast), by
    OpenCV's blendLinear (to within half a level: it divides by the weights' sum plus 1e-5)."""
    shape = alpha.shape + (3,)
    foreground, background = (np.ascontiguousarray(np.broadcast_to(x, shape)) for x in (foreground, background))
    weight = np.ascontiguousarray(alpha, np.float32)
    return cv2.blendLinear(foreground, background, weight, 1 - weight)


def cutout(image, alpha):
    """The person as uint8 RGBA: the estimated colours F, so no background shows through a soft edge, and
    the alpha."""
    foreground, _ = foreground_and_background(image, alpha)
    return np.dstack([foreground, to_uint8(alpha)])


def replace_background(image, alpha, background):
    """The person over ``background``: '#RRGGBB', 'blur' (the photo's own background blurred) or a uint8
    RGB picture (scaled to cover the photo); uint8 RGB."""
    foreground, scene = foreground_and_background(image, alpha)
    if isinstance(background, str):
        background_kind(background)
        return composite(foreground, alpha, new_background(background, scene))
    return composite(foreground, alpha, new_background("", scene, background))
