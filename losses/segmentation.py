"""Segmentation losses on the person's logit, each a function of ``(y_true, y_pred)``.

``y_true`` holds the matte as foreground alpha in [0, 1] in channel 0, shape (B, H, W, 1); for
the matting loss it also carries the RGB image in channels 1..3, shape (B, H, W, 4), or the
foreground F in 1..3 and the background B in 4..6, shape (B, H, W, 7) (losses/matting.py).
``y_pred`` is the person's logit d, shape (B, H, W, 1): the model's training-only ``person_logit``
output, whose sigmoid is exactly the person probability of every output activation (softmax:
d = z1 - z0). Computing from the logit keeps the gradient of a confidently wrong pixel, which
clipped probabilities lose. Each function returns one value per image, shape (B,).
"""
import keras
from keras import ops

EPSILON = 1e-7


def check_shapes(y_true, y_pred):
    if len(y_true.shape) != 4 or y_true.shape[-1] not in (1, 4, 7) or y_pred.shape[-1] != 1:
        raise ValueError(f"expected y_true (B,H,W,1|4|7) and the person's logit (B,H,W,1), "
                         f"got {y_true.shape} and {y_pred.shape}")


def alpha(y_true):
    """The matte (B, H, W, 1) from a target that may also carry the image, or F and B."""
    return ops.cast(y_true[..., :1], "float32")


def foreground(y_pred):
    """The person's probability, shape (B, H, W, 1), from a 1- or 2-channel probability output."""
    return y_pred[..., -1:]


def logit_of(probability):
    """The logit of a probability, clipped away from 0 and 1 (for figures computed from probabilities)."""
    p = ops.clip(probability, EPSILON, 1.0 - EPSILON)
    return ops.log(p) - ops.log1p(-p)


def pixel_cross_entropy(y, logit):
    """Per-pixel binary cross-entropy from the logit (stable for any |logit|)."""
    return ops.binary_crossentropy(y, logit, from_logits=True)


@keras.saving.register_keras_serializable(package="portrait")
def cross_entropy(y_true, y_pred):
    """Per-pixel binary cross-entropy of the person against the alpha, averaged."""
    check_shapes(y_true, y_pred)
    return ops.mean(pixel_cross_entropy(alpha(y_true), y_pred), axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="portrait")
def focal_loss(y_true, y_pred, gamma=2.0, alpha_weight=None):
    """Focal loss (Lin et al. 2017): cross-entropy scaled by |y - p|^gamma, down-weighting easy pixels.

    On binary targets |y - p| is Lin et al.'s 1 - p_t (keras.losses.BinaryFocalCrossentropy); unlike
    1 - p_t it keeps a soft label's optimum at the label, which is why it is written here.
    ``alpha_weight`` (optional) weighs the person by alpha_weight and the background by
    1 - alpha_weight. At gamma 0 without alpha_weight it equals ``cross_entropy``.
    """
    check_shapes(y_true, y_pred)
    y, p = alpha(y_true), ops.sigmoid(y_pred)
    loss = ops.power(ops.abs(y - p), gamma) * pixel_cross_entropy(y, y_pred)
    if alpha_weight is not None:
        loss = (y * alpha_weight + (1.0 - y) * (1.0 - alpha_weight)) * loss
    return ops.mean(loss, axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="portrait")
def dice_loss(y_true, y_pred, smooth=1.0):
    """1 - soft Dice coefficient of the person, per image (smoothed, so an empty matte scores 0)."""
    check_shapes(y_true, y_pred)
    y, p = alpha(y_true), ops.sigmoid(y_pred)
    inter = ops.sum(y * p, axis=(1, 2, 3))
    return 1.0 - (2.0 * inter + smooth) / (ops.sum(y, axis=(1, 2, 3)) + ops.sum(p, axis=(1, 2, 3)) + smooth)
