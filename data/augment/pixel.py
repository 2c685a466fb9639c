"""Per-pixel ops, imgaug's arithmetic module (the seed's list): values added, multiplied, replaced."""
import tensorflow as tf

from data.augment.ranges import check, fixed, px
from data.augment.registry import IMAGE, register
from data.augment.rng import channels, coin, randint, seeds, uniform

_COARSE_DEFAULTS = {"p": (0.02, 0.1), "size_px": (3, 8), "size_percent": None, "per_channel": False, "min_size": 3}


def sampled_op(per_channel, sample, combine, elementwise=False):
    """Image op ``combine(image, values)`` with values from ``sample(seed, shape)``.

    ``shape`` is (1, 1, c) for one value per image, or (H, W, c) when ``elementwise``.
    """
    def op(image, seed):
        def draw(s, c):
            shape = [tf.shape(image)[0], tf.shape(image)[1], c] if elementwise else [1, 1, c]
            return combine(image, sample(s, shape))
        return channels(seed, per_channel, draw)
    return op


def _mask(seed, image, p, c, coarse):
    """Boolean (H, W, c) mask, True with a per-image probability drawn from ``p``.

    ``coarse`` is None (per pixel) or (size_px, size_percent, min_size): the mask is drawn at
    that low resolution and upscaled (nearest), giving rectangular blobs as imgaug does.
    """
    s_p, s_size, s_mask = seeds(seed, 3)
    prob = uniform(s_p, p)
    hw = tf.shape(image)[:2]
    if coarse is None:
        return coin(s_mask, prob, tf.concat([hw, [c]], 0))
    size_px, size_percent, min_size = coarse
    if size_percent is None:
        low = randint(s_size, size_px, [2])
    else:
        low = tf.cast(tf.round(uniform(s_size, size_percent) * tf.cast(hw, tf.float32)), tf.int32)
    low = tf.maximum(low, int(min_size))
    blobs = tf.cast(coin(s_mask, prob, tf.concat([low, [c]], 0)), tf.float32)
    return tf.image.resize(blobs, hw, method="nearest") > 0.5


def _replace_op(p, per_channel, values, coarse=None):
    """Replace a random share ``p`` of pixels with ``values(seed, shape)`` (imgaug's ReplaceElementwise)."""
    def op(image, seed):
        def draw(s, c):
            s_mask, s_values = seeds(s, 2)
            mask = _mask(s_mask, image, p, c, coarse)
            return tf.where(mask, values(s_values, tf.shape(mask)), image)
        return channels(seed, per_channel, draw)
    return op


def _zeros(seed, shape):
    return tf.zeros(shape)


def _ones(seed, shape):
    return tf.ones(shape)


def _black_or_white(seed, shape):
    return tf.cast(coin(seed, 0.5, shape), tf.float32)


@register("Add", IMAGE, {"value": (-20, 20), "per_channel": False})
def _add(value, per_channel):
    return sampled_op(per_channel, lambda s, shape: uniform(s, px(value), shape), tf.add)


@register("AddElementwise", IMAGE, {"value": (-20, 20), "per_channel": False})
def _add_elementwise(value, per_channel):
    return sampled_op(per_channel, lambda s, shape: uniform(s, px(value), shape), tf.add, True)


@register("AdditiveGaussianNoise", IMAGE, {"loc": 0, "scale": (0, 15), "per_channel": False})
def _gaussian_noise(loc, scale, per_channel):
    check("scale", scale, 0)

    def sample(s, shape):
        s_loc, s_scale, s_noise = seeds(s, 3)
        return uniform(s_loc, px(loc)) + uniform(s_scale, px(scale)) * tf.random.stateless_normal(shape, s_noise)
    return sampled_op(per_channel, sample, tf.add, True)


@register("AdditiveLaplaceNoise", IMAGE, {"loc": 0, "scale": (0, 15), "per_channel": False})
def _laplace_noise(loc, scale, per_channel):
    check("scale", scale, 0)

    def sample(s, shape):
        s_loc, s_scale, s_noise = seeds(s, 3)
        u = uniform(s_noise, (-0.4999, 0.5), shape)  # inverse CDF of the Laplace distribution
        return uniform(s_loc, px(loc)) - uniform(s_scale, px(scale)) * tf.sign(u) * tf.math.log1p(-2 * tf.abs(u))
    return sampled_op(per_channel, sample, tf.add, True)


@register("AdditivePoissonNoise", IMAGE, {"lam": (0, 15), "per_channel": False})
def _poisson_noise(lam, per_channel):
    check("lam", lam, 0)

    def sample(s, shape):
        s_lam, s_noise, s_sign = seeds(s, 3)
        counts = tf.random.stateless_poisson(shape, s_noise, uniform(s_lam, lam), dtype=tf.float32)
        return tf.where(coin(s_sign, 0.5, shape), counts, -counts) / 255.0  # imgaug's RandomSign
    return sampled_op(per_channel, sample, tf.add, True)


@register("Multiply", IMAGE, {"mul": (0.8, 1.2), "per_channel": False})
def _multiply(mul, per_channel):
    check("mul", mul, 0)
    return sampled_op(per_channel, lambda s, shape: uniform(s, mul, shape), tf.multiply)


@register("MultiplyElementwise", IMAGE, {"mul": (0.8, 1.2), "per_channel": False})
def _multiply_elementwise(mul, per_channel):
    check("mul", mul, 0)
    return sampled_op(per_channel, lambda s, shape: uniform(s, mul, shape), tf.multiply, True)


@register("Dropout", IMAGE, {"p": (0, 0.05), "per_channel": False})
def _dropout(p, per_channel):
    check("p", p, 0, 1)
    return _replace_op(p, per_channel, _zeros)


def _coarse(values):
    """Builder for a coarse (low-resolution mask) variant of ``_replace_op`` with fixed ``values``."""
    def build(p, size_px, size_percent, per_channel, min_size):
        check("p", p, 0, 1)
        check("size_px", size_px, 1)
        check("size_percent", size_percent, 0, 1)
        check("min_size", min_size, 1)
        return _replace_op(p, per_channel, values, (size_px, size_percent, fixed("min_size", min_size)))
    return build


register("CoarseDropout", IMAGE, _COARSE_DEFAULTS)(_coarse(_zeros))


@register("Dropout2d", IMAGE, {"p": 0.1, "nb_keep_channels": 1})
def _dropout2d(p, nb_keep_channels):
    check("p", p, 0, 1)
    check("nb_keep_channels", nb_keep_channels, 0, 3)
    keep = int(fixed("nb_keep_channels", nb_keep_channels))

    def op(image, seed):
        s_p, s_drop, s_rank = seeds(seed, 3)
        drop = coin(s_drop, uniform(s_p, p), [3])
        if keep:  # the `keep` channels with the highest random rank always survive
            rank = tf.random.stateless_uniform([3], s_rank)
            drop &= rank < tf.math.top_k(rank, keep).values[-1]
        return tf.where(drop, 0.0, image)
    return op


@register("TotalDropout", IMAGE, {"p": 1})
def _total_dropout(p):
    check("p", p, 0, 1)

    def op(image, seed):
        s_p, s_drop = seeds(seed, 2)
        return tf.where(coin(s_drop, uniform(s_p, p)), tf.zeros_like(image), image)
    return op


@register("ReplaceElementwise", IMAGE, {"mask": 0.05, "replacement": (0, 255), "per_channel": False})
def _replace_elementwise(mask, replacement, per_channel):
    check("mask", mask, 0, 1)
    return _replace_op(mask, per_channel, lambda s, shape: uniform(s, px(replacement), shape))


@register("ImpulseNoise", IMAGE, {"p": (0, 0.03)})
def _impulse_noise(p):
    check("p", p, 0, 1)
    return _replace_op(p, True, _black_or_white)


@register("SaltAndPepper", IMAGE, {"p": (0, 0.03), "per_channel": False})
def _salt_and_pepper(p, per_channel):
    check("p", p, 0, 1)
    return _replace_op(p, per_channel, _black_or_white)


register("CoarseSaltAndPepper", IMAGE, _COARSE_DEFAULTS)(_coarse(_black_or_white))


@register("Salt", IMAGE, {"p": (0, 0.03), "per_channel": False})
def _salt(p, per_channel):
    check("p", p, 0, 1)
    return _replace_op(p, per_channel, _ones)


register("CoarseSalt", IMAGE, _COARSE_DEFAULTS)(_coarse(_ones))


@register("Pepper", IMAGE, {"p": (0, 0.05), "per_channel": False})
def _pepper(p, per_channel):
    check("p", p, 0, 1)
    return _replace_op(p, per_channel, _zeros)


register("CoarsePepper", IMAGE, _COARSE_DEFAULTS)(_coarse(_zeros))


@register("Invert", IMAGE, {"p": 1, "per_channel": False})
def _invert(p, per_channel):
    check("p", p, 0, 1)

    def sample(s, shape):
        s_p, s_flip = seeds(s, 2)
        return coin(s_flip, uniform(s_p, p), shape)
    return sampled_op(per_channel, sample, lambda image, flip: tf.where(flip, 1.0 - image, image))


@register("ContrastNormalization", IMAGE, {"alpha": (0.5, 1.5), "per_channel": False})
def linear_contrast(alpha, per_channel):
    """imgaug's LinearContrast (photometric, registered there too) under its older name."""
    check("alpha", alpha, 0)
    return sampled_op(per_channel, lambda s, shape: uniform(s, alpha, shape),
                       lambda image, a: 0.5 + (image - 0.5) * a)


@register("JpegCompression", IMAGE, {"compression": (0, 100)})
def _jpeg_compression(compression):
    check("compression", compression, 0, 100)

    def op(image, seed):
        quality = tf.cast(tf.round(100.0 - uniform(seed, compression)), tf.int32)
        out = tf.image.adjust_jpeg_quality(image, tf.clip_by_value(quality, 1, 100))
        out.set_shape(image.shape)
        return out
    return op
