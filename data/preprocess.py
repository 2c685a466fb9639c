"""Preprocessing shared by training, inference and export: the one place its constants live, and the one
photo-to-input step of every path that runs a model (photos, folders, evaluation, video, export checks).

The model takes RGB resized to a square (aspect ratio not kept, as MediaPipe does) with
pixel values mapped to [0, 1]: ``x = pixel * INPUT_SCALE + INPUT_OFFSET``. The resize is bilinear with
antialiasing: a triangle filter as wide as the scale factor, exactly what the training graph's
``tf.image.resize(..., antialias=True)`` computes (data/dataset.py), here in numpy without TensorFlow.
"""
import functools

import numpy as np
import scipy.sparse

INPUT_SCALE = 1.0 / 255.0
INPUT_OFFSET = 0.0
CHANNEL_ORDER = "RGB"


@functools.lru_cache(maxsize=32)
def resize_weights(n_in, n_out):
    """The (n_out, n_in) sparse matrix of the antialiased bilinear resize along one axis."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    rows, cols, values = [], [], []
    for row, centre in enumerate((np.arange(n_out) + 0.5) * scale):
        taps = np.arange(max(0, int(centre - support)), min(n_in, int(np.ceil(centre + support)) + 1))
        weights = np.maximum(0.0, 1.0 - np.abs(taps + 0.5 - centre) / support)
        rows.extend([row] * taps.size)
        cols.extend(taps)
        values.extend(weights / weights.sum())
    return scipy.sparse.csr_matrix((np.float32(values), (rows, cols)), shape=(n_out, n_in))


def resize_float(image, height, width):
    """An image (H, W, C) of any numeric type resized to float32 (height, width, C), antialiased bilinear."""
    h, w, c = image.shape
    rows = resize_weights(h, height) @ image.reshape(h, w * c)
    cols = resize_weights(w, width) @ rows.reshape(height, w, c).transpose(1, 0, 2).reshape(w, height * c)
    return np.ascontiguousarray(cols.reshape(width, height, c).transpose(1, 0, 2), np.float32)


def model_input(image, size):
    """uint8 RGB (H, W, 3) -> the float32 model input (size, size, 3). The pixels are scaled after the resize
    (the same numbers: its weights sum to 1), so a 12 MP photo is never copied as floats."""
    return resize_float(image, size, size) * np.float32(INPUT_SCALE) + np.float32(INPUT_OFFSET)
