"""mattingnet for soft mattes: Deep Image Matting's losses, the pseudo-alpha cache and its companions, the
soft-alpha head (old checkpoints, export, GPU delegate) and a training run through the CLI."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tensorflow as tf

import models
from convert import tflite
from convert.gpu import gpu_problems
from data.augment import build_augmenter
from data.dataset import find_pairs, has_companions, make_dataset, training_targets
from data.pseudo_alpha import pseudo_alpha
from data.synthetic import make_dataset as synthetic_set
from data.synthetic import portrait
from postprocess.refine import trimap
from losses import SegmentationLoss, mask_metrics
from losses.matting import CHARBONNIER_EPS, alpha_prediction_loss, compositional_loss, gradient_loss, matting_loss
from models import encoders
from models.checkpoint import load_checkpoint, make_spec, save_checkpoint
from models.predictors import LiteRTModel
from tests.conftest import REPO, error_lines, run_cli

SIZE = 32


def logit(p):
    return np.log(p / (1 - p)).astype(np.float32)


def charb(a, b):
    return np.sqrt((a - b) ** 2 + CHARBONNIER_EPS)


# Two samples of 1 x 2 pixels: alpha, predicted alpha, foreground F and background B.
ALPHA = np.array([[1.0, 0.5], [0.0, 0.25]], np.float32).reshape(2, 1, 2, 1)
PRED = np.array([[0.8, 0.5], [0.1, 0.75]], np.float32).reshape(2, 1, 2, 1)
FG = np.array([[[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]], [[0.0, 0.0, 1.0], [0.5, 0.5, 0.5]]], np.float32).reshape(2, 1, 2, 3)
BG = np.array([[[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]], [[1.0, 1.0, 1.0], [0.2, 0.4, 0.6]]], np.float32).reshape(2, 1, 2, 3)
TARGET = np.concatenate([ALPHA, FG, BG], axis=-1)


def test_alpha_prediction_loss_by_hand():
    first = (charb(0.8, 1.0) + charb(0.5, 0.5)) / 2
    second = (charb(0.1, 0.0) + charb(0.75, 0.25)) / 2
    np.testing.assert_allclose(alpha_prediction_loss(TARGET, logit(PRED)), [first, second], rtol=1e-5)


def test_compositional_loss_swaps_in_the_previous_samples_background():
    # sample 0 is composited over sample 1's background, sample 1 over sample 0's
    new_bg = BG[::-1]
    expected = []
    for i in range(2):
        pred = PRED[i] * FG[i] + (1 - PRED[i]) * new_bg[i]
        true = ALPHA[i] * FG[i] + (1 - ALPHA[i]) * new_bg[i]
        expected.append(charb(pred, true).mean())
    np.testing.assert_allclose(compositional_loss(TARGET, logit(PRED)), expected, rtol=1e-5)
    # by hand, sample 0, pixel 0: (0.8 - 1.0) * (F - B') = -0.2 * ([1, 0, 0] - [1, 1, 1]) = [0, 0.2, 0.2]
    pixel0 = np.mean(charb(np.array([0.0, 0.2, 0.2]), 0.0))
    pixel1 = np.mean(charb(np.zeros(3), 0.0))  # alpha right: no error whatever the colours
    assert float(compositional_loss(TARGET, logit(PRED))[0]) == pytest.approx((pixel0 + pixel1) / 2, rel=1e-5)


def test_a_batch_of_one_keeps_its_own_background():
    own = (PRED[0] - ALPHA[0]) * (FG[0] - BG[0])  # (alpha_p - alpha) (F - B)
    np.testing.assert_allclose(compositional_loss(TARGET[:1], logit(PRED[:1])), [charb(own, 0.0).mean()], rtol=1e-5)


def test_compositional_loss_without_f_and_b():
    image = FG  # any photo
    with_image = np.concatenate([ALPHA, image], axis=-1)
    expected = [charb(PRED[i] * image[i], ALPHA[i] * image[i]).mean() for i in range(2)]
    np.testing.assert_allclose(compositional_loss(with_image, logit(PRED)), expected, rtol=1e-5)
    np.testing.assert_array_equal(compositional_loss(ALPHA, logit(PRED)), [0.0, 0.0])


def test_matting_loss_is_the_weighted_sum_and_logs_its_parts():
    target, pred = np.repeat(TARGET, 2, axis=1), np.repeat(PRED, 2, axis=1)  # two equal rows: no y gradients
    d = logit(pred)
    grad = [0.5 * abs((0.5 - 0.8) - (0.5 - 1.0)), 0.5 * abs((0.75 - 0.1) - (0.25 - 0.0))]
    np.testing.assert_allclose(gradient_loss(target, d), grad, rtol=1e-5)
    expected = 0.5 * alpha_prediction_loss(target, d) + 0.5 * compositional_loss(target, d) + grad
    np.testing.assert_allclose(matting_loss(target, d), expected, rtol=1e-5)
    np.testing.assert_allclose(SegmentationLoss("ce", matting_weight=1.0)(target, d),
                               np.mean(SegmentationLoss("ce")(target, d) + expected), rtol=1e-5)
    terms = {m.name: m for m in mask_metrics("ce", matting_weight=1.0)}
    assert {"matting", "matting_alpha", "matting_composition", "matting_gradient"} <= set(terms)
    terms["matting_composition"].update_state(target, pred)
    assert float(terms["matting_composition"].result()) == pytest.approx(float(np.mean(compositional_loss(target, d))),
                                                                        rel=1e-4)


def write(path, array):
    cv2.imwrite(str(path), array)


def test_find_pairs_ignores_the_companions(tmp_path):
    pixel = np.zeros((4, 4, 3), np.uint8)
    for name in ("a.jpg", "a_matte.png", "a_fg.png", "a_bg.png", "b_fg.png", "b_fg_matte.png"):
        write(tmp_path / name, pixel[..., 0] if "matte" in name else pixel)
    pairs = find_pairs(str(tmp_path))  # b_fg.png has its own matte: a photo, not a companion
    assert [tuple(os.path.basename(p) for p in pair) for pair in pairs] == [("a.jpg", "a_matte.png"),
                                                                             ("b_fg.png", "b_fg_matte.png")]
    assert has_companions(pairs[:1]) and not has_companions(pairs)


def pseudo_alpha_cli(*args):
    return subprocess.run([sys.executable, "-m", "data.pseudo_alpha", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A tiny synthetic set (hard-edged mattes) and its pseudo-alpha cache, with --band 3."""
    root = tmp_path_factory.mktemp("alpha")
    source = synthetic_set(str(root / "source"), train=3, test=1, size=48, seed=3)
    result = pseudo_alpha_cli(source, root / "cache", "--band", 3)
    assert result.returncode == 0, result.stderr
    return source, str(root / "cache"), result


def test_the_cache_is_soft_only_in_the_band_and_resumes(cache):
    source, dest, first = cache
    assert "ms per pair" in first.stdout
    for image_path, matte_path in find_pairs(os.path.join(source, "training")):
        name = os.path.splitext(os.path.basename(image_path))[0]
        folder = os.path.join(dest, "training")
        assert {f for f in os.listdir(folder) if f.startswith(name)} == {
            os.path.basename(image_path), f"{name}_matte.png", f"{name}_fg.png", f"{name}_bg.png"}
        truth = cv2.imread(matte_path, cv2.IMREAD_GRAYSCALE)
        soft = cv2.imread(os.path.join(folder, f"{name}_matte.png"), cv2.IMREAD_GRAYSCALE)
        band = trimap(truth / 255.0, 3) == 0.5
        np.testing.assert_array_equal(soft[~band], truth[~band])
        assert ((soft > 0) & (soft < 255))[band].any()
        for suffix in ("_fg.png", "_bg.png"):
            assert cv2.imread(os.path.join(folder, name + suffix)).shape == truth.shape + (3,)
    stamp = os.path.getmtime(os.path.join(dest, "training", "00000_matte.png"))
    again = pseudo_alpha_cli(source, dest, "--band", 3)
    assert again.returncode == 0 and "training 0 written, 3 skipped" in again.stdout
    assert os.path.getmtime(os.path.join(dest, "training", "00000_matte.png")) == stamp


def test_a_matte_with_no_certain_background_is_kept_as_it_is():
    image, _ = portrait(np.random.default_rng(4), 48, 48)
    truth = np.ones((48, 48), np.float32)
    truth[20, 20] = 0.0  # a speck of background, inside the band: nothing certain to anchor the solve
    alpha, solved = pseudo_alpha(image, truth, 3)
    assert not solved and np.array_equal(alpha, truth)


def test_a_missing_or_empty_source_is_one_line(tmp_path):
    missing = pseudo_alpha_cli(tmp_path / "nope", tmp_path / "out")
    (tmp_path / "empty" / "training").mkdir(parents=True)
    empty = pseudo_alpha_cli(tmp_path / "empty", tmp_path / "out")
    for result, words in ((missing, "SRC not found"), (empty, "no image/matte pairs")):
        assert result.returncode == 2 and len(error_lines(result.stderr)) == 1 and words in result.stderr


def test_the_dataset_carries_f_and_b_and_geometry_moves_them_with_the_matte(cache):
    _, dest, _ = cache
    pairs = find_pairs(os.path.join(dest, "training"))
    assert has_companions(pairs)
    targets = training_targets(boundary=True, matting=True)
    image, target = next(iter(make_dataset(pairs, SIZE, 3, training=False, targets=targets, companions=True)))
    assert target["person_logit"].shape == (3, SIZE, SIZE, 7) and target["boundary"].shape == (3, SIZE, SIZE, 1)
    fg_path = pairs[0][1].replace("_matte.png", "_fg.png")
    fg = tf.image.resize(cv2.imread(fg_path)[..., ::-1][None] / 255.0, (SIZE, SIZE), antialias=True)[0]
    np.testing.assert_allclose(target["mask"][0, ..., 1:4], fg, atol=1e-4)
    seed = tf.constant([1, 2], tf.int64)
    geometric = build_augmenter("Fliplr(1); Affine(scale=(0.8, 1.2), translate_percent=(-0.1, 0.1), rotate=(-20, 20))")
    matte = target["mask"][0]
    _, moved = geometric(image[0], matte, seed)
    assert float(tf.reduce_max(tf.abs(moved - matte))) > 0.1
    for c in range(7):  # each channel goes exactly where the alpha alone would
        _, alone = geometric(image[0], matte[..., c:c + 1], seed)
        np.testing.assert_allclose(moved[..., c:c + 1], alone, atol=1e-6)
    photometric = build_augmenter("Add((-40, 40)); Multiply((0.5, 1.5)); GaussianBlur(sigma=(1, 2))")
    changed, same = photometric(image[0], matte, seed)
    np.testing.assert_array_equal(same, matte)
    assert float(tf.reduce_max(tf.abs(changed - image[0]))) > 0.01


def test_a_4_channel_model_gets_its_prior_from_the_alpha_and_keeps_f_and_b(cache):
    from data.prior import training_pipeline
    from config import TrainConfig

    _, dest, _ = cache
    pairs = find_pairs(os.path.join(dest, "training"))
    augment, shaped = training_pipeline(build_augmenter("Fliplr(1)"), training_targets(boundary=False, matting=True), 4,
                                        TrainConfig(weight_dir="", prior_empty=0.0))
    for ds in (make_dataset(pairs, SIZE, 3, training=True, augment=augment, targets=shaped, companions=True),
               make_dataset(pairs, SIZE, 3, training=False, targets=shaped, companions=True)):
        images, target = next(iter(ds))
        assert images.shape == (3, SIZE, SIZE, 4) and target["person_logit"].shape == (3, SIZE, SIZE, 7)
        truth, prior = target["mask"].numpy()[..., 0] >= 0.5, images.numpy()[..., 3] >= 0.5
        assert (truth & prior).sum() / (truth | prior).sum() > 0.6  # the prior follows the alpha, not F or B


def test_without_companions_the_target_carries_the_photo_even_beside_a_prior():
    image = np.random.default_rng(5).random((SIZE, SIZE, 4)).astype(np.float32)  # RGB + a 4-channel model's prior
    matte = np.ones((SIZE, SIZE, 1), np.float32)
    _, target = training_targets(boundary=False, matting=True)(image, matte)
    np.testing.assert_array_equal(target["person_logit"], np.concatenate([matte, image[..., :3]], axis=-1))


def test_mattingnet_has_the_soft_alpha_head_starting_as_a_pass_through():
    spec = make_spec("mattingnet", SIZE)
    assert spec["kwargs"] == {"refiner": True}
    model, plain = models.create("mattingnet", SIZE), models.create("mattingnet", SIZE, refiner=False)
    for layer in plain.layers:
        if layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())
    x = np.random.default_rng(0).random((2, SIZE, SIZE, 3), np.float32)
    out = model(x)
    assert set(out) == {"mask", "person_logit"} and out["mask"].shape == (2, SIZE, SIZE, 1)
    np.testing.assert_allclose(out["person_logit"], plain(x)["person_logit"], atol=1e-6)
    assert model.count_params() > plain.count_params()


def test_an_old_mattingnet_checkpoint_loads_without_the_head(tmp_path):
    old = models.create("mattingnet", SIZE, refiner=False)
    path = str(tmp_path / "old.h5")
    save_checkpoint(old, {"model": "mattingnet", "input_shape": SIZE, "kwargs": {}}, path)  # a spec from before
    model, spec = load_checkpoint(path)
    assert spec["kwargs"]["refiner"] is False and model.count_params() == old.count_params()
    x = np.random.default_rng(1).random((1, SIZE, SIZE, 3), np.float32)
    np.testing.assert_allclose(model(x)["mask"], old(x)["mask"], atol=1e-6)
    new = models.create("mattingnet", SIZE)
    save_checkpoint(new, make_spec("mattingnet", SIZE), str(tmp_path / "new.h5"))
    assert load_checkpoint(str(tmp_path / "new.h5"))[1]["kwargs"]["refiner"] is True


def trained_head(model, seed=0):
    """Non-zero weights in the head (a fresh one passes the coarse logits through and hides its ops' errors)."""
    rng = np.random.default_rng(seed)
    layer = model.get_layer("refine_out")
    layer.set_weights([0.3 * rng.standard_normal(w.shape).astype(np.float32) for w in layer.get_weights()])
    return model


@pytest.mark.parametrize("kwargs", [{}] + [pytest.param(k, marks=pytest.mark.slow) for k in (
    {"input_channels": 4}, {"activation": "softmax"})])
def test_the_head_exports_at_parity_and_on_the_gpu_delegate(kwargs):
    size = 64
    spec = make_spec("mattingnet", size, **kwargs)
    static = tflite.static_copy(trained_head(models.create("mattingnet", size, **kwargs)), spec, size)
    x = np.random.default_rng(2).random((1, size, size, kwargs.get("input_channels", 3)), np.float32)
    exported = [tflite.without_softmax(static)] + ([tflite.two_sigmoids(static)] if kwargs else [])
    for model in exported:  # the probabilities of a one-channel model are the logits' sigmoid: checked once
        lite = LiteRTModel(model_content=tflite.to_tflite(model))
        np.testing.assert_allclose(lite(x), model(x).numpy(), atol=1e-4)
    np.testing.assert_allclose(tflite.two_sigmoids(static)(x), static(x), atol=1e-5)
    assert gpu_problems(tflite.to_tflite(tflite.without_softmax(static), "float16")) == []


@pytest.mark.slow
@pytest.mark.parametrize("encoder", [encoders.OWN, "mobilenetv3small_100"])  # the head's ops do not depend on the encoder
def test_the_head_works_with_a_keras_applications_encoder(encoder):
    spec = make_spec("mattingnet", 64, encoder=encoder)
    static = tflite.static_copy(models.create("mattingnet", 64, encoder=encoder), spec, 64)
    assert static.output_shape == (1, 64, 64, 1)
    assert gpu_problems(tflite.to_tflite(tflite.without_softmax(static), "float16")) == []


@pytest.mark.slow
def test_mattingnet_trains_on_a_cache_and_exports_through_the_cli(cache, tmp_path):
    _, dest, _ = cache
    common = [f"--dataset_dir={dest}", "--input_shape=32", "--checkpoint_path=./run", "--log_dir=./logs"]
    trained = run_cli(["--train=True", "--model=mattingnet", "--weight_dir=", "--nb_epoch=1", "--batch_size=2",
                       "--val_ratio=0.67", "--checkpoint=0", "--verbose=2", *common], cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "swaps in another sample's background" in trained.stdout
    assert "mask_matting_composition" in trained.stdout
    best = next(p for p in (tmp_path / "run").iterdir() if p.name.endswith(".h5") and p.name != "last.h5")
    exported = run_cli(["--convert=True", "--android=True", f"--weight_dir={best}", f"--dataset_dir={dest}",
                        "--tflite_name=./out/m"], cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert (tmp_path / "out" / "m_android.tflite").is_file()
    scored = run_cli(["--evaluate=True", f"--weight_dir={best}", f"--dataset_dir={dest}", "--output_dir=./eval"],
                     cwd=tmp_path)
    assert scored.returncode == 0 and "sad=" in scored.stdout, scored.stderr[-3000:]
