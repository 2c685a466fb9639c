"""Cut-outs and composites: I = alpha F + (1 - alpha) B, the --background values, F without a halo."""
import numpy as np
import pytest

import postprocess.cutout
from postprocess.cutout import (background_kind, composite, cutout, fill, foreground_and_background, new_background,
                                replace_background)
from utils import UserError

RED, BLUE = np.array([255, 0, 0], np.uint8), np.array([0, 0, 255], np.uint8)


def test_composite_is_alpha_f_plus_one_minus_alpha_b():
    alpha = np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)
    out = composite(RED, alpha, BLUE)
    assert out.dtype == np.uint8
    assert np.abs(out.astype(int) - [[[0, 0, 255], [64, 0, 191]], [[127.5, 0, 127.5], [255, 0, 0]]]).max() <= 0.5


def test_composite_against_the_formula_on_random_arrays():
    rng = np.random.default_rng(0)
    f, b = rng.integers(0, 256, (5, 7, 3), np.uint8), rng.integers(0, 256, (5, 7, 3), np.uint8)
    alpha = rng.uniform(size=(5, 7)).astype(np.float32)
    expected = alpha[..., None] * f + (1 - alpha[..., None]) * b
    assert np.abs(composite(f, alpha, b) - expected).max() <= 0.51


@pytest.mark.parametrize("spec,kind", [("", "none"), ("blur", "blur"), ("#00FF00", "colour"), ("#a0b1c2", "colour")])
def test_background_kinds(spec, kind):
    assert background_kind(spec) == kind


@pytest.mark.parametrize("spec,needle", [("#12", "#12"), ("#GG0000", "#GG0000"), ("./missing.jpg", "missing.jpg")])
def test_bad_background_names_the_flag(spec, needle):
    with pytest.raises(UserError, match="--background") as err:
        background_kind(spec)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_new_backgrounds_are_the_photo_size():
    scene = np.random.default_rng(1).integers(0, 256, (30, 20, 3), np.uint8)
    green = new_background("#00FF00", scene)
    assert green.shape == (30, 20, 3) and np.array_equal(green[0, 0], [0, 255, 0])
    blurred = new_background("blur", scene)
    assert blurred.shape == scene.shape and blurred.std() < scene.std()
    picture = np.zeros((10, 40, 3), np.uint8)
    picture[:, 15:25] = 255  # the middle quarter of a wide picture: what a 3:2 portrait crop keeps
    assert np.abs(new_background("x.jpg", scene, picture).astype(int) - 255).max() <= 5


def test_fill_covers_and_crops_around_the_centre():
    picture = np.arange(10 * 20, dtype=np.float32).reshape(10, 20)
    out = fill(picture, 10, 10)
    assert out.shape == (10, 10) and np.array_equal(out, picture[:, 5:15])


def test_foreground_has_no_background_halo():
    height, width = 32, 48
    alpha = np.tile(np.clip((np.arange(width) - 16) / 16, 0, 1), (height, 1))  # soft edge 16 px wide
    image = np.round(alpha[..., None] * RED + (1 - alpha[..., None]) * BLUE).astype(np.uint8)
    foreground, background = foreground_and_background(image, alpha)
    soft = alpha >= 0.1
    assert np.abs(foreground[soft] - RED.astype(int)).max() < 26
    assert np.abs(background[alpha <= 0.9] - BLUE.astype(int)).max() < 26
    halo = image.astype(int)  # the photo itself as F: blue shows through the person's soft edge
    assert np.abs(halo[soft] - RED.astype(int)).max() > 128


def two_colour_photo(height, width):
    """A red person with a 16-px soft edge before a blue wall, and its alpha."""
    alpha = np.tile(np.clip((np.arange(width, dtype=np.float32) - width / 3) / 16, 0, 1), (height, 1))
    image = np.round(alpha[..., None] * RED + (1 - alpha[..., None]) * BLUE).astype(np.uint8)
    return image, alpha


def test_a_photo_above_the_working_resolution_gets_the_same_colours(monkeypatch):
    image, alpha = two_colour_photo(64, 96)
    full = foreground_and_background(image, alpha)
    monkeypatch.setattr(postprocess.cutout, "WORK_PIXELS", 64 * 96 // 9)  # a third of each side
    shrunk = foreground_and_background(image, alpha)
    soft = alpha >= 0.1
    for ours, reference in zip(shrunk, full):
        assert ours.shape == reference.shape and ours.dtype == np.uint8
    assert np.abs(shrunk[0][soft].astype(int) - full[0][soft]).max() <= 26
    assert np.abs(composite(*shrunk[:1], alpha, BLUE).astype(int) - composite(full[0], alpha, BLUE)).max() <= 8


def test_the_cutout_and_background_helpers():
    image, alpha = two_colour_photo(32, 48)
    rgba = cutout(image, alpha)
    assert rgba.shape == (32, 48, 4) and np.array_equal(rgba[..., 3], np.rint(alpha * 255).astype(np.uint8))
    green = replace_background(image, alpha, "#00FF00")
    assert green.dtype == np.uint8 and np.array_equal(green[:, 0], np.broadcast_to([0, 255, 0], (32, 3)))
    picture = replace_background(image, alpha, np.full((8, 8, 3), 7, np.uint8))
    assert np.array_equal(picture[:, 0], np.full((32, 3), 7)) and np.array_equal(picture[:, -1], green[:, -1])
    with pytest.raises(UserError, match="--background"):
        replace_background(image, alpha, "red")
