"""The builder: a parsed spec as one ``augment(image, matte, seed_pair)`` function for tf.data map."""
import tensorflow as tf

from data.augment.rng import coin, seeds
from data.augment.spec import parse_spec


def _apply(entry, image, matte, seed):
    """Run one entry (with its probability), then clip image and matte to [0, 1]."""
    s_gate, s_op = seeds(seed, 2)
    if entry.p >= 1:
        out = entry.fn(image, matte, s_op)
    elif entry.p <= 0:
        out = image, matte
    else:
        out = tf.cond(coin(s_gate, entry.p), lambda: entry.fn(image, matte, s_op), lambda: (image, matte))
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
        for entry, entry_seed in zip(entries, seeds(seed_pair, len(entries))):
            image, matte = _apply(entry, image, matte, entry_seed)
        return image, matte
    return augment
