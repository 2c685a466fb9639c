"""Geometric ops: the image and the matte move together (bilinear, so soft mattes stay in [0, 1])."""
import math

import tensorflow as tf
from keras import ops

from data.augment.ranges import check, px
from data.augment.registry import GEOMETRIC, register
from data.augment.rng import coin, seeds, uniform


def _flip(axis):
    """Builder for a flip along ``axis`` (1 = left/right, 0 = up/down) with probability p."""
    def build(p):
        check("p", p, 0, 1)

        def op(image, matte, seed):
            s_p, s_flip = seeds(seed, 2)
            flip = coin(s_flip, uniform(s_p, p))
            return (tf.where(flip, tf.reverse(image, [axis]), image),
                    tf.where(flip, tf.reverse(matte, [axis]), matte))
        return op
    return build


register("Fliplr", GEOMETRIC, {"p": 1})(_flip(1))
register("Flipud", GEOMETRIC, {"p": 1})(_flip(0))


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
    transform = tf.reshape(m / m[2, 2], [9])[:8]

    def resample(x, fill):  # despite its name, affine_transform takes any projective transform
        return ops.image.affine_transform(x, transform, interpolation="bilinear", fill_mode=mode,
                                          fill_value=fill, data_format="channels_last")
    return resample(image, fill), resample(matte, 0.0)


def _size(image):
    hw = tf.cast(tf.shape(image)[:2], tf.float32)
    return hw[1], hw[0]


@register("Affine", GEOMETRIC,
          {"scale": 1, "translate_percent": 0, "rotate": 0, "shear": 0, "mode": "constant", "cval": 0},
          bare={"scale": (0.9, 1.1), "translate_percent": (-0.05, 0.05), "rotate": (-15, 15)})
def _affine(scale, translate_percent, rotate, shear, mode, cval):
    check("scale", scale, 1e-3)
    check("shear", shear, -89, 89)

    def op(image, matte, seed):
        s_scale, s_tx, s_ty, s_rot, s_shear, s_cval = seeds(seed, 6)
        w, h = _size(image)
        z = uniform(s_scale, scale)
        tx, ty = uniform(s_tx, translate_percent) * w, uniform(s_ty, translate_percent) * h
        a = uniform(s_rot, rotate) * (math.pi / 180.0)
        sh = tf.tan(uniform(s_shear, shear) * (math.pi / 180.0))
        # forward map: move center to origin, scale, shear, rotate, move back and translate
        to_origin = _matrix([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]])
        linear = _matrix([[tf.cos(a), -tf.sin(a), 0], [tf.sin(a), tf.cos(a), 0], [0, 0, 1]]) @ \
            _matrix([[1, -sh, 0], [0, 1, 0], [0, 0, 1]]) @ _matrix([[z, 0, 0], [0, z, 0], [0, 0, 1]])
        back = _matrix([[1, 0, w / 2 + tx], [0, 1, h / 2 + ty], [0, 0, 1]])
        return _warp(image, matte, tf.linalg.inv(back @ linear @ to_origin), mode, uniform(s_cval, px(cval)))
    return op


@register("CropAndPad", GEOMETRIC,
          {"percent": (-0.1, 0.1), "pad_mode": "constant", "pad_cval": 0, "sample_independently": True})
def _crop_and_pad(percent, pad_mode, pad_cval, sample_independently):
    check("percent", percent, -0.49, 10)

    def op(image, matte, seed):
        s_sides, s_cval = seeds(seed, 2)
        w, h = _size(image)
        sides = uniform(s_sides, percent, [4] if sample_independently else [1]) * tf.ones([4])
        top, right, bottom, left = tf.unstack(sides)
        # the output canvas spans [-left*w, w + right*w] x [-top*h, h + bottom*h] of the input
        inverse = _matrix([[1 + left + right, 0, -left * w], [0, 1 + top + bottom, -top * h], [0, 0, 1]])
        return _warp(image, matte, inverse, pad_mode, uniform(s_cval, px(pad_cval)))
    return op


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


@register("PerspectiveTransform", GEOMETRIC, {"scale": (0, 0.06), "mode": "constant", "cval": 0})
def _perspective(scale, mode, cval):
    check("scale", scale, 0, 0.45)

    def op(image, matte, seed):
        s_scale, s_jitter, s_cval = seeds(seed, 3)
        w, h = _size(image)
        # corners move inward by |N(0, scale)| of the image size; that quad fills the output
        inset = tf.minimum(tf.abs(tf.random.stateless_normal([4, 2], s_jitter)) * uniform(s_scale, scale), 0.45)
        quad = tf.constant([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]) + \
            inset * tf.constant([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
        to_pixels = _matrix([[w, 0, 0], [0, h, 0], [0, 0, 1]])
        # hand-written, not ops.image.perspective_transform: that one fills with a constant only
        inverse = to_pixels @ _unit_square_to(quad) @ tf.linalg.inv(to_pixels)
        return _warp(image, matte, inverse, mode, uniform(s_cval, px(cval)))
    return op
