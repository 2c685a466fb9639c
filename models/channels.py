"""Input channels: RGB (3) or RGB plus the previous frame's person mask (4, the video models).

A 4-channel network is the 3-channel one with a wider first convolution; the kernel's weights for
channel 4 start at zero, so a widened network computes exactly what its 3-channel source did
(ImageNet features, or a trained 3-channel checkpoint) until training teaches it to use the prior.
The spec records ``input_channels`` only when it is not 3, so the specs of RGB models stay as they were.
"""
import keras
import numpy as np

from config import RGB, WITH_PRIOR

CHOICES = (RGB, WITH_PRIOR)
PRIOR_CHANNEL = 3  # zero-based index of the prior in the input


def spec_channels(spec: dict) -> int:
    """The input channels a model spec builds (3 unless it says otherwise)."""
    return int(spec.get("kwargs", {}).get("input_channels", RGB))


def model_channels(model: keras.Model) -> int:
    return int(model.input_shape[-1])


def widened(weights: np.ndarray, shape) -> np.ndarray:
    """``weights`` fitted to ``shape``: the same array, or a convolution kernel (kh, kw, c_in, c_out) given
    more input channels, the new ones zero."""
    shape = tuple(shape)
    if weights.shape == shape:
        return weights
    if weights.ndim == 4 and len(shape) == 4 and weights.shape[:2] + weights.shape[3:] == shape[:2] + shape[3:] \
            and weights.shape[2] < shape[2]:
        return np.pad(weights, ((0, 0), (0, 0), (0, shape[2] - weights.shape[2]), (0, 0)))
    raise ValueError(f"weights of shape {weights.shape} do not fit {shape}")


def copy_widened(source: keras.Model, target: keras.Model) -> None:
    """Put ``source``'s weights into ``target``, the same network with more input channels."""
    target.set_weights([widened(np.asarray(w), v.shape) for w, v in zip(source.get_weights(), target.weights)])


def with_prior_batches(model: keras.Model, batches: list) -> list:
    """Test inputs for a model of either kind: RGB ``batches`` as they are for a 3-channel model; for a
    4-channel one each image twice, with an empty prior (a first frame) and with the model's own mask of
    it as the prior (the next frame of a still scene)."""
    if model_channels(model) != WITH_PRIOR:
        return batches
    first = [np.concatenate([b, np.zeros(b.shape[:-1] + (1,), np.float32)], axis=-1) for b in batches]
    second = [np.concatenate([b, np.asarray(model(x, training=False))[..., -1:]], axis=-1)
              for b, x in zip(batches, first)]
    return first + second
