"""Cut-outs and composites: I = alpha F + (1 - alpha) B, the --background values, F without a halo."""
import numpy as np
import pytest

from postprocess.cutout import background_kind, composite, fill, foreground_and_background, new_background
from utils import UserError

RED, BLUE = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])


def test_composite_is_alpha_f_plus_one_minus_alpha_b():
    alpha = np.array([[0.0, 0.25], [0.5, 1.0]])
    out = composite(np.broadcast_to(RED, (2, 2, 3)), alpha, np.broadcast_to(BLUE, (2, 2, 3)))
    assert out.dtype == np.uint8
    assert out.tolist() == [[[0, 0, 255], [64, 0, 191]], [[128, 0, 128], [255, 0, 0]]]  # 63.75, 191.25, 127.5


def test_composite_against_the_formula_on_random_arrays():
    rng = np.random.default_rng(0)
    f, b, alpha = rng.uniform(size=(5, 7, 3)), rng.uniform(size=(5, 7, 3)), rng.uniform(size=(5, 7))
    expected = alpha[..., None] * f + (1 - alpha[..., None]) * b
    assert np.abs(composite(f, alpha, b) / 255.0 - expected).max() <= 0.5 / 255 + 1e-9


@pytest.mark.parametrize("spec,kind", [("", "none"), ("blur", "blur"), ("#00FF00", "colour"), ("#a0b1c2", "colour")])
def test_background_kinds(spec, kind):
    assert background_kind(spec) == kind


@pytest.mark.parametrize("spec,needle", [("#12", "#12"), ("#GG0000", "#GG0000"), ("./missing.jpg", "missing.jpg")])
def test_bad_background_names_the_flag(spec, needle):
    with pytest.raises(UserError, match="--background") as err:
        background_kind(spec)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_new_backgrounds_are_the_photo_size():
    scene = np.random.default_rng(1).uniform(size=(30, 20, 3))
    green = new_background("#00FF00", scene)
    assert green.shape == (30, 20, 3) and np.array_equal(green[0, 0], [0.0, 1.0, 0.0])
    blurred = new_background("blur", scene)
    assert blurred.shape == scene.shape and blurred.std() < scene.std()
    picture = np.zeros((10, 40, 3), np.uint8)
    picture[:, 15:25] = 255  # the middle quarter of a wide picture: what a 3:2 portrait crop keeps
    assert np.allclose(new_background("x.jpg", scene, picture), 1.0, atol=0.02)


def test_fill_covers_and_crops_around_the_centre():
    picture = np.arange(10 * 20, dtype=np.float32).reshape(10, 20)
    out = fill(picture, 10, 10)
    assert out.shape == (10, 10) and np.array_equal(out, picture[:, 5:15])


def test_foreground_has_no_background_halo():
    height, width = 32, 48
    alpha = np.tile(np.clip((np.arange(width) - 16) / 16, 0, 1), (height, 1))  # soft edge 16 px wide
    image = np.round((alpha[..., None] * RED + (1 - alpha[..., None]) * BLUE) * 255).astype(np.uint8)
    foreground, background = foreground_and_background(image, alpha)
    soft = alpha >= 0.1
    assert np.abs(foreground[soft] - RED).max() < 0.1 and np.abs(background[alpha <= 0.9] - BLUE).max() < 0.1
    halo = image / 255.0  # the photo itself as F: blue shows through the person's soft edge
    assert np.abs(halo[soft] - RED).max() > 0.5
