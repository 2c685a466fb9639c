"""Boundary loss: the seed's "BCE on target - Canny, multiple thickness of the boundary".

An auxiliary head predicts the boundary target (data/boundary.py) during training; exports drop the head.
"""
import keras
from keras import ops

from losses.segmentation import pixel_cross_entropy

def _pixel_bce(y_true, y_pred):
    """Per-pixel binary cross-entropy of the boundary head's logit (B, H, W, 1), the target and the probability."""
    if y_true.shape[-1] != 1 or y_pred.shape[-1] != 1:
        raise ValueError(f"expected boundary y_true and y_pred (B,H,W,1), got {y_true.shape} and {y_pred.shape}")
    y = ops.cast(y_true, y_pred.dtype)
    return pixel_cross_entropy(y, y_pred), y, ops.sigmoid(y_pred)


@keras.saving.register_keras_serializable(package="portrait")
def boundary_loss(y_true, y_pred):
    """Binary cross-entropy of the boundary head's logit (B, H, W, 1) against the boundary target, per image."""
    return ops.mean(_pixel_bce(y_true, y_pred)[0], axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="portrait")
def boundary_focal_loss(y_true, y_pred, gamma=2.0):
    """Focal loss of the boundary head (PortraitNet's choice): its BCE scaled by |y - p|^gamma, per image.

    With a focal segmentation loss this keeps the two terms on the same scale, so the 0.9 : 0.1
    weighting means what it says. At gamma 0 it equals ``boundary_loss``.
    """
    ce, y, p = _pixel_bce(y_true, y_pred)
    return ops.mean(ops.power(ops.abs(y - p), gamma) * ce, axis=(1, 2, 3))


BOUNDARY_LOSSES = {"bce": boundary_loss, "focal": boundary_focal_loss}
