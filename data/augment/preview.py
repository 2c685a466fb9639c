"""A picture of augmented pairs, for ``--preview_augment``."""
import numpy as np


def preview_grid(images, mattes, cols=4):
    """uint8 RGB grid for eyeballing augmentation; each cell is the image beside it with the matte tinted red.

    images: (N, H, W, 3) floats in [0, 1]; mattes: (N, H, W, 1) floats in [0, 1].
    """
    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    mattes = np.clip(np.asarray(mattes, np.float32), 0.0, 1.0)
    tinted = images * (1.0 - 0.5 * mattes) + np.array([0.5, 0.0, 0.0], np.float32) * mattes
    cells = np.concatenate([images, tinted], axis=2)  # (N, H, 2W, 3)
    n, h, w2, _ = cells.shape
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    padded = np.zeros((rows * cols, h, w2, 3), np.float32)
    padded[:n] = cells
    grid = padded.reshape(rows, cols, h, w2, 3).transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w2, 3)
    return np.round(grid * 255.0).astype(np.uint8)
