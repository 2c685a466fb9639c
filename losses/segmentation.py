"""Segmentation losses on probability outputs.

``y_true`` is the matte as foreground alpha in [0, 1], shape (B, H, W, 1) (binary or soft).
``y_pred`` is the model's probability output: (B, H, W, 2) with the person in channel 1
(softmax), or (B, H, W, 1) with the person's probability (sigmoid).
"""
import keras
from keras import ops

EPSILON = 1e-7


def foreground(y_pred):
    """The person's probability, shape (B, H, W, 1), from a 1- or 2-channel output."""
    return y_pred[..., -1:]


def check_shapes(y_true, y_pred):
    if y_true.shape[-1] != 1 or y_pred.shape[-1] not in (1, 2) or len(y_true.shape) != 4:
        raise ValueError(f"expected y_true (B,H,W,1) and y_pred (B,H,W,1|2), got {y_true.shape} and {y_pred.shape}")


@keras.saving.register_keras_serializable(package="portrait")
def cross_entropy(y_true, y_pred):
    """Per-pixel binary cross-entropy of the person's probability against the alpha, averaged."""
    check_shapes(y_true, y_pred)
    p = ops.clip(foreground(y_pred), EPSILON, 1.0 - EPSILON)
    y = ops.cast(y_true, p.dtype)
    return ops.mean(-(y * ops.log(p) + (1.0 - y) * ops.log(1.0 - p)), axis=(1, 2, 3))
