"""Photometric ops: blur, contrast and colour; the image changes, the matte does not."""
import math

import tensorflow as tf

from data.augment.pixel import linear_contrast, sampled_op
from data.augment.ranges import check
from data.augment.registry import IMAGE, register
from data.augment.rng import randint, seeds, uniform

_ALL_NONE_MUL = (0.5, 1.5)  # MultiplyHueAndSaturation's mul when no multiplier is given


def _depthwise(image, kernel):
    """Convolve each channel of (H, W, 3) ``image`` with the 2-D ``kernel``, edges mirrored."""
    kh, kw = kernel.shape
    padded = tf.pad(image, [[kh // 2, kh // 2], [kw // 2, kw // 2], [0, 0]], mode="SYMMETRIC")
    filters = tf.tile(kernel[:, :, None, None], [1, 1, 3, 1])
    return tf.nn.depthwise_conv2d(padded[None], filters, [1, 1, 1, 1], "VALID")[0]


@register("GaussianBlur", IMAGE, {"sigma": (0, 3)})
def _gaussian_blur(sigma):
    check("sigma", sigma, 0)
    radius = math.ceil(3 * sigma[1])  # static kernel size, wide enough for the largest sigma

    def op(image, seed):
        x = tf.range(-radius, radius + 1, dtype=tf.float32)
        s = tf.maximum(uniform(seed, sigma), 1e-3)  # sigma 0 -> a delta kernel, i.e. no blur
        k = tf.exp(-0.5 * (x / s) ** 2)
        k /= tf.reduce_sum(k)
        return _depthwise(_depthwise(image, k[None, :]), k[:, None])
    return op


def _line_kernel(half, length, theta, direction):
    """(2*half+1)² kernel: an antialiased line of ``length`` px at angle ``theta``, weighted by ``direction``."""
    y, x = tf.meshgrid(tf.range(-half, half + 1, dtype=tf.float32), tf.range(-half, half + 1, dtype=tf.float32),
                       indexing="ij")
    along = x * tf.cos(theta) + y * tf.sin(theta)
    across = -x * tf.sin(theta) + y * tf.cos(theta)
    reach = (length - 1.0) / 2.0
    line = tf.nn.relu(1.0 - tf.abs(across)) * tf.clip_by_value(reach + 0.5 - tf.abs(along), 0.0, 1.0)
    kernel = line * tf.nn.relu(1.0 + direction * along / tf.maximum(reach, 1.0))  # imgaug's direction
    return kernel / tf.reduce_sum(kernel)


@register("MotionBlur", IMAGE, {"k": (3, 7), "angle": (0, 360), "direction": (-1, 1)})
def _motion_blur(k, angle, direction):
    check("k", k, 3)
    check("direction", direction, -1, 1)
    half = int(k[1]) // 2  # static kernel size 2*half+1, enough for the largest k

    def op(image, seed):
        s_k, s_angle, s_dir = seeds(seed, 3)
        length = tf.cast(randint(s_k, k), tf.float32)
        theta = uniform(s_angle, angle) * (math.pi / 180.0)
        return _depthwise(image, _line_kernel(half, length, theta, uniform(s_dir, direction)))
    return op


register("LinearContrast", IMAGE, {"alpha": (0.6, 1.4), "per_channel": False})(linear_contrast)


@register("GammaContrast", IMAGE, {"gamma": (0.7, 1.7), "per_channel": False})
def _gamma_contrast(gamma, per_channel):
    check("gamma", gamma, 1e-6)
    return sampled_op(per_channel, lambda s, shape: uniform(s, gamma, shape), tf.pow)


@register("MultiplyHueAndSaturation", IMAGE, {"mul": None, "mul_hue": None, "mul_saturation": None},
          note=f"all None means mul={_ALL_NONE_MUL}")
def _hue_saturation(mul, mul_hue, mul_saturation):
    if mul is None and mul_hue is None and mul_saturation is None:
        mul = _ALL_NONE_MUL
    for name, rng in (("mul", mul), ("mul_hue", mul_hue), ("mul_saturation", mul_saturation)):
        check(name, rng, 0)
    hue, sat = mul_hue or mul or (1.0, 1.0), mul_saturation or mul or (1.0, 1.0)

    def op(image, seed):
        s_hue, s_sat = seeds(seed, 2)
        h, s, v = tf.unstack(tf.image.rgb_to_hsv(image), axis=-1)
        h = tf.math.floormod(h * uniform(s_hue, hue), 1.0)
        s = tf.clip_by_value(s * uniform(s_sat, sat), 0.0, 1.0)
        return tf.image.hsv_to_rgb(tf.stack([h, s, v], axis=-1))
    return op


@register("Grayscale", IMAGE, {"alpha": 1})
def _grayscale(alpha):
    check("alpha", alpha, 0, 1)

    def op(image, seed):
        return image + uniform(seed, alpha) * (tf.image.rgb_to_grayscale(image) - image)
    return op
