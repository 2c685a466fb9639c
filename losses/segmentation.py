"""Segmentation losses on probability outputs, each a function of ``(y_true, y_pred)``.

``y_true`` holds the matte as foreground alpha in [0, 1] in channel 0, shape (B, H, W, 1); for
the matting loss it also carries the RGB image in channels 1..3, shape (B, H, W, 4).
``y_pred`` is the model's probability output: (B, H, W, 2) with the person in channel 1
(softmax, sigsoftmax), or (B, H, W, 1) with the person's probability (sigmoid).
Each function returns one value per image, shape (B,).
"""
import keras
from keras import ops

EPSILON = 1e-7


def check_shapes(y_true, y_pred):
    if len(y_true.shape) != 4 or y_true.shape[-1] not in (1, 4) or y_pred.shape[-1] not in (1, 2):
        raise ValueError(f"expected y_true (B,H,W,1|4) and y_pred (B,H,W,1|2), got {y_true.shape} and {y_pred.shape}")


def alpha(y_true):
    """The matte (B, H, W, 1) from a target that may also carry the image."""
    return ops.cast(y_true[..., :1], "float32")


def foreground(y_pred):
    """The person's probability, shape (B, H, W, 1), from a 1- or 2-channel output."""
    return y_pred[..., -1:]


def _probabilities(y_true, y_pred):
    check_shapes(y_true, y_pred)
    return alpha(y_true), ops.clip(foreground(y_pred), EPSILON, 1.0 - EPSILON)


@keras.saving.register_keras_serializable(package="portrait")
def cross_entropy(y_true, y_pred):
    """Per-pixel binary cross-entropy of the person's probability against the alpha, averaged."""
    y, p = _probabilities(y_true, y_pred)
    return ops.mean(-(y * ops.log(p) + (1.0 - y) * ops.log(1.0 - p)), axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="portrait")
def focal_loss(y_true, y_pred, gamma=2.0, alpha_weight=None):
    """Focal loss (Lin et al. 2017): cross-entropy scaled by (1 - p_t)^gamma, down-weighting easy pixels.

    ``alpha_weight`` (optional) weighs the person class by alpha_weight and the background by
    1 - alpha_weight. At gamma 0 without alpha_weight it equals ``cross_entropy``.
    """
    y, p = _probabilities(y_true, y_pred)
    p_t = y * p + (1.0 - y) * (1.0 - p)
    ce = -(y * ops.log(p) + (1.0 - y) * ops.log(1.0 - p))
    loss = ops.power(1.0 - p_t, gamma) * ce
    if alpha_weight is not None:
        loss = (y * alpha_weight + (1.0 - y) * (1.0 - alpha_weight)) * loss
    return ops.mean(loss, axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="portrait")
def dice_loss(y_true, y_pred, smooth=1.0):
    """1 - soft Dice coefficient of the person, per image."""
    y, p = _probabilities(y_true, y_pred)
    inter = ops.sum(y * p, axis=(1, 2, 3))
    return 1.0 - (2.0 * inter + smooth) / (ops.sum(y, axis=(1, 2, 3)) + ops.sum(p, axis=(1, 2, 3)) + smooth)
