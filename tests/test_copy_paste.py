"""Copy-paste (data/augment/paste.py, --copy_paste): what a pasted person does to the photo and its matte."""
import os

import numpy as np
import pytest
import tensorflow as tf

from data.augment.paste import paste_person
from data.dataset import find_pairs, make_dataset
from data.synthetic import make_dataset as make_synthetic

SIZE = 32


def squares():
    """A grey photo with a person square top-left, and a red donor photo filled by its person but a border."""
    image = np.full((SIZE, SIZE, 3), 0.5, np.float32)
    matte = np.zeros((SIZE, SIZE, 1), np.float32)
    matte[2:10, 2:10] = 1
    donor = np.zeros((SIZE, SIZE, 3), np.float32)
    donor[..., 0] = 1
    donor_matte = np.zeros((SIZE, SIZE, 1), np.float32)
    donor_matte[4:-4, 4:-4] = 1
    return image, matte, donor, donor_matte


def test_pasted_person_is_the_donors_and_the_matte_the_union():
    image, matte, donor, donor_matte = squares()
    out, alpha = (x.numpy() for x in paste_person(image, matte, donor, donor_matte, tf.constant([1, 2]), (0.5, 0.5)))
    pasted = alpha[..., 0] > 0.99
    new = pasted & (matte[..., 0] == 0)
    assert 40 <= new.sum() <= 144  # the donor's 24x24 person at half size: 12x12, less where it covers the own
    red = np.broadcast_to([1, 0, 0], out[new].shape)
    np.testing.assert_allclose(out[new], red, atol=1e-5)  # the donor's colour where it stands
    untouched = alpha[..., 0] == 0
    np.testing.assert_allclose(out[untouched], 0.5, atol=1e-6)  # the photo elsewhere
    assert (alpha >= matte - 1e-6).all()  # the own person stays


def test_a_person_cut_by_an_edge_stays_on_it_and_one_cut_by_two_opposite_edges_is_not_pasted():
    image, matte, donor, _ = squares()
    selfie = np.zeros((SIZE, SIZE, 1), np.float32)
    selfie[20:, 8:24] = 1  # shoulders cut by the bottom edge
    for seed in range(4):
        _, alpha = paste_person(image, matte, donor, selfie, tf.constant([seed, 0]), (0.5, 0.5))
        rows = np.flatnonzero(alpha.numpy()[:, :, 0].max(axis=1) - matte[:, :, 0].max(axis=1) > 0.5)
        assert rows.max() == SIZE - 1  # on the bottom edge, wherever it lands across
    banner = np.zeros((SIZE, SIZE, 1), np.float32)
    banner[10:20, :] = 1  # cut by the left and the right edge
    out, alpha = paste_person(image, matte, donor, banner, tf.constant([5, 6]), (0.5, 0.5))
    np.testing.assert_array_equal(out.numpy(), image)
    np.testing.assert_array_equal(alpha.numpy(), matte)


def test_with_foreground_and_background_the_layers_still_composite():
    image, matte, donor, donor_matte = squares()
    rng = np.random.default_rng(0)
    fg, bg = rng.random((SIZE, SIZE, 3), np.float32), rng.random((SIZE, SIZE, 3), np.float32)
    image = matte * fg + (1 - matte) * bg
    layered = np.concatenate([matte, fg, bg], -1)
    donor_layers = np.concatenate([donor_matte, rng.random((SIZE, SIZE, 3), np.float32), donor], -1)
    out, layers = (x.numpy() for x in paste_person(image, layered, donor, donor_layers, tf.constant([3, 4])))
    alpha, front, back = layers[..., :1], layers[..., 1:4], layers[..., 4:]
    np.testing.assert_allclose(alpha * front + (1 - alpha) * back, out, atol=1e-5)
    np.testing.assert_array_equal(back, bg)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    return find_pairs(os.path.join(make_synthetic(str(tmp_path_factory.mktemp("syn")), train=8, test=1, size=48),
                                   "training"))


def first_batch(pairs, copy_paste, seed=0):
    return [x.numpy() for x in next(iter(make_dataset(pairs, SIZE, 8, training=True, seed=seed,
                                                      copy_paste=copy_paste)))]


def test_pipeline_pastes_reproducibly_and_only_adds_person(pairs):
    plain_images, plain = first_batch(pairs, 0.0)
    images, mattes = first_batch(pairs, 1.0)
    again = first_batch(pairs, 1.0)
    np.testing.assert_array_equal(images, again[0])  # drawn from the seed, the epoch and the index
    np.testing.assert_array_equal(mattes, again[1])
    assert (mattes >= plain - 1e-6).all() and mattes.sum() > plain.sum()
    assert not np.array_equal(images, first_batch(pairs, 1.0, seed=1)[0])
    changed = np.abs(images - plain_images).max(axis=(1, 2, 3)) > 0
    assert changed.sum() >= 6  # p = 1: every sample gets a person (a few may paste onto their own)
