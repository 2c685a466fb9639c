"""Tests for data/augment on tiny images: names, kinds, label handling, pinned outputs, determinism,
errors, tf.data, and docs/TRAINING.md's table against the registry."""
import inspect
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from data.augment import (AUGMENTERS, DEFAULT_SPEC, GEOMETRIC, IMAGE, AugmentSpecError, build_augmenter,
                          markdown_table, parse_spec, preview_grid)

SEED_NAMES = ["Add", "AddElementwise", "AdditiveGaussianNoise", "AdditiveLaplaceNoise", "AdditivePoissonNoise",
              "Multiply", "MultiplyElementwise", "Dropout", "CoarseDropout", "Dropout2d", "TotalDropout",
              "ReplaceElementwise", "ImpulseNoise", "SaltAndPepper", "CoarseSaltAndPepper", "Salt", "CoarseSalt",
              "Pepper", "CoarsePepper", "Invert", "ContrastNormalization", "JpegCompression"]
# a spec per geometric augmenter that surely moves an off-center ellipse
MOVES = {"Fliplr": "Fliplr(1.0)", "Flipud": "Flipud(1.0)", "Affine": "Affine(rotate=30)",
         "CropAndPad": "CropAndPad(percent=-0.2)", "PerspectiveTransform": "PerspectiveTransform(scale=0.1)"}
# (mean, weighted mean) of image and matte over 8 seeds, as data/augment.py gave them before the package
PINNED = {
    "Add": (0.502181, 0.250269),
    "AddElementwise": (0.507535, 0.253047),
    "AdditiveGaussianNoise": (0.506773, 0.252702),
    "AdditiveLaplaceNoise": (0.507031, 0.252729),
    "AdditivePoissonNoise": (0.507355, 0.252902),
    "Multiply": (0.498343, 0.248332),
    "MultiplyElementwise": (0.505555, 0.25203),
    "Dropout": (0.499101, 0.248631),
    "CoarseDropout": (0.484746, 0.241583),
    "Dropout2d(p=0.5)": (0.411635, 0.205046),  # at its default p=0.1 these 8 seeds drop nothing
    "TotalDropout": (0.125416, 0.0623),
    "ReplaceElementwise": (0.506755, 0.252537),
    "ImpulseNoise": (0.506116, 0.252299),
    "SaltAndPepper": (0.506352, 0.252367),
    "CoarseSaltAndPepper": (0.507207, 0.253054),
    "Salt": (0.511601, 0.255125),
    "CoarseSalt": (0.528813, 0.263882),
    "Pepper": (0.499101, 0.248631),
    "CoarsePepper": (0.484746, 0.241583),
    "Invert": (0.493845, 0.251816),
    "ContrastNormalization": (0.506463, 0.252622),
    "JpegCompression": (0.503664, 0.252209),
    "Fliplr": (0.506987, 0.253864),
    "Flipud": (0.506987, 0.25637),
    "Affine": (0.463053, 0.233243),
    "CropAndPad": (0.459769, 0.231662),
    "PerspectiveTransform": (0.506889, 0.254655),
    "GaussianBlur": (0.506987, 0.254501),
    "MotionBlur": (0.506958, 0.255082),
    "LinearContrast": (0.506585, 0.252637),
    "GammaContrast": (0.486648, 0.24247),
    "MultiplyHueAndSaturation": (0.49542, 0.246912),
    "Grayscale": (0.503359, 0.252047),
    DEFAULT_SPEC: (0.462648, 0.232986),
}
SIZE = 32
README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "TRAINING.md")


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


def names_of_kind(kind):
    return [name for name, augmenter in AUGMENTERS.items() if augmenter.kind == kind]


def test_registry_order_kinds_and_builders():
    assert list(AUGMENTERS)[:len(SEED_NAMES)] == SEED_NAMES  # the README's "first 22 rows"
    assert names_of_kind(GEOMETRIC) == list(MOVES)
    for name, augmenter in AUGMENTERS.items():
        assert list(inspect.signature(augmenter.build).parameters) == list(augmenter.defaults), name
        assert set(augmenter.bare) <= set(augmenter.defaults), name


def test_image_kind_changes_image_only():
    image, matte = textured()
    for name in names_of_kind(IMAGE):
        fn = build_augmenter(name)
        changed = False
        for i in range(32):  # Dropout2d's default p=0.1 leaves ~80% of samples alone
            out, out_matte = fn(image, matte, seed(i))
            np.testing.assert_array_equal(out_matte.numpy(), matte.numpy(), err_msg=name)
            changed = not np.allclose(out.numpy(), image.numpy(), atol=1e-4)
            if changed:
                break
        assert changed, f"{name} never changed the image"


@pytest.mark.parametrize("spec", [*MOVES.values(), "Affine(scale=1.2, translate_percent=0.1, shear=10)"])
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


@pytest.mark.parametrize("spec", list(PINNED))
def test_outputs_are_pinned(spec):
    """The same spec and seeds give the numbers they gave before data/augment became a package."""
    image = tf.random.stateless_uniform([24, 32, 3], [1, 2])
    matte = tf.random.stateless_uniform([24, 32, 1], [3, 4])
    weights = tf.random.stateless_uniform([24, 32, 4], [5, 6]).numpy().astype(np.float64)
    fn = build_augmenter(spec)
    outputs = np.stack([tf.concat(fn(image, matte, seed(i)), -1).numpy() for i in range(8)]).astype(np.float64)
    np.testing.assert_allclose([outputs.mean(), (outputs * weights).mean()], PINNED[spec], atol=2e-6)


def test_pinned_outputs_cover_every_name():
    assert {spec.split("(")[0] for spec in PINNED if spec != DEFAULT_SPEC} == set(AUGMENTERS)


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


def readme_augmentation():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    start = text.index("## Augmentation")
    return text[start:text.index("\n## ", start)]


def test_readme_table_is_the_registry():
    section = readme_augmentation()
    table = "".join(line + "\n" for line in section.splitlines() if line.startswith("|"))
    assert table == markdown_table(), "docs/TRAINING.md's Augmentation table: paste data.augment.markdown_table()"


def test_readme_default_preset_is_default_spec():
    preset = re.search(r"The default preset:\n\n((?:    .*\n)+)", readme_augmentation()).group(1)
    assert " ".join(preset.split()) == " ".join(DEFAULT_SPEC.split())


def test_docstring_table_is_the_registry():
    import data.augment
    assert data.augment.__doc__.endswith(markdown_table())
