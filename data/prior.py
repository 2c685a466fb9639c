"""Simulated prior masks for training the 4-channel video models (RGB + the previous frame's mask).

At inference the fourth channel is the previous frame's person probability. Training has no previous
frame, so, as PortraitNet did, the prior is made from the ground-truth matte of the same augmented
image: an affine jitter (shift, scale, rotation: the person moved between frames), an erosion or a
dilation and a blur (the previous outline was off, and soft), noise, and with some probability an empty
prior (a first frame, or a person who just came in). Every draw is stateless, from the sample's seed, so
a resumed run sees the priors an uninterrupted one would.
"""
import math
from dataclasses import dataclass, fields

import tensorflow as tf
from keras import ops

from config import TrainConfig
from data.augment.rng import coin, randint, seeds, uniform
from utils import UserError

PRIOR_STREAM = 17  # folded into a sample's seed pair: the prior's draws are not the augmentation's
VALIDATION_SEED = 20261201  # validation priors: seeded by this and the matte itself, the same every epoch


@dataclass(frozen=True)
class PriorSettings:
    """How far a simulated prior strays from the truth; each draw is uniform in [0, max] (or [-max, max])."""
    shift: float = TrainConfig.prior_shift  # translation, a share of the side, on each axis
    scale: float = TrainConfig.prior_scale  # relative change of size
    rotate: float = TrainConfig.prior_rotate  # degrees
    morph: float = TrainConfig.prior_morph  # erosion (negative) or dilation radius, a share of the side
    blur: float = TrainConfig.prior_blur  # Gaussian sigma, a share of the side
    noise: float = TrainConfig.prior_noise  # standard deviation of per-pixel Gaussian noise
    empty: float = TrainConfig.prior_empty  # probability that the prior is empty

    @classmethod
    def from_config(cls, config) -> "PriorSettings":
        """From a record with ``prior_<name>`` fields (config.TrainConfig)."""
        return cls(**{f.name: getattr(config, f"prior_{f.name}") for f in fields(cls)})


def jitter(matte: tf.Tensor, seed: tf.Tensor, settings: PriorSettings) -> tf.Tensor:
    """``matte`` (H, W, 1) moved by a random shift, scale and rotation about its centre; the edges are
    extended (a person cut by the frame's edge stays cut there)."""
    s_x, s_y, s_scale, s_rot = seeds(seed, 4)
    size = float(matte.shape[0])
    tx, ty = (uniform(s, (-settings.shift, settings.shift)) * size for s in (s_x, s_y))
    z = 1.0 + uniform(s_scale, (-settings.scale, settings.scale))
    a = uniform(s_rot, (-settings.rotate, settings.rotate)) * (math.pi / 180.0)
    c = (size - 1.0) / 2.0
    # output -> input: p = A^-1 (p' - c - t) + c, with A = z R(a)
    cos, sin = tf.cos(a) / z, tf.sin(a) / z
    transform = tf.stack([cos, sin, c - cos * (c + tx) - sin * (c + ty),
                          -sin, cos, c + sin * (c + tx) - cos * (c + ty), 0.0, 0.0])
    return ops.image.affine_transform(matte, transform, interpolation="bilinear", fill_mode="nearest",
                                      data_format="channels_last")


def morph(matte: tf.Tensor, seed: tf.Tensor, radius: int) -> tf.Tensor:
    """``matte`` dilated (r > 0) or eroded (r < 0) by a disk of radius |r|, r drawn in [-radius, radius]."""
    if radius < 1:
        return matte
    r = tf.cast(randint(seed, (-radius, radius)), tf.float32)
    grid = tf.range(-radius, radius + 1, dtype=tf.float32)
    disk = tf.where(tf.sqrt(grid[:, None] ** 2 + grid[None, :] ** 2) <= tf.abs(r), 0.0, -1.0)[..., None]
    batch, unit = matte[None], [1, 1, 1, 1]
    grown = tf.nn.dilation2d(batch, disk, unit, "SAME", "NHWC", unit)[0]
    shrunk = tf.nn.erosion2d(batch, disk, unit, "SAME", "NHWC", unit)[0]
    return tf.where(r > 0, grown, tf.where(r < 0, shrunk, matte))


def blur(matte: tf.Tensor, seed: tf.Tensor, max_sigma: float) -> tf.Tensor:
    """A Gaussian blur of ``matte`` with sigma drawn in [0, max_sigma] pixels (edges mirrored)."""
    radius = math.ceil(3 * max_sigma)
    if radius < 1:
        return matte
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    sigma = tf.maximum(uniform(seed, (0.0, max_sigma)), 1e-3)  # sigma ~0: a delta kernel
    kernel = tf.exp(-0.5 * (x / sigma) ** 2)
    kernel /= tf.reduce_sum(kernel)
    padded = tf.pad(matte, [[radius, radius], [radius, radius], [0, 0]], mode="SYMMETRIC")[None]
    rows = tf.nn.conv2d(padded, kernel[:, None, None, None], 1, "VALID")
    return tf.nn.conv2d(rows, kernel[None, :, None, None], 1, "VALID")[0]


def simulate_prior(matte: tf.Tensor, seed: tf.Tensor, settings: PriorSettings) -> tf.Tensor:
    """A plausible previous-frame mask (H, W, 1) in [0, 1] for the ground-truth ``matte`` (H, W, 1)."""
    size = int(matte.shape[0])
    s_jitter, s_morph, s_blur, s_std, s_noise, s_empty = seeds(seed, 6)
    prior = jitter(matte, s_jitter, settings)
    prior = morph(prior, s_morph, round(settings.morph * size))
    prior = blur(prior, s_blur, settings.blur * size)
    prior += uniform(s_std, (0.0, settings.noise)) * tf.random.stateless_normal(tf.shape(prior), s_noise)
    prior = tf.where(coin(s_empty, settings.empty), 0.0, tf.clip_by_value(prior, 0.0, 1.0))
    prior.set_shape(matte.shape)
    return prior


def with_prior(image: tf.Tensor, matte: tf.Tensor, seed: tf.Tensor, settings: PriorSettings) -> tf.Tensor:
    """RGB ``image`` with a prior simulated from ``matte`` appended as channel 4."""
    return tf.concat([image, simulate_prior(matte, seed, settings)], axis=-1)


def matte_seed(matte: tf.Tensor) -> tf.Tensor:
    """A seed pair that depends only on the matte: a validation image gets the same prior every epoch."""
    return tf.stack([tf.constant(VALIDATION_SEED, tf.int64), tf.cast(tf.reduce_sum(matte) * 256.0, tf.int64)])


def training_pipeline(augment, targets, channels: int, config):
    """For a model of ``channels`` input channels, the ``(augment, targets)`` functions of the tf.data
    pipelines (data/dataset.py's ``make_dataset``): unchanged for RGB; for RGB + prior, training samples
    get a prior drawn from their augmented matte and seed, validation samples (never augmented) one
    seeded by their matte."""
    if channels == 3:
        return augment, targets
    if config.teacher:
        raise UserError(f"--teacher={config.teacher}: distillation into a 4-channel (RGB + prior) model is not "
                        f"supported")
    settings = PriorSettings.from_config(config)

    def augmented(image, matte, seed_pair):
        if augment is not None:
            image, matte = augment(image, matte, seed_pair)
        return with_prior(image, matte[..., :1], tf.random.experimental.stateless_fold_in(seed_pair, PRIOR_STREAM),
                          settings), matte

    def shaped(image, matte):  # matte[..., :1]: the alpha of a matte that may also carry F and B (companions)
        if image.shape[-1] == 3:  # a validation sample
            image = with_prior(image, matte[..., :1], matte_seed(matte[..., :1]), settings)
        return targets(image, matte)
    return augmented, shaped
