"""Matting loss for soft mattes (Deep Image Matting, Xu et al. 2017).

alpha term: Charbonnier distance between predicted and true alpha; compositional term: the same
distance between the image multiplied by each alpha (the person cut out of its own photo);
gradient term: L1 between the spatial gradients of the two alphas (sharp, well-placed edges).
``y_true`` carries the image in channels 1..3 for the compositional term; ``y_pred`` is the person's logit.
"""
import keras
from keras import ops

from losses.segmentation import alpha, check_shapes

CHARBONNIER_EPS = 1e-6
TERM_WEIGHTS = {"alpha": 0.5, "composition": 0.5, "gradient": 1.0}


def charbonnier(a, b):
    return ops.sqrt(ops.square(a - b) + CHARBONNIER_EPS)


def gradients(x):
    return x[:, 1:, :, :] - x[:, :-1, :, :], x[:, :, 1:, :] - x[:, :, :-1, :]


@keras.saving.register_keras_serializable(package="portrait")
def matting_loss(y_true, y_pred, weights=None):
    """Weighted sum of the alpha, compositional and gradient terms, per image."""
    check_shapes(y_true, y_pred)
    w = {**TERM_WEIGHTS, **(weights or {})}
    truth, pred = alpha(y_true), ops.sigmoid(y_pred)
    loss = w["alpha"] * ops.mean(charbonnier(pred, truth), axis=(1, 2, 3))
    if y_true.shape[-1] == 4:
        image = ops.cast(y_true[..., 1:4], "float32")
        loss += w["composition"] * ops.mean(charbonnier(pred * image, truth * image), axis=(1, 2, 3))
    for g_pred, g_true in zip(gradients(pred), gradients(truth)):
        loss += w["gradient"] * 0.5 * ops.mean(ops.abs(g_pred - g_true), axis=(1, 2, 3))
    return loss
