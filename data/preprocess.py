"""Preprocessing shared by training, inference and export: the one place its constants live.

The model takes RGB resized to a square (aspect ratio not kept, as MediaPipe does) with
pixel values mapped to [0, 1]: ``x = pixel * INPUT_SCALE + INPUT_OFFSET``.
"""
import tensorflow as tf

INPUT_SCALE = 1.0 / 255.0
INPUT_OFFSET = 0.0
CHANNEL_ORDER = "RGB"


def normalize(image_uint8):
    """uint8 RGB (..., H, W, 3) -> float32 model input in [0, 1]."""
    return tf.cast(image_uint8, tf.float32) * INPUT_SCALE + INPUT_OFFSET


def resize_image(image, size):
    """Resize a float image (H, W, C) or batch to ``size`` x ``size`` (antialiased bilinear)."""
    return tf.image.resize(image, (size, size), method="bilinear", antialias=True)


def resize_matte(matte, size):
    """Resize a float matte in [0, 1] bilinearly; soft edges stay soft and in range."""
    return tf.clip_by_value(tf.image.resize(matte, (size, size), method="bilinear", antialias=True), 0.0, 1.0)
