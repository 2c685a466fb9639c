"""Cut-outs and background replacement: I = alpha * F + (1 - alpha) * B, with F and B estimated from the photo."""
import os
import re

import cv2
import numpy as np

from utils import UserError

COLOUR = re.compile(r"^#([0-9a-fA-F]{6})$")
BLUR_FRACTION = 0.03


def background_kind(spec):
    """'none', 'blur', 'colour' or 'file' for a ``--background`` value; a UserError for any other."""
    if spec in ("", "blur"):
        return "blur" if spec else "none"
    if COLOUR.match(spec):
        return "colour"
    if spec.startswith("#"):
        raise UserError(f"--background: expected #RRGGBB (six hex digits), blur or an image path, got '{spec}'")
    if not os.path.isfile(spec):
        raise UserError(f"--background: no such file: {spec}")
    return "file"


def foreground_and_background(image, alpha):
    """pymatting's multilevel estimate of the person's colours F and the scene's colours B, float in [0, 1]."""
    from pymatting import estimate_foreground_ml

    foreground, background = estimate_foreground_ml(image / 255.0, alpha.astype(np.float64), return_background=True)
    return np.clip(foreground, 0, 1), np.clip(background, 0, 1)


def fill(picture, height, width):
    """``picture`` scaled to cover (height, width) and cropped to it around its centre."""
    scale = max(height / picture.shape[0], width / picture.shape[1])
    size = (max(width, round(picture.shape[1] * scale)), max(height, round(picture.shape[0] * scale)))
    scaled = cv2.resize(picture, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    top, left = (scaled.shape[0] - height) // 2, (scaled.shape[1] - width) // 2
    return scaled[top:top + height, left:left + width]


def new_background(spec, scene, picture=None):
    """The background ``spec`` names, float RGB in [0, 1] at the size of ``scene`` (the estimated B):
    ``picture`` (the decoded file) when given; for ``blur`` the scene blurred (the person's pixels
    filled in from their surroundings, so no halo of the person is smeared into it); else the colour."""
    height, width = scene.shape[:2]
    if picture is not None:
        return fill(picture, height, width) / 255.0
    if spec == "blur":
        return cv2.GaussianBlur(scene, (0, 0), BLUR_FRACTION * min(height, width))
    rgb = np.array([int(spec[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0
    return np.broadcast_to(rgb, (height, width, 3))


def composite(foreground, alpha, background):
    """alpha * F + (1 - alpha) * B as uint8 RGB, for F and B float RGB in [0, 1]."""
    a = alpha[..., None]
    return np.round(np.clip(a * foreground + (1 - a) * background, 0, 1) * 255).astype(np.uint8)
