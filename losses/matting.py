"""Matting losses on the person's logit (Deep Image Matting, Xu et al. 2017), for soft mattes.

With alpha_p = sigmoid(logit), alpha the true matte and charb(a, b) = sqrt((a - b)^2 + CHARBONNIER_EPS),
each term averaged per image:

- alpha prediction loss: charb(alpha_p, alpha), as DIM's.
- compositional loss, when ``y_true`` carries the foreground F and background B (7 channels: alpha, F,
  B, from a pseudo-alpha cache, data/pseudo_alpha.py): DIM's, on a NEW background B', the batch's B
  rolled by one sample (sample i takes sample i - 1's; a batch of one keeps its own):
  charb(alpha_p F + (1 - alpha_p) B', alpha F + (1 - alpha) B'), averaged over RGB.
  When ``y_true`` carries the photo I instead (4 channels: alpha, I): charb(alpha_p I, alpha I), the
  same composite over a black background with the photo standing in for F (exact only where alpha is
  0 or 1), which weighs each alpha error by the photo's brightness there.
  With the alpha alone (1 channel) there is no compositional term.
- gradient loss: L1 between the spatial gradients of alpha_p and alpha (sharp, well-placed edges), half
  from each axis.

``matting_loss`` is their sum weighted by TERM_WEIGHTS (DIM's 0.5 : 0.5, and 1 for the gradients).
"""
import keras
from keras import ops

from losses.segmentation import alpha, check_shapes

CHARBONNIER_EPS = 1e-6
TERM_WEIGHTS = {"alpha": 0.5, "composition": 0.5, "gradient": 1.0}
WITH_IMAGE, WITH_FOREGROUND_BACKGROUND = 4, 7  # y_true's channels: alpha + photo, alpha + F + B


def charbonnier(a, b):
    return ops.sqrt(ops.square(a - b) + CHARBONNIER_EPS)


def gradients(x):
    return x[:, 1:, :, :] - x[:, :-1, :, :], x[:, :, 1:, :] - x[:, :, :-1, :]


def per_image(x):
    return ops.mean(x, axis=(1, 2, 3))


def new_background(background):
    """B': each sample's background replaced by the previous sample's (a batch of one keeps its own)."""
    return ops.roll(background, 1, axis=0)


@keras.saving.register_keras_serializable(package="portrait")
def alpha_prediction_loss(y_true, y_pred):
    """DIM's alpha prediction loss: the Charbonnier distance between predicted and true alpha."""
    check_shapes(y_true, y_pred)
    return per_image(charbonnier(ops.sigmoid(y_pred), alpha(y_true)))


@keras.saving.register_keras_serializable(package="portrait")
def compositional_loss(y_true, y_pred):
    """DIM's compositional loss over a swapped background (7-channel target), the photo cut out with each
    alpha (4 channels), or 0 (1 channel): see the module docstring."""
    check_shapes(y_true, y_pred)
    truth, pred, channels = alpha(y_true), ops.sigmoid(y_pred), y_true.shape[-1]
    if channels == WITH_IMAGE:
        image = ops.cast(y_true[..., 1:4], "float32")
        return per_image(charbonnier(pred * image, truth * image))
    if channels != WITH_FOREGROUND_BACKGROUND:
        return ops.zeros_like(per_image(truth))
    fg, bg = ops.cast(y_true[..., 1:4], "float32"), new_background(ops.cast(y_true[..., 4:7], "float32"))
    return per_image(charbonnier(pred * fg + (1.0 - pred) * bg, truth * fg + (1.0 - truth) * bg))


@keras.saving.register_keras_serializable(package="portrait")
def gradient_loss(y_true, y_pred):
    """L1 between the spatial gradients of the predicted and true alpha, half from each axis."""
    check_shapes(y_true, y_pred)
    truth, pred = alpha(y_true), ops.sigmoid(y_pred)
    return sum(0.5 * per_image(ops.abs(g_pred - g_true)) for g_pred, g_true in zip(gradients(pred), gradients(truth)))


TERMS = {"alpha": alpha_prediction_loss, "composition": compositional_loss, "gradient": gradient_loss}


@keras.saving.register_keras_serializable(package="portrait")
def matting_loss(y_true, y_pred, weights=None):
    """Weighted sum of the alpha, compositional and gradient terms, per image."""
    w = {**TERM_WEIGHTS, **(weights or {})}
    return sum(w[name] * term(y_true, y_pred) for name, term in TERMS.items())
