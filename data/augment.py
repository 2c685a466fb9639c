"""Training augmentation written in imgaug's vocabulary, implemented with TensorFlow ops.

imgaug no longer runs under NumPy 2, so the names and parameter meanings of its augmenters
are kept and re-implemented with stateless ``tf.random`` ops: an augmenter runs inside
``tf.data`` ``map`` in graph mode, and a per-sample ``seed_pair`` makes it reproducible.

Spec syntax
-----------
A spec is a ``;``-separated list of entries; ``"none"`` or ``""`` means no augmentation::

    Fliplr(0.5); Affine(rotate=(-15, 15), scale=(0.8, 1.2))@0.7; Add((-20, 20)); Dropout

* ``Name`` or ``Name()`` uses the defaults below; ``Name(args)`` takes positional arguments in
  the table's order and/or keyword arguments, written as Python literals (parsed with
  ``ast.literal_eval``, never evaluated).
* A number is a constant; a ``(low, high)`` pair is sampled uniformly per image (integers for
  integer parameters such as ``k``). Pixel values (``value``, ``loc``, ``scale`` of noise,
  ``lam``, ``replacement``, ``cval``, ``pad_cval``) are on imgaug's 0..255 scale.
* ``per_channel`` is ``True``/``False`` or imgaug's probability (e.g. ``0.5``) of sampling
  each channel separately.
* ``@p`` after an entry applies it to a sample with probability ``p`` (default 1).
* Entries run in order; the image is clipped to [0, 1] after each one, as imgaug's uint8 would.
* Geometric entries (``Fliplr``, ``Flipud``, ``Affine``, ``CropAndPad``,
  ``PerspectiveTransform``) warp the matte with the image (bilinear; where the fill mode is
  constant, the matte is filled with 0); all others change only the image.

Supported names
---------------

| name | parameters | defaults |
|---|---|---|
| Add | value, per_channel | value=(-20, 20), per_channel=False |
| AddElementwise | value, per_channel | value=(-20, 20), per_channel=False |
| AdditiveGaussianNoise | loc, scale, per_channel | loc=0, scale=(0, 15), per_channel=False |
| AdditiveLaplaceNoise | loc, scale, per_channel | loc=0, scale=(0, 15), per_channel=False |
| AdditivePoissonNoise | lam, per_channel | lam=(0, 15), per_channel=False |
| Multiply | mul, per_channel | mul=(0.8, 1.2), per_channel=False |
| MultiplyElementwise | mul, per_channel | mul=(0.8, 1.2), per_channel=False |
| Dropout | p, per_channel | p=(0, 0.05), per_channel=False |
| CoarseDropout | p, size_px, size_percent, per_channel, min_size | p=(0.02, 0.1), size_px=(3, 8), size_percent=None, per_channel=False, min_size=3 |
| Dropout2d | p, nb_keep_channels | p=0.1, nb_keep_channels=1 |
| TotalDropout | p | p=1 |
| ReplaceElementwise | mask, replacement, per_channel | mask=0.05, replacement=(0, 255), per_channel=False |
| ImpulseNoise | p | p=(0, 0.03) |
| SaltAndPepper | p, per_channel | p=(0, 0.03), per_channel=False |
| CoarseSaltAndPepper | p, size_px, size_percent, per_channel, min_size | p=(0.02, 0.1), size_px=(3, 8), size_percent=None, per_channel=False, min_size=3 |
| Salt | p, per_channel | p=(0, 0.03), per_channel=False |
| CoarseSalt | p, size_px, size_percent, per_channel, min_size | p=(0.02, 0.1), size_px=(3, 8), size_percent=None, per_channel=False, min_size=3 |
| Pepper | p, per_channel | p=(0, 0.05), per_channel=False |
| CoarsePepper | p, size_px, size_percent, per_channel, min_size | p=(0.02, 0.1), size_px=(3, 8), size_percent=None, per_channel=False, min_size=3 |
| Invert | p, per_channel | p=1, per_channel=False |
| ContrastNormalization | alpha, per_channel | alpha=(0.5, 1.5), per_channel=False |
| JpegCompression | compression | compression=(0, 100) |
| Fliplr | p | p=1 |
| Flipud | p | p=1 |
| Affine | scale, translate_percent, rotate, shear, mode, cval | scale=1, translate_percent=0, rotate=0, shear=0, mode="constant", cval=0; bare `Affine` means scale=(0.9, 1.1), translate_percent=(-0.05, 0.05), rotate=(-15, 15) |
| CropAndPad | percent, pad_mode, pad_cval, sample_independently | percent=(-0.1, 0.1), pad_mode="constant", pad_cval=0, sample_independently=True |
| PerspectiveTransform | scale, mode, cval | scale=(0, 0.06), mode="constant", cval=0 |
| GaussianBlur | sigma | sigma=(0, 3) |
| MotionBlur | k, angle, direction | k=(3, 7), angle=(0, 360), direction=(-1, 1) |
| LinearContrast | alpha, per_channel | alpha=(0.6, 1.4), per_channel=False |
| GammaContrast | gamma, per_channel | gamma=(0.7, 1.7), per_channel=False |
| MultiplyHueAndSaturation | mul, mul_hue, mul_saturation | mul=None, mul_hue=None, mul_saturation=None; all None means mul=(0.5, 1.5) |
| Grayscale | alpha | alpha=1 |

Notes: ``mode``/``pad_mode`` is one of constant, reflect, wrap, nearest. ``Affine``'s
``translate_percent`` is drawn separately for x and y, ``rotate``/``shear`` are degrees
(positive rotates clockwise, ``shear`` is along x). ``CropAndPad``'s ``percent`` is per side,
negative crops and positive pads, and the result is resized back to the input size.
``PerspectiveTransform``'s ``scale`` is the std of the corner jitter as a fraction of the image
size. ``size_percent``, when set, replaces ``size_px`` (the low-resolution mask size).
``min_size`` and ``nb_keep_channels`` take a single number. Unlike imgaug, a list of values
(a random choice) is not accepted, and ``Dropout2d``/``TotalDropout`` leave the matte as it is
(imgaug clears the label when every channel is dropped).
"""
import ast
import math
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from errors import UserError

DEFAULT_SPEC = ("Fliplr(0.5); "
                "Affine(scale=(0.85, 1.15), translate_percent=(-0.05, 0.05), rotate=(-15, 15))@0.7; "
                "Add((-20, 20))@0.5; Multiply((0.8, 1.2), per_channel=0.2)@0.5; "
                "LinearContrast((0.75, 1.25))@0.5; GaussianBlur(sigma=(0, 1))@0.2; "
                "AdditiveGaussianNoise(scale=(0, 8))@0.2; JpegCompression((30, 80))@0.2")

FILL_MODES = ("constant", "reflect", "wrap", "nearest")  # the only string-valued parameters


class AugmentSpecError(UserError, ValueError):
    """An unusable augmentation spec, explained in one line."""


# ---------------------------------------------------------------- random draws


def _seeds(seed, n):
    """``n`` independent stateless seeds derived from one."""
    return tf.unstack(tf.random.experimental.stateless_split(seed, n))


def _uniform(seed, rng, shape=()):
    """Uniform float draw(s) from the (low, high) range ``rng``."""
    return tf.random.stateless_uniform(shape, seed, rng[0], rng[1])


def _randint(seed, rng, shape=()):
    """Uniform integer draw(s) from the inclusive range ``rng``."""
    return tf.random.stateless_uniform(shape, seed, int(rng[0]), int(rng[1]) + 1, dtype=tf.int32)


def _coin(seed, p, shape=()):
    """Boolean draw(s), True with probability ``p`` (a float or a tensor)."""
    return tf.random.stateless_uniform(shape, seed) < p


def _per_channel(seed, per_channel, draw):
    """``draw(seed, c)`` with c=1 (shared by all channels) or c=3, chosen per imgaug's ``per_channel``.

    Both calls get the same seed so per-image draws (e.g. a sampled noise scale) agree.
    """
    s_draw, s_coin = _seeds(seed, 2)
    if per_channel <= 0:
        return draw(s_draw, 1)
    if per_channel >= 1:
        return draw(s_draw, 3)
    return tf.where(_coin(s_coin, per_channel), draw(s_draw, 3), draw(s_draw, 1))


def _px(rng):
    """A range on imgaug's 0..255 pixel scale -> the [0, 1] scale used here."""
    return rng[0] / 255.0, rng[1] / 255.0


# ---------------------------------------------------------------- building blocks


def _image_op(op):
    """Wrap ``op(image, seed) -> image`` as an augmenter that leaves the matte alone."""
    return lambda image, matte, seed: (op(image, seed), matte)


def _sampled_op(per_channel, sample, combine, elementwise=False):
    """Image op ``combine(image, values)`` with values from ``sample(seed, shape)``.

    ``shape`` is (1, 1, c) for one value per image, or (H, W, c) when ``elementwise``.
    """
    def op(image, seed):
        def draw(s, c):
            shape = [tf.shape(image)[0], tf.shape(image)[1], c] if elementwise else [1, 1, c]
            return combine(image, sample(s, shape))
        return _per_channel(seed, per_channel, draw)
    return _image_op(op)


def _mask(seed, image, p, c, coarse):
    """Boolean (H, W, c) mask, True with a per-image probability drawn from ``p``.

    ``coarse`` is None (per pixel) or (size_px, size_percent, min_size): the mask is drawn at
    that low resolution and upscaled (nearest), giving rectangular blobs as imgaug does.
    """
    s_p, s_size, s_mask = _seeds(seed, 3)
    prob = _uniform(s_p, p)
    hw = tf.shape(image)[:2]
    if coarse is None:
        return _coin(s_mask, prob, tf.concat([hw, [c]], 0))
    size_px, size_percent, min_size = coarse
    if size_percent is None:
        low = _randint(s_size, size_px, [2])
    else:
        low = tf.cast(tf.round(_uniform(s_size, size_percent) * tf.cast(hw, tf.float32)), tf.int32)
    low = tf.maximum(low, int(min_size))
    blobs = tf.cast(_coin(s_mask, prob, tf.concat([low, [c]], 0)), tf.float32)
    return tf.image.resize(blobs, hw, method="nearest") > 0.5


def _replace_op(p, per_channel, values, coarse=None):
    """Replace a random share ``p`` of pixels with ``values(seed, shape)`` (imgaug's ReplaceElementwise)."""
    def op(image, seed):
        def draw(s, c):
            s_mask, s_values = _seeds(s, 2)
            mask = _mask(s_mask, image, p, c, coarse)
            return tf.where(mask, values(s_values, tf.shape(mask)), image)
        return _per_channel(seed, per_channel, draw)
    return _image_op(op)


def _check(name, rng, low=-math.inf, high=math.inf):
    """Raise ValueError unless the (low, high) range ``rng`` of parameter ``name`` lies in [low, high]."""
    if rng is not None and not (low <= rng[0] and rng[1] <= high):
        raise ValueError(f"{name}={_show(rng)} must lie within [{low}, {high}]")


def _fixed(name, rng):
    """The single value of parameter ``name``; ValueError for a (low, high) range."""
    if rng[0] != rng[1]:
        raise ValueError(f"{name}={_show(rng)} must be a single number, not a range")
    return rng[0]


def _show(rng):
    """A normalized range as the user would write it: a number or a (low, high) pair."""
    return f"{rng[0]:g}" if rng[0] == rng[1] else f"({rng[0]:g}, {rng[1]:g})"


# ---------------------------------------------------------------- arithmetic (image only)


def _add(value, per_channel):
    return _sampled_op(per_channel, lambda s, shape: _uniform(s, _px(value), shape), tf.add)


def _add_elementwise(value, per_channel):
    return _sampled_op(per_channel, lambda s, shape: _uniform(s, _px(value), shape), tf.add, True)


def _gaussian_noise(loc, scale, per_channel):
    _check("scale", scale, 0)

    def sample(s, shape):
        s_loc, s_scale, s_noise = _seeds(s, 3)
        return _uniform(s_loc, _px(loc)) + _uniform(s_scale, _px(scale)) * tf.random.stateless_normal(shape, s_noise)
    return _sampled_op(per_channel, sample, tf.add, True)


def _laplace_noise(loc, scale, per_channel):
    _check("scale", scale, 0)

    def sample(s, shape):
        s_loc, s_scale, s_noise = _seeds(s, 3)
        u = _uniform(s_noise, (-0.4999, 0.5), shape)  # inverse CDF of the Laplace distribution
        return _uniform(s_loc, _px(loc)) - _uniform(s_scale, _px(scale)) * tf.sign(u) * tf.math.log1p(-2 * tf.abs(u))
    return _sampled_op(per_channel, sample, tf.add, True)


def _poisson_noise(lam, per_channel):
    _check("lam", lam, 0)

    def sample(s, shape):
        s_lam, s_noise, s_sign = _seeds(s, 3)
        counts = tf.random.stateless_poisson(shape, s_noise, _uniform(s_lam, lam), dtype=tf.float32)
        return tf.where(_coin(s_sign, 0.5, shape), counts, -counts) / 255.0  # imgaug's RandomSign
    return _sampled_op(per_channel, sample, tf.add, True)


def _multiply(mul, per_channel):
    _check("mul", mul, 0)
    return _sampled_op(per_channel, lambda s, shape: _uniform(s, mul, shape), tf.multiply)


def _multiply_elementwise(mul, per_channel):
    _check("mul", mul, 0)
    return _sampled_op(per_channel, lambda s, shape: _uniform(s, mul, shape), tf.multiply, True)


def _zeros(seed, shape):
    return tf.zeros(shape)


def _ones(seed, shape):
    return tf.ones(shape)


def _black_or_white(seed, shape):
    return tf.cast(_coin(seed, 0.5, shape), tf.float32)


def _dropout(p, per_channel):
    _check("p", p, 0, 1)
    return _replace_op(p, per_channel, _zeros)


def _coarse(values):
    """Builder for a coarse (low-resolution mask) variant of ``_replace_op`` with fixed ``values``."""
    def build(p, size_px, size_percent, per_channel, min_size):
        _check("p", p, 0, 1)
        _check("size_px", size_px, 1)
        _check("size_percent", size_percent, 0, 1)
        _check("min_size", min_size, 1)
        return _replace_op(p, per_channel, values, (size_px, size_percent, _fixed("min_size", min_size)))
    return build


def _dropout2d(p, nb_keep_channels):
    _check("p", p, 0, 1)
    _check("nb_keep_channels", nb_keep_channels, 0, 3)
    keep = int(_fixed("nb_keep_channels", nb_keep_channels))

    def op(image, seed):
        s_p, s_drop, s_rank = _seeds(seed, 3)
        drop = _coin(s_drop, _uniform(s_p, p), [3])
        if keep:  # the `keep` channels with the highest random rank always survive
            rank = tf.random.stateless_uniform([3], s_rank)
            drop &= rank < tf.math.top_k(rank, keep).values[-1]
        return tf.where(drop, 0.0, image)
    return _image_op(op)


def _total_dropout(p):
    _check("p", p, 0, 1)

    def op(image, seed):
        s_p, s_drop = _seeds(seed, 2)
        return tf.where(_coin(s_drop, _uniform(s_p, p)), tf.zeros_like(image), image)
    return _image_op(op)


def _replace_elementwise(mask, replacement, per_channel):
    _check("mask", mask, 0, 1)
    return _replace_op(mask, per_channel, lambda s, shape: _uniform(s, _px(replacement), shape))


def _impulse_noise(p):
    _check("p", p, 0, 1)
    return _replace_op(p, True, _black_or_white)


def _salt_and_pepper(p, per_channel):
    _check("p", p, 0, 1)
    return _replace_op(p, per_channel, _black_or_white)


def _salt(p, per_channel):
    _check("p", p, 0, 1)
    return _replace_op(p, per_channel, _ones)


def _pepper(p, per_channel):
    _check("p", p, 0, 1)
    return _replace_op(p, per_channel, _zeros)


def _invert(p, per_channel):
    _check("p", p, 0, 1)

    def sample(s, shape):
        s_p, s_flip = _seeds(s, 2)
        return _coin(s_flip, _uniform(s_p, p), shape)
    return _sampled_op(per_channel, sample, lambda image, flip: tf.where(flip, 1.0 - image, image))


def _linear_contrast(alpha, per_channel):
    _check("alpha", alpha, 0)
    return _sampled_op(per_channel, lambda s, shape: _uniform(s, alpha, shape),
                       lambda image, a: 0.5 + (image - 0.5) * a)


def _jpeg_compression(compression):
    _check("compression", compression, 0, 100)

    def op(image, seed):
        quality = tf.cast(tf.round(100.0 - _uniform(seed, compression)), tf.int32)
        out = tf.image.adjust_jpeg_quality(image, tf.clip_by_value(quality, 1, 100))
        out.set_shape(image.shape)
        return out
    return _image_op(op)


# ---------------------------------------------------------------- photometric (image only)


def _depthwise(image, kernel):
    """Convolve each channel of (H, W, 3) ``image`` with the 2-D ``kernel``, edges mirrored."""
    kh, kw = kernel.shape
    padded = tf.pad(image, [[kh // 2, kh // 2], [kw // 2, kw // 2], [0, 0]], mode="SYMMETRIC")
    filters = tf.tile(kernel[:, :, None, None], [1, 1, 3, 1])
    return tf.nn.depthwise_conv2d(padded[None], filters, [1, 1, 1, 1], "VALID")[0]


def _gaussian_blur(sigma):
    _check("sigma", sigma, 0)
    radius = math.ceil(3 * sigma[1])  # static kernel size, wide enough for the largest sigma

    def op(image, seed):
        x = tf.range(-radius, radius + 1, dtype=tf.float32)
        s = tf.maximum(_uniform(seed, sigma), 1e-3)  # sigma 0 -> a delta kernel, i.e. no blur
        k = tf.exp(-0.5 * (x / s) ** 2)
        k /= tf.reduce_sum(k)
        return _depthwise(_depthwise(image, k[None, :]), k[:, None])
    return _image_op(op)


def _motion_blur(k, angle, direction):
    _check("k", k, 3)
    _check("direction", direction, -1, 1)
    half = int(k[1]) // 2  # static kernel size 2*half+1, enough for the largest k

    def op(image, seed):
        s_k, s_angle, s_dir = _seeds(seed, 3)
        length = tf.cast(_randint(s_k, k), tf.float32)
        theta = _uniform(s_angle, angle) * (math.pi / 180.0)
        y, x = tf.meshgrid(tf.range(-half, half + 1, dtype=tf.float32), tf.range(-half, half + 1, dtype=tf.float32),
                           indexing="ij")
        along = x * tf.cos(theta) + y * tf.sin(theta)
        across = -x * tf.sin(theta) + y * tf.cos(theta)
        reach = (length - 1.0) / 2.0
        line = tf.nn.relu(1.0 - tf.abs(across)) * tf.clip_by_value(reach + 0.5 - tf.abs(along), 0.0, 1.0)
        ramp = tf.nn.relu(1.0 + _uniform(s_dir, direction) * along / tf.maximum(reach, 1.0))  # imgaug's direction
        kernel = line * ramp
        return _depthwise(image, kernel / tf.reduce_sum(kernel))
    return _image_op(op)


def _gamma_contrast(gamma, per_channel):
    _check("gamma", gamma, 1e-6)
    return _sampled_op(per_channel, lambda s, shape: _uniform(s, gamma, shape), tf.pow)


def _hue_saturation(mul, mul_hue, mul_saturation):
    if mul is None and mul_hue is None and mul_saturation is None:
        mul = (0.5, 1.5)
    for name, rng in (("mul", mul), ("mul_hue", mul_hue), ("mul_saturation", mul_saturation)):
        _check(name, rng, 0)
    hue, sat = mul_hue or mul or (1.0, 1.0), mul_saturation or mul or (1.0, 1.0)

    def op(image, seed):
        s_hue, s_sat = _seeds(seed, 2)
        h, s, v = tf.unstack(tf.image.rgb_to_hsv(image), axis=-1)
        h = tf.math.floormod(h * _uniform(s_hue, hue), 1.0)
        s = tf.clip_by_value(s * _uniform(s_sat, sat), 0.0, 1.0)
        return tf.image.hsv_to_rgb(tf.stack([h, s, v], axis=-1))
    return _image_op(op)


def _grayscale(alpha):
    _check("alpha", alpha, 0, 1)

    def op(image, seed):
        return image + _uniform(seed, alpha) * (tf.image.rgb_to_grayscale(image) - image)
    return _image_op(op)


# ---------------------------------------------------------------- geometric (image and matte)


def _flip(axis):
    """Builder for a flip along ``axis`` (1 = left/right, 0 = up/down) with probability p."""
    def build(p):
        _check("p", p, 0, 1)

        def fn(image, matte, seed):
            s_p, s_flip = _seeds(seed, 2)
            flip = _coin(s_flip, _uniform(s_p, p))
            return (tf.where(flip, tf.reverse(image, [axis]), image),
                    tf.where(flip, tf.reverse(matte, [axis]), matte))
        return fn
    return build


def _matrix(rows):
    """A 3x3 float32 matrix from nested lists of scalars and scalar tensors."""
    return tf.convert_to_tensor([[tf.cast(v, tf.float32) for v in row] for row in rows])


def _warp(image, matte, inverse, mode, fill):
    """Resample image and matte through ``inverse`` (output -> input, continuous pixel coordinates).

    Bilinear; outside the input the image takes ``mode`` (with value ``fill`` in [0, 1] for
    "constant") and the matte the same mode with 0.
    """
    shift = _matrix([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])  # pixel index -> continuous coordinate
    m = tf.linalg.inv(shift) @ inverse @ shift
    transform = tf.reshape(m / m[2, 2], [9])[:8][None]
    hw = tf.shape(image)[:2]

    def resample(x, fill):
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=x[None], transforms=transform, output_shape=hw, fill_value=fill,
            interpolation="BILINEAR", fill_mode=mode.upper())[0]
    return resample(image, fill), resample(matte, 0.0)


def _size(image):
    hw = tf.cast(tf.shape(image)[:2], tf.float32)
    return hw[1], hw[0]


def _affine(scale, translate_percent, rotate, shear, mode, cval):
    _check("scale", scale, 1e-3)
    _check("shear", shear, -89, 89)

    def fn(image, matte, seed):
        s_scale, s_tx, s_ty, s_rot, s_shear, s_cval = _seeds(seed, 6)
        w, h = _size(image)
        z = _uniform(s_scale, scale)
        tx, ty = _uniform(s_tx, translate_percent) * w, _uniform(s_ty, translate_percent) * h
        a = _uniform(s_rot, rotate) * (math.pi / 180.0)
        sh = tf.tan(_uniform(s_shear, shear) * (math.pi / 180.0))
        # forward map: move center to origin, scale, shear, rotate, move back and translate
        to_origin = _matrix([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]])
        linear = _matrix([[tf.cos(a), -tf.sin(a), 0], [tf.sin(a), tf.cos(a), 0], [0, 0, 1]]) @ \
            _matrix([[1, -sh, 0], [0, 1, 0], [0, 0, 1]]) @ _matrix([[z, 0, 0], [0, z, 0], [0, 0, 1]])
        back = _matrix([[1, 0, w / 2 + tx], [0, 1, h / 2 + ty], [0, 0, 1]])
        return _warp(image, matte, tf.linalg.inv(back @ linear @ to_origin), mode, _uniform(s_cval, _px(cval)))
    return fn


def _crop_and_pad(percent, pad_mode, pad_cval, sample_independently):
    _check("percent", percent, -0.49, 10)

    def fn(image, matte, seed):
        s_sides, s_cval = _seeds(seed, 2)
        w, h = _size(image)
        sides = _uniform(s_sides, percent, [4] if sample_independently else [1]) * tf.ones([4])
        top, right, bottom, left = tf.unstack(sides)
        # the output canvas spans [-left*w, w + right*w] x [-top*h, h + bottom*h] of the input
        inverse = _matrix([[1 + left + right, 0, -left * w], [0, 1 + top + bottom, -top * h], [0, 0, 1]])
        return _warp(image, matte, inverse, pad_mode, _uniform(s_cval, _px(pad_cval)))
    return fn


def _unit_square_to(quad):
    """Homography (3x3) mapping the unit square's corners (clockwise from (0, 0)) onto ``quad`` (4, 2)."""
    rows, rhs = [], []
    for i, (x, y) in enumerate([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]):
        u, v = quad[i, 0], quad[i, 1]
        rows += [tf.stack([x, y, 1.0, 0.0, 0.0, 0.0, -x * u, -y * u]),
                 tf.stack([0.0, 0.0, 0.0, x, y, 1.0, -x * v, -y * v])]
        rhs += [u, v]
    h = tf.linalg.solve(tf.stack(rows), tf.stack(rhs)[:, None])[:, 0]
    return tf.reshape(tf.concat([h, [1.0]], 0), [3, 3])


def _perspective(scale, mode, cval):
    _check("scale", scale, 0, 0.45)

    def fn(image, matte, seed):
        s_scale, s_jitter, s_cval = _seeds(seed, 3)
        w, h = _size(image)
        # corners move inward by |N(0, scale)| of the image size; that quad fills the output
        inset = tf.minimum(tf.abs(tf.random.stateless_normal([4, 2], s_jitter)) * _uniform(s_scale, scale), 0.45)
        quad = tf.constant([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]) + \
            inset * tf.constant([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
        to_pixels = _matrix([[w, 0, 0], [0, h, 0], [0, 0, 1]])
        inverse = to_pixels @ _unit_square_to(quad) @ tf.linalg.inv(to_pixels)
        return _warp(image, matte, inverse, mode, _uniform(s_cval, _px(cval)))
    return fn


# ---------------------------------------------------------------- registry and parsing

_COARSE_DEFAULTS = {"p": (0.02, 0.1), "size_px": (3, 8), "size_percent": None, "per_channel": False, "min_size": 3}

# name -> (builder, defaults); the defaults' order is the order of positional arguments
AUGMENTERS = {
    "Add": (_add, {"value": (-20, 20), "per_channel": False}),
    "AddElementwise": (_add_elementwise, {"value": (-20, 20), "per_channel": False}),
    "AdditiveGaussianNoise": (_gaussian_noise, {"loc": 0, "scale": (0, 15), "per_channel": False}),
    "AdditiveLaplaceNoise": (_laplace_noise, {"loc": 0, "scale": (0, 15), "per_channel": False}),
    "AdditivePoissonNoise": (_poisson_noise, {"lam": (0, 15), "per_channel": False}),
    "Multiply": (_multiply, {"mul": (0.8, 1.2), "per_channel": False}),
    "MultiplyElementwise": (_multiply_elementwise, {"mul": (0.8, 1.2), "per_channel": False}),
    "Dropout": (_dropout, {"p": (0, 0.05), "per_channel": False}),
    "CoarseDropout": (_coarse(_zeros), _COARSE_DEFAULTS),
    "Dropout2d": (_dropout2d, {"p": 0.1, "nb_keep_channels": 1}),
    "TotalDropout": (_total_dropout, {"p": 1}),
    "ReplaceElementwise": (_replace_elementwise, {"mask": 0.05, "replacement": (0, 255), "per_channel": False}),
    "ImpulseNoise": (_impulse_noise, {"p": (0, 0.03)}),
    "SaltAndPepper": (_salt_and_pepper, {"p": (0, 0.03), "per_channel": False}),
    "CoarseSaltAndPepper": (_coarse(_black_or_white), _COARSE_DEFAULTS),
    "Salt": (_salt, {"p": (0, 0.03), "per_channel": False}),
    "CoarseSalt": (_coarse(_ones), _COARSE_DEFAULTS),
    "Pepper": (_pepper, {"p": (0, 0.05), "per_channel": False}),
    "CoarsePepper": (_coarse(_zeros), _COARSE_DEFAULTS),
    "Invert": (_invert, {"p": 1, "per_channel": False}),
    "ContrastNormalization": (_linear_contrast, {"alpha": (0.5, 1.5), "per_channel": False}),
    "JpegCompression": (_jpeg_compression, {"compression": (0, 100)}),
    "Fliplr": (_flip(1), {"p": 1}),
    "Flipud": (_flip(0), {"p": 1}),
    "Affine": (_affine, {"scale": 1, "translate_percent": 0, "rotate": 0, "shear": 0, "mode": "constant", "cval": 0}),
    "CropAndPad": (_crop_and_pad, {"percent": (-0.1, 0.1), "pad_mode": "constant", "pad_cval": 0,
                                   "sample_independently": True}),
    "PerspectiveTransform": (_perspective, {"scale": (0, 0.06), "mode": "constant", "cval": 0}),
    "GaussianBlur": (_gaussian_blur, {"sigma": (0, 3)}),
    "MotionBlur": (_motion_blur, {"k": (3, 7), "angle": (0, 360), "direction": (-1, 1)}),
    "LinearContrast": (_linear_contrast, {"alpha": (0.6, 1.4), "per_channel": False}),
    "GammaContrast": (_gamma_contrast, {"gamma": (0.7, 1.7), "per_channel": False}),
    "MultiplyHueAndSaturation": (_hue_saturation, {"mul": None, "mul_hue": None, "mul_saturation": None}),
    "Grayscale": (_grayscale, {"alpha": 1}),
}

# what a name written without arguments means, where its defaults alone would do nothing
BARE_PRESETS = {"Affine": {"scale": (0.9, 1.1), "translate_percent": (-0.05, 0.05), "rotate": (-15, 15)}}


@dataclass(frozen=True)
class Entry:
    """One parsed spec entry: augmenter ``name`` with normalized ``params``, applied with probability ``p``."""
    name: str
    params: dict
    p: float
    fn: object = field(repr=False, compare=False)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _normalize(key, value, default):
    """Check one parameter against the kind of its default; numbers become (low, high) float pairs."""
    if isinstance(default, str):
        if value not in FILL_MODES:
            raise ValueError(f"{key}={value!r} must be one of {', '.join(FILL_MODES)}")
        return value
    if isinstance(default, bool):
        if isinstance(value, bool) or (_is_number(value) and 0 <= value <= 1):
            return float(value) if key == "per_channel" else bool(value)
        also = " or a probability" if key == "per_channel" else ""
        raise ValueError(f"{key}={value!r} must be True or False{also}")
    if value is None and default is None:
        return None
    if _is_number(value):
        return float(value), float(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(map(_is_number, value)) and value[0] <= value[1]:
        return float(value[0]), float(value[1])
    raise ValueError(f"{key}={value!r} must be a number or a (low, high) pair with low <= high")


def _split_probability(text):
    """``"Name(args)@p"`` -> ("Name(args)", p); no ``@`` means p = 1."""
    if "@" not in text:
        return text.strip(), 1.0
    call, p = text.rsplit("@", 1)
    try:
        p = float(p)
    except ValueError:
        raise ValueError(f"probability after '@' must be a number, got {p.strip()!r}") from None
    if not 0 <= p <= 1:
        raise ValueError(f"probability after '@' must lie within [0, 1], got {p:g}")
    return call.strip(), p


def _parse_call(call):
    """``"Name(1, key=(2, 3))"`` -> ("Name", [1], {"key": (2, 3)}), literals only."""
    try:
        node = ast.parse(call, mode="eval").body
    except SyntaxError as e:
        raise ValueError(f"cannot parse it ({e.msg}); expected Name, Name(args) or Name(args)@p") from None
    if isinstance(node, ast.Name):
        return node.id, [], {}
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise ValueError("expected Name, Name(args) or Name(args)@p")
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        raise ValueError("*args and **kwargs are not supported")
    try:
        return (node.func.id, [ast.literal_eval(a) for a in node.args],
                {k.arg: ast.literal_eval(k.value) for k in node.keywords})
    except (ValueError, TypeError):
        raise ValueError("arguments must be literals such as 0.5, (-20, 20), True or 'reflect'") from None


def _bind(name, args, kwargs):
    """Defaults of ``name`` overridden by positional then keyword arguments, normalized."""
    defaults = AUGMENTERS[name][1]
    if len(args) > len(defaults):
        raise ValueError(f"takes at most {len(defaults)} positional argument(s), got {len(args)}")
    given = dict(zip(defaults, args))
    for key, value in kwargs.items():
        if key not in defaults:
            raise ValueError(f"unknown parameter {key!r}")
        if key in given:
            raise ValueError(f"parameter {key!r} given twice")
        given[key] = value
    params = {**defaults, **(given or BARE_PRESETS.get(name, {}))}
    return {key: _normalize(key, value, defaults[key]) for key, value in params.items()}


def _parse_entry(text):
    """One spec entry -> Entry; AugmentSpecError (one line) naming the entry if it is unusable."""
    shown = " ".join(text.split())
    names = ", ".join(AUGMENTERS)
    try:
        call, p = _split_probability(text)
        name, args, kwargs = _parse_call(call)
    except ValueError as e:
        raise AugmentSpecError(f"augment entry {shown!r}: {e}; accepted names: {names}") from None
    if name not in AUGMENTERS:
        raise AugmentSpecError(f"augment entry {shown!r}: unknown name {name!r}; accepted names: {names}")
    builder, defaults = AUGMENTERS[name]
    try:
        params = _bind(name, args, kwargs)
        return Entry(name, params, p, builder(**params))
    except ValueError as e:
        raise AugmentSpecError(f"augment entry {shown!r}: {e}; {name} accepts: {', '.join(defaults)}") from None


def parse_spec(spec):
    """Parse a ``;``-separated spec into a list of Entry; ``"none"`` or blank gives []."""
    if spec is None or spec.strip().lower() in ("", "none"):
        return []
    return [_parse_entry(text) for text in spec.split(";") if text.strip()]


def _apply(entry, image, matte, seed):
    """Run one entry (with its probability), then clip the image to [0, 1]."""
    s_gate, s_op = _seeds(seed, 2)
    if entry.p >= 1:
        out = entry.fn(image, matte, s_op)
    elif entry.p <= 0:
        out = image, matte
    else:
        out = tf.cond(_coin(s_gate, entry.p), lambda: entry.fn(image, matte, s_op), lambda: (image, matte))
    new_image, new_matte = tf.clip_by_value(out[0], 0.0, 1.0), tf.clip_by_value(out[1], 0.0, 1.0)
    new_image.set_shape(image.shape)
    new_matte.set_shape(matte.shape)
    return new_image, new_matte


def build_augmenter(spec, seed=None):
    """``fn(image, matte, seed_pair) -> (image, matte)`` for ``spec``, or None when it is empty.

    image is float32 (H, W, 3) in [0, 1], matte float32 (H, W, 1) in [0, 1]; seed_pair is a
    shape-(2,) int tensor. The result depends only on the inputs, seed_pair and ``seed`` (an
    optional int folded into every seed_pair), so it is reproducible and safe in tf.data map.
    """
    entries = parse_spec(spec)
    if not entries:
        return None

    def augment(image, matte, seed_pair):
        image = tf.convert_to_tensor(image, tf.float32)
        matte = tf.convert_to_tensor(matte, tf.float32)
        seed_pair = tf.convert_to_tensor(seed_pair)
        if seed is not None:
            seed_pair = tf.random.experimental.stateless_fold_in(seed_pair, seed)
        for entry, entry_seed in zip(entries, _seeds(seed_pair, len(entries))):
            image, matte = _apply(entry, image, matte, entry_seed)
        return image, matte
    return augment


def preview_grid(images, mattes, cols=4):
    """uint8 RGB grid for eyeballing augmentation; each cell is the image beside it with the matte tinted red.

    images: (N, H, W, 3) floats in [0, 1]; mattes: (N, H, W, 1) floats in [0, 1].
    """
    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    mattes = np.clip(np.asarray(mattes, np.float32), 0.0, 1.0)
    tinted = images * (1.0 - 0.5 * mattes) + np.array([0.5, 0.0, 0.0], np.float32) * mattes
    cells = np.concatenate([images, tinted], axis=2)  # (N, H, 2W, 3)
    n, h, w2, _ = cells.shape
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    padded = np.zeros((rows * cols, h, w2, 3), np.float32)
    padded[:n] = cells
    grid = padded.reshape(rows, cols, h, w2, 3).transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w2, 3)
    return np.round(grid * 255.0).astype(np.uint8)
