"""Portrait datasets in the seed layout, streamed from disk with tf.data.

A dataset folder holds ``training/`` and ``testing/``; each holds pairs ``NAME.(png|jpg|jpeg)`` +
``NAME_matte.png``. Mattes are one channel, 0 = background, 255 = person, binary or soft alpha.
A photo without a matte (``--unlabeled_dir``) is a pair whose matte path is empty: it trains only
through a teacher's labels, with sample weight 0 for the ground-truth losses.
With ``companions`` (a pseudo-alpha cache: data/pseudo_alpha.py) the matte travels as 7 channels,
alpha + foreground F + background B (data/layout.py), so geometric augmentation moves all three alike.
"""
import hashlib
import os
import random
import re

import tensorflow as tf

from data.augment.paste import with_copy_paste
from data.preprocess import INPUT_OFFSET, INPUT_SCALE
from data.boundary import boundary_target
from data.images import read_image, read_matte
from data.layout import (COMPANION_SUFFIXES, IMAGE_EXTENSIONS, LAYOUT, MATTE_SUFFIX, companion_paths,  # noqa: F401
                         dataset_dirs, find_pairs, has_companions, name_list, set_names, weighted_dirs)
from utils import UserError

MATTE_CHANNELS = 7  # with companions: alpha, F (RGB), B (RGB)


def normalize(image_uint8):
    """uint8 RGB (..., H, W, 3) -> float32 model input in [0, 1], in the training graph."""
    return tf.cast(image_uint8, tf.float32) * INPUT_SCALE + INPUT_OFFSET


def resize_image(image, size):
    """A float image (H, W, C) or batch resized to ``size`` x ``size`` in the training graph, antialiased
    bilinear: the numbers of data/preprocess.py's ``model_input``."""
    return tf.image.resize(image, (size, size), method="bilinear", antialias=True)


def resize_matte(matte, size):
    """A float matte in [0, 1] resized bilinearly; soft edges stay soft and in range."""
    return tf.clip_by_value(tf.image.resize(matte, (size, size), method="bilinear", antialias=True), 0.0, 1.0)


def unlabeled_images(folder):
    """``(image_path, "")`` for every photo in ``folder`` (mattes there are ignored), sorted."""
    if not os.path.isdir(folder):
        raise UserError(f"--unlabeled_dir: folder not found: {folder}")
    images = [os.path.join(folder, f) for f in sorted(os.listdir(folder))
              if f.lower().endswith(IMAGE_EXTENSIONS) and not f.endswith(MATTE_SUFFIX)]
    if not images:
        raise UserError(f"--unlabeled_dir: no .png/.jpg/.jpeg photos in {folder}")
    return [(path, "") for path in images]


def oversampled(pairs, weight, seed):
    """``pairs`` drawn ``weight`` times as often: every pair floor(weight) times, plus a seeded share of them
    for the fraction."""
    whole, extra = int(weight), round((weight - int(weight)) * len(pairs))
    return pairs * whole + random.Random(seed).sample(pairs, extra)


SPLIT = "hash"  # the split of new runs, recorded as run_config.json's "split"; runs recorded without one: "shuffle"


def in_training(image_path, val_ratio, seed):
    """Whether a pair trains: a hash of ``seed`` and its image's file name, read as a number in [0, 1), below
    ``val_ratio``. Each pair's side depends on itself alone, so adding or removing a file moves no other."""
    digest = hashlib.sha256(f"{seed}/{os.path.basename(image_path)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < val_ratio


def split_pairs(pairs, val_ratio, seed, method=SPLIT):
    """``(training pairs, validation pairs)``: ``val_ratio`` is the training share. ``"hash"``: each pair by
    ``in_training``, so the share is ``val_ratio`` on average. ``"shuffle"``, the split of runs recorded before
    the hash: a seeded shuffle, its first ``round(val_ratio * pairs)`` train; one new file re-deals them all."""
    if not 0.0 < val_ratio < 1.0:
        raise UserError(f"--val_ratio must be between 0 and 1 (exclusive), got {val_ratio}")
    if method == "hash":
        train = [pair for pair in pairs if in_training(pair[0], val_ratio, seed)]
        val = [pair for pair in pairs if not in_training(pair[0], val_ratio, seed)]
    else:
        shuffled = list(pairs)
        random.Random(seed).shuffle(shuffled)
        n_train = round(len(shuffled) * val_ratio)
        train, val = shuffled[:n_train], shuffled[n_train:]
    if not train or not val:
        raise UserError(f"--val_ratio={val_ratio} on {len(pairs)} pairs leaves the "
                        f"{'training' if not train else 'validation'} set empty")
    return train, val


def decode_image(path):
    """A photo as uint8 RGB (H, W, 3) in the training graph, read by data/images.py's ``read_image`` (EXIF
    orientation applied, like every other path)."""
    image = tf.numpy_function(lambda p: read_image(p.decode(), "--dataset_dir"), [path], tf.uint8, stateful=False)
    image.set_shape((None, None, 3))
    return image


def decode_matte(path):
    """A matte as float32 alpha in [0, 1], shape (H, W, 1), read by data/images.py's ``read_matte``."""
    matte = tf.numpy_function(lambda p: read_matte(p.decode()), [path], tf.float32, stateful=False)
    matte.set_shape((None, None))
    return matte[..., None]


def labelled(matte_path):
    return tf.strings.length(matte_path) > 0


def load_pair(image_path, matte_path, size, companions=False):
    """The image and its matte at ``size``; an empty matte path gives an all-background matte. With
    ``companions`` the matte is alpha + F + B, (size, size, 7), F and B read beside the matte."""
    image = resize_image(normalize(decode_image(image_path)), size)
    matte = tf.cond(labelled(matte_path), lambda: resize_matte(decode_matte(matte_path), size),
                    lambda: tf.zeros((size, size, 1)))
    if companions:
        stem = tf.strings.regex_replace(matte_path, re.escape(MATTE_SUFFIX) + "$", "")
        colours = [resize_image(normalize(decode_image(stem + suffix)), size) for suffix in COMPANION_SUFFIXES]
        matte = tf.concat([matte, *colours], axis=-1)
    image.set_shape((size, size, 3))
    matte.set_shape((size, size, MATTE_CHANNELS if companions else 1))
    return image, matte


def training_targets(boundary, matting):
    """``fn(image, matte) -> (image, target)`` building what the model's losses expect.

    The target is the matte for the mask's metrics and for the person logit's loss; when the matting
    loss needs more, alpha + F + B (a 7-channel matte, from companions) as it comes, else alpha + the
    image as channels 1..3. ``"boundary"``: the Canny band, for a model with a boundary head.
    """
    def targets(image, matte):
        mask = matte[..., :1]
        if matting:  # image[..., :3]: a 4-channel model's input also carries the prior
            mask = matte if matte.shape[-1] == MATTE_CHANNELS else tf.concat([mask, image[..., :3]], axis=-1)
        if not boundary:
            return image, {"mask": mask, "person_logit": mask}
        band = tf.numpy_function(boundary_target, [matte[..., :1]], tf.float32, stateful=False)
        band.set_shape(matte.shape[:-1] + (1,))
        return image, {"mask": mask, "person_logit": mask, "boundary": band}
    return targets


def in_memory(images, mattes, size, companions=False):
    """``index -> (image, matte)`` from every pair decoded and resized once, all held in memory (``--cache``:
    (3 + 1) x 4 bytes a pixel, 1 MB a pair at 256x256; (3 + 7) x 4 with companions)."""
    decoded = tf.data.Dataset.from_tensor_slices((images, mattes)).map(
        lambda i, m: load_pair(i, m, size, companions), num_parallel_calls=tf.data.AUTOTUNE)
    all_images, all_mattes = decoded.batch(int(images.shape[0])).get_single_element()
    return lambda index: (tf.gather(all_images, index), tf.gather(all_mattes, index))


def make_dataset(pairs, size, batch_size, training, seed=0, augment=None, targets=None, first_epoch=0, teacher=None,
                 cache=False, shard=None, companions=False, copy_paste=0.0):
    """A batched, prefetched tf.data pipeline that streams ``pairs`` from disk.

    An evaluation pipeline is one pass in order. A training pipeline is endless, epoch after epoch from
    ``first_epoch`` (fit it with ``steps_per_epoch``): epoch e is a shuffle of ``pairs`` and, with
    ``augment(image, matte, seed_pair)``, one augmentation per sample, both drawn statelessly from
    (``seed``, e, sample), so a run resumed at epoch e sees the images an uninterrupted run would.
    ``targets(image, matte)`` (see ``training_targets``) shapes what each sample yields. When some pairs
    have no matte, each sample also yields its weight: 1 with a matte, 0 without. ``teacher(images)``,
    if given, labels each batch (person probabilities) as the target ``"teacher"``, in parallel.
    ``cache``: every pair is decoded and resized once and held in memory (``--cache``). ``shard``
    (``(pipeline, pipelines, replica_batch)``, from tf.distribute: engine/distribute.py): a training
    pipeline takes only whole global batches of ``batch_size`` (an epoch's last partial one is dropped),
    and of each its own share, in batches of ``replica_batch`` for its replicas in turn. ``companions``:
    every matte comes with its F and B (``load_pair``), for the matting loss. ``copy_paste``: the probability
    that a training sample gets another pair's person pasted in before its augmentation (data/augment/paste.py).
    """
    images, mattes = (tf.constant(list(x)) for x in zip(*pairs))
    weighted = not all(matte for _, matte in pairs)
    load = in_memory(images, mattes, size, companions) if cache else \
        lambda index: load_pair(images[index], mattes[index], size, companions)

    def batches(ds, sample):
        def shaped(index, *rest):
            out = sample(index, *rest)
            out = out if targets is None else targets(*out)
            return (*out, tf.cast(labelled(mattes[index]), tf.float32)) if weighted else out
        batched = ds.map(shaped, num_parallel_calls=tf.data.AUTOTUNE).batch(shard[2] if shard else batch_size,
                                                                           drop_remainder=False)
        return batched if teacher is None else batched.map(with_teacher, num_parallel_calls=tf.data.AUTOTUNE)

    def with_teacher(x, y, *weight):
        return (x, {**y, "teacher": teacher(x)}, *weight)

    if not training:
        return batches(tf.data.Dataset.range(len(pairs)), load).prefetch(tf.data.AUTOTUNE)

    pasting = with_copy_paste(load, len(pairs), copy_paste) if copy_paste > 0 else lambda index, _: load(index)

    def sample(index, epoch):
        seed_pair = tf.stack([tf.cast(seed, tf.int64), epoch * len(pairs) + index])
        image, matte = pasting(index, seed_pair)
        return (image, matte) if augment is None else augment(image, matte, seed_pair)

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(tf.range(len(pairs), dtype=tf.int64),
                                                         seed=tf.stack([tf.cast(seed, tf.int64), epoch]))
        if shard:  # this input pipeline's slice of every whole global batch
            whole = len(pairs) // batch_size
            order = tf.reshape(tf.reshape(order[: whole * batch_size], (whole, shard[1], -1))[:, shard[0]], [-1])
        return batches(tf.data.Dataset.from_tensor_slices((order, tf.fill(tf.shape(order), epoch))), sample)

    epochs = tf.data.Dataset.range(first_epoch, tf.int64.max)
    return epochs.flat_map(epoch_batches).prefetch(tf.data.AUTOTUNE)
