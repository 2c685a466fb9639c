"""Stateless random draws: every augmenter takes a seed pair and splits it, so it is reproducible."""
import tensorflow as tf


def seeds(seed, n):
    """``n`` independent stateless seeds derived from one."""
    return tf.unstack(tf.random.experimental.stateless_split(seed, n))


def uniform(seed, rng, shape=()):
    """Uniform float draw(s) from the (low, high) range ``rng``."""
    return tf.random.stateless_uniform(shape, seed, rng[0], rng[1])


def randint(seed, rng, shape=()):
    """Uniform integer draw(s) from the inclusive range ``rng``."""
    return tf.random.stateless_uniform(shape, seed, int(rng[0]), int(rng[1]) + 1, dtype=tf.int32)


def coin(seed, p, shape=()):
    """Boolean draw(s), True with probability ``p`` (a float or a tensor)."""
    return tf.random.stateless_uniform(shape, seed) < p


def channels(seed, per_channel, draw):
    """``draw(seed, c)`` with c=1 (shared by all channels) or c=3, chosen per imgaug's ``per_channel``.

    Both calls get the same seed so per-image draws (e.g. a sampled noise scale) agree.
    """
    s_draw, s_coin = seeds(seed, 2)
    if per_channel <= 0:
        return draw(s_draw, 1)
    if per_channel >= 1:
        return draw(s_draw, 3)
    return tf.where(coin(s_coin, per_channel), draw(s_draw, 3), draw(s_draw, 1))
