"""Tests for data/augment.py on tiny images: names, label handling, determinism, errors, tf.data."""
import numpy as np
import pytest
import tensorflow as tf

import data.augment
from data.augment import (AUGMENTERS, DEFAULT_SPEC, AugmentSpecError, build_augmenter, parse_spec,
                          preview_grid)

SEED_NAMES = ["Add", "AddElementwise", "AdditiveGaussianNoise", "AdditiveLaplaceNoise", "AdditivePoissonNoise",
              "Multiply", "MultiplyElementwise", "Dropout", "CoarseDropout", "Dropout2d", "TotalDropout",
              "ReplaceElementwise", "ImpulseNoise", "SaltAndPepper", "CoarseSaltAndPepper", "Salt", "CoarseSalt",
              "Pepper", "CoarsePepper", "Invert", "ContrastNormalization", "JpegCompression"]
GEOMETRIC = ["Fliplr", "Flipud", "Affine", "CropAndPad", "PerspectiveTransform"]
SIZE = 32


def textured(size=SIZE):
    """A random RGB image and a random soft matte, fixed by their seeds."""
    image = tf.random.stateless_uniform([size, size, 3], [1, 2])
    matte = tf.random.stateless_uniform([size, size, 1], [3, 4])
    return image, matte


def ellipse(size=64):
    """A bright, off-center, tilted ellipse on a dark background, and the same ellipse as matte."""
    y, x = np.mgrid[:size, :size].astype(np.float32) / size
    u, v = x - 0.38, y - 0.45
    inside = ((u + 0.4 * v) / 0.22) ** 2 + (v / 0.3) ** 2 <= 1.0
    image = np.repeat(np.where(inside, 0.9, 0.1)[..., None], 3, axis=-1).astype(np.float32)
    return tf.constant(image), tf.constant(inside[..., None].astype(np.float32))


def iou(a, b):
    return np.logical_and(a, b).sum() / max(np.logical_or(a, b).sum(), 1)


def seed(i):
    return tf.constant([i, 7], tf.int64)


def test_seed_names_change_image_only():
    image, matte = textured()
    for name in SEED_NAMES:
        fn = build_augmenter(name)
        changed = False
        for i in range(32):  # Dropout2d's default p=0.1 leaves ~80% of samples alone
            out, out_matte = fn(image, matte, seed(i))
            np.testing.assert_array_equal(out_matte.numpy(), matte.numpy(), err_msg=name)
            changed = not np.allclose(out.numpy(), image.numpy(), atol=1e-4)
            if changed:
                break
        assert changed, f"{name} never changed the image"


@pytest.mark.parametrize("spec", ["Fliplr(1.0)", "Affine(rotate=30)", "PerspectiveTransform(scale=0.1)",
                                  "Affine(scale=1.2, translate_percent=0.1, shear=10)", "CropAndPad(percent=-0.2)"])
def test_geometric_moves_matte_with_image(spec):
    image, matte = ellipse()
    out, out_matte = build_augmenter(spec)(image, matte, seed(0))
    moved = out.numpy()[..., 0] > 0.5
    assert iou(moved, matte.numpy()[..., 0] > 0.5) < 0.9, "the transform did not move the ellipse"
    assert iou(moved, out_matte.numpy()[..., 0] > 0.5) > 0.9


@pytest.mark.parametrize("name", list(AUGMENTERS))
def test_every_name_keeps_shapes_dtypes_and_ranges_in_graph_mode(name):
    """Traced with unknown height and width, as a tf.data map may see it; run on a non-square image."""
    image, matte = textured()
    image, matte = image[:24], matte[:24]
    graph_fn = tf.function(build_augmenter(name), input_signature=[
        tf.TensorSpec([None, None, 3]), tf.TensorSpec([None, None, 1]), tf.TensorSpec([2], tf.int64)])
    out, out_matte = graph_fn(image, matte, seed(1))
    assert out.shape == image.shape and out_matte.shape == matte.shape
    assert out.dtype == tf.float32 and out_matte.dtype == tf.float32
    for t in (out, out_matte):
        assert 0.0 <= float(tf.reduce_min(t)) and float(tf.reduce_max(t)) <= 1.0


@pytest.mark.parametrize("spec", ["Affine(rotate=(-30, 30), scale=(0.7, 1.3), shear=(-10, 10), mode='reflect')",
                                  "PerspectiveTransform(scale=0.15)", "CropAndPad(percent=(-0.3, 0.3))"])
def test_soft_matte_stays_soft_and_in_range(spec):
    image, _ = textured()
    matte = tf.tile(tf.linspace(0.0, 1.0, SIZE)[None, :, None], [SIZE, 1, 1])  # a horizontal alpha ramp
    _, out = build_augmenter(spec)(image, matte, seed(2))
    values = out.numpy()
    assert values.min() >= 0.0 and values.max() <= 1.0
    assert np.mean((values > 0.05) & (values < 0.95)) > 0.3  # still fractional alpha, not binarized


def test_same_seed_same_output_different_seed_different():
    image, matte = textured()
    spec = "Fliplr(0.5); Affine; Add; Dropout; GaussianBlur@0.5; JpegCompression"
    fn = build_augmenter(spec)
    a, b, c = fn(image, matte, seed(5)), fn(image, matte, seed(5)), fn(image, matte, seed(6))
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())
    assert not np.allclose(a[0].numpy(), c[0].numpy())
    other_run = build_augmenter(spec, seed=1)(image, matte, seed(5))
    assert not np.allclose(a[0].numpy(), other_run[0].numpy())


def test_entry_probability():
    image, matte = textured()
    assert not np.allclose(build_augmenter("Invert@1")(image, matte, seed(0))[0], image)
    np.testing.assert_array_equal(build_augmenter("Invert@0")(image, matte, seed(0))[0], image)
    applied = [not np.allclose(build_augmenter("Invert@0.5")(image, matte, seed(i))[0], image) for i in range(16)]
    assert 0 < sum(applied) < 16


def test_parse_spec_forms():
    entries = parse_spec("Add((-10, 10)); Fliplr(0.5)@0.3;\n AdditiveGaussianNoise(scale=(0, 10)) ; Dropout")
    assert [e.name for e in entries] == ["Add", "Fliplr", "AdditiveGaussianNoise", "Dropout"]
    assert entries[0].params["value"] == (-10.0, 10.0)
    assert entries[1].p == 0.3 and entries[1].params["p"] == (0.5, 0.5)
    assert entries[3].params == {"p": (0.0, 0.05), "per_channel": 0.0}
    assert parse_spec("Affine")[0].params["rotate"] == (-15.0, 15.0)  # bare preset
    assert parse_spec("Affine(rotate=30)")[0].params["scale"] == (1.0, 1.0)  # unlisted = identity
    for empty in ("none", "None", "", "  ", ";"):
        assert parse_spec(empty) == []
        assert build_augmenter(empty) is None


@pytest.mark.parametrize("spec, mentions", [
    ("Blur", ["'Blur'", "GaussianBlur", "Fliplr"]),
    ("Add; Fliplrr(0.5)", ["Fliplrr", "Fliplr"]),
    ("Add((-20, 20)", ["Add((-20, 20)", "was never closed", "Add, "]),
    ("Add(foo=1)", ["Add(foo=1)", "'foo'", "value, per_channel"]),
    ("Add('x')", ["value='x'", "value, per_channel"]),
    ("Add((1, 2, 3))", ["value=(1, 2, 3)"]),
    ("Add((20, -20))", ["low <= high"]),
    ("Dropout(p=2)", ["Dropout(p=2)", "p=2", "p, per_channel"]),
    ("Add(1, True, 3)", ["at most 2 positional"]),
    ("Add(1, value=2)", ["given twice"]),
    ("Dropout2d(nb_keep_channels=(1, 2))", ["single number"]),
    ("Affine(mode='bogus')", ["mode='bogus'", "reflect"]),
    ("Add@1.5", ["Add@1.5", "[0, 1]"]),
    ("Add@often", ["'often'"]),
    ("Add(value=__import__('os'))", ["literals"]),
    ("os.system('ls')", ["os.system", "Add, "]),
])
def test_bad_specs_raise_one_line_errors(spec, mentions):
    with pytest.raises(AugmentSpecError) as err:
        parse_spec(spec)
    message = str(err.value)
    assert "\n" not in message and isinstance(err.value, ValueError)
    for text in mentions:
        assert text in message, (text, message)


def test_default_spec_in_tf_data_map():
    assert parse_spec(DEFAULT_SPEC)
    fn = build_augmenter(DEFAULT_SPEC)
    image, matte = textured()
    samples = tf.data.Dataset.from_tensors((image, matte)).repeat(6)
    seeds = tf.data.Dataset.random(seed=3).batch(2)
    ds = tf.data.Dataset.zip((samples, seeds)).map(lambda pair, s: fn(*pair, s),
                                                  num_parallel_calls=tf.data.AUTOTUNE)
    assert ds.element_spec[0].shape == (SIZE, SIZE, 3) and ds.element_spec[1].shape == (SIZE, SIZE, 1)
    outputs = list(ds.as_numpy_iterator())
    assert len(outputs) == 6
    for out, out_matte in outputs:
        assert out.dtype == np.float32 and 0.0 <= out.min() and out.max() <= 1.0
        assert 0.0 <= out_matte.min() and out_matte.max() <= 1.0
    assert any(not np.allclose(out, image) for out, _ in outputs)


def test_preview_grid():
    image, matte = textured()
    grid = preview_grid(np.stack([image] * 5), np.stack([matte] * 5), cols=4)
    assert grid.dtype == np.uint8 and grid.shape == (2 * SIZE, 4 * 2 * SIZE, 3)
    left, right = grid[:SIZE, :SIZE].astype(int), grid[:SIZE, SIZE:2 * SIZE].astype(int)
    assert (right[..., 0] - right[..., 1]).mean() > (left[..., 0] - left[..., 1]).mean()  # red tint
    assert preview_grid(image[None], matte[None]).shape == (SIZE, 2 * SIZE, 3)


def test_docstring_table_lists_every_name_and_parameter():
    for name, (_, defaults) in AUGMENTERS.items():
        assert f"| {name} | {', '.join(defaults)} |" in data.augment.__doc__, name
