"""Losses, boundary targets and sigsoftmax against values worked out by hand."""
import numpy as np
import pytest
import keras
import tensorflow as tf

import models
from config import TrainConfig
from engine.train import compile_model, loss_settings
from data.boundary import boundary_target
from losses import LossTerm, SegmentationLoss, boundary_loss, cross_entropy, dice_loss
from losses import boundary_focal_loss, focal_loss, mask_metrics, matting_loss
from models.blocks import SigSoftmax

Y = np.array([1.0, 0.0, 1.0, 0.0], np.float32).reshape(1, 2, 2, 1)
P = np.array([0.9, 0.2, 0.4, 0.7], np.float32).reshape(1, 2, 2, 1)
D = np.log(P / (1 - P))  # the person's logit: the losses take it, the logged terms take P


def test_focal_reduces_to_cross_entropy_at_gamma_0():
    assert np.allclose(focal_loss(Y, D, gamma=0.0), cross_entropy(Y, D), atol=1e-6)


def test_focal_by_hand():
    p_t = np.array([0.9, 0.8, 0.4, 0.3])
    expected = np.mean((1 - p_t) ** 2 * -np.log(p_t))
    assert np.isclose(float(focal_loss(Y, D)[0]), expected, atol=1e-6)
    weighted = np.mean(np.array([0.25, 0.75, 0.25, 0.75]) * (1 - p_t) ** 2 * -np.log(p_t))
    assert np.isclose(float(focal_loss(Y, D, alpha_weight=0.25)[0]), weighted, atol=1e-6)


def test_combined_is_weighted_focal_plus_ce():
    expected = 0.8 * focal_loss(Y, D) + 0.2 * cross_entropy(Y, D)
    assert np.allclose(SegmentationLoss("combined", 0.8)(Y, D), np.mean(expected), atol=1e-6)


def test_focal_flags_reach_the_loss_and_its_logged_term():
    args = TrainConfig(focal_gamma=1.0, focal_alpha=0.25, weight_dir="")
    weights = loss_settings(args, {"model": "lightnet", "kwargs": {"boundary": False}})
    assert (weights["focal_gamma"], weights["focal_alpha"]) == (1.0, 0.25)
    model = models.create("lightnet", 32)
    compile_model(model, args, steps=1, weights=weights)
    expected = focal_loss(Y, D, gamma=1.0, alpha_weight=0.25)
    assert np.allclose(model.loss["person_logit"](Y, D), np.mean(0.8 * expected + 0.2 * cross_entropy(Y, D)),
                       atol=1e-6)
    term = next(m for m in mask_metrics("combined", focal_gamma=1.0, focal_alpha=0.25) if m.name == "focal")
    term.update_state(Y, P)
    assert np.isclose(float(term.result()), float(expected[0]), atol=1e-6)


def test_focal_settings_survive_the_loss_config():
    loss = SegmentationLoss("focal", focal_gamma=0.0)
    assert np.allclose(loss(Y, D), np.mean(cross_entropy(Y, D)), atol=1e-6)
    restored = SegmentationLoss.from_config(loss.get_config())
    assert (restored.focal_gamma, restored.focal_alpha) == (0.0, None)


def test_dice_by_hand():
    inter, total = 0.9 + 0.4, 2 + (0.9 + 0.2 + 0.4 + 0.7)
    assert np.isclose(float(dice_loss(Y, D)[0]), 1 - (2 * inter + 1) / (total + 1), atol=1e-6)


def test_dice_weight_adds_the_dice_term():
    expected = cross_entropy(Y, D) + 0.5 * dice_loss(Y, D)
    assert np.allclose(SegmentationLoss("ce", dice_weight=0.5)(Y, D), np.mean(expected), atol=1e-6)


def test_wrong_shapes_named_in_the_error():
    with pytest.raises(ValueError, match=r"\(1, 2, 2, 3\)"):
        cross_entropy(np.zeros((1, 2, 2, 3), np.float32), D)


def test_boundary_target_thickness():
    matte = np.zeros((40, 40, 1), np.float32)
    matte[10:30, 10:30] = 1.0
    target = boundary_target(matte)[..., 0]
    row = target[20]  # a horizontal line through the square: edges near x = 10 and x = 29
    assert target.max() == pytest.approx(1.0)
    assert row[:5].max() == 0 and row[15:25].max() == 0  # far from the edge: nothing
    band = np.flatnonzero(row[:20] > 0)
    assert 3 <= len(band) <= 6  # the 5 px band, give or take Canny's placement of the edge
    assert sorted(set(np.round(row[band], 2))) == [0.2, 0.5, 1.0]  # 1 px, 3 px, 5 px bands
    assert boundary_target(np.zeros((8, 8, 1), np.float32)).max() == 0


def test_boundary_loss_by_hand():
    y = np.array([1.0, 0.0], np.float32).reshape(1, 1, 2, 1)
    p = np.array([0.8, 0.1], np.float32).reshape(1, 1, 2, 1)
    assert np.isclose(float(boundary_loss(y, np.log(p / (1 - p)))[0]), -np.mean([np.log(0.8), np.log(0.9)]), atol=1e-6)


def test_boundary_focal_by_hand_and_at_gamma_0():
    y = np.array([1.0, 0.0, 0.5], np.float32).reshape(1, 1, 3, 1)  # soft targets: the 3 px band is 0.5
    p = np.array([0.8, 0.1, 0.9], np.float32).reshape(1, 1, 3, 1)
    d = np.log(p / (1 - p))
    assert np.allclose(boundary_focal_loss(y, d, gamma=0.0), boundary_loss(y, d), atol=1e-6)
    ce = -np.array([np.log(0.8), np.log(0.9), 0.5 * np.log(0.9) + 0.5 * np.log(0.1)])
    expected = np.mean(np.array([0.2, 0.1, 0.4]) ** 2 * ce)
    assert np.isclose(float(boundary_focal_loss(y, d)[0]), expected, atol=1e-6)


def test_sigsoftmax_sums_to_one_and_matches_definition():
    z = np.array([[-3.0, 2.0], [40.0, -40.0], [0.5, 0.5]], np.float32).reshape(1, 1, 3, 2)
    out = SigSoftmax()(z).numpy()
    assert np.allclose(out.sum(-1), 1.0, atol=1e-6) and np.isfinite(out).all()
    e = np.exp(z[0, 0, 0]) / (1 + np.exp(-z[0, 0, 0]))
    assert np.allclose(out[0, 0, 0], e / e.sum(), atol=1e-6)


def test_matting_loss_zero_when_exact_and_uses_the_image():
    rng = np.random.default_rng(0)
    a = rng.random((1, 8, 8, 1)).astype(np.float32)
    image = rng.random((1, 8, 8, 3)).astype(np.float32)
    target = np.concatenate([a, image], axis=-1)
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    assert float(matting_loss(target, logit(a))[0]) < 1e-2  # only the Charbonnier epsilon remains
    worse = logit(np.clip(a + 0.2, 0.01, 0.99))
    assert float(matting_loss(target, worse)[0]) > float(matting_loss(a, worse)[0])  # composition term adds


@pytest.mark.parametrize("fn", [cross_entropy, focal_loss, dice_loss, matting_loss, boundary_loss,
                                boundary_focal_loss,
                                SegmentationLoss("combined", 0.8, matting_weight=1.0)])
def test_gradients_are_finite_even_at_saturation(fn):
    y = tf.constant(np.array([1.0, 0.0, 1.0, 0.0, 0.5, 1.0], np.float32).reshape(1, 2, 3, 1))
    logits = tf.Variable(np.array([60.0, -60.0, -60.0, 60.0, 0.0, 3.0], np.float32).reshape(1, 2, 3, 1))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(fn(y, logits))
    grad = tape.gradient(loss, logits)
    assert np.isfinite(loss.numpy()) and np.isfinite(grad.numpy()).all()


def test_loss_term_metric_tracks_its_term():
    metric = LossTerm("focal")
    metric.update_state(Y, P)
    assert np.isclose(float(metric.result()), float(focal_loss(Y, D)[0]), atol=1e-6)
    assert metric.name == "focal"


@pytest.mark.parametrize("choice,fn", [("bce", boundary_loss), ("focal", boundary_focal_loss)])
def test_boundary_loss_flag_picks_the_heads_loss(choice, fn):
    args = TrainConfig(boundary_loss=choice, weight_dir="")
    model = models.create("lightnet", 32, boundary=True)
    weights = loss_settings(args, {"model": "lightnet", "kwargs": {"boundary": True}})
    compile_model(model, args, steps=1, weights=weights)
    assert weights["boundary_loss"] == choice and model.loss["boundary"] is fn


@pytest.mark.parametrize("fn", [cross_entropy, focal_loss, boundary_loss, boundary_focal_loss])
def test_a_confidently_wrong_pixel_keeps_its_gradient(fn):
    y = tf.constant(np.ones((1, 1, 1, 1), np.float32))
    logit = tf.Variable(np.full((1, 1, 1, 1), -20.0, np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(fn(y, logit))
    assert float(loss) == pytest.approx(20.0, rel=1e-3)  # -log(sigmoid(-20)); clipped probabilities gave 16.1
    assert float(tape.gradient(loss, logit)[0, 0, 0, 0]) == pytest.approx(-1.0, abs=1e-3)  # it was 0.0


def test_cross_entropy_and_focal_match_keras_on_binary_targets():
    per_pixel = keras.losses.binary_crossentropy(Y, D, from_logits=True)  # mean over the last axis (1 channel)
    assert np.allclose(cross_entropy(Y, D), np.mean(per_pixel, axis=(1, 2)), atol=1e-6)
    focal = keras.losses.binary_focal_crossentropy(Y, D, gamma=2.0, from_logits=True, apply_class_balancing=True,
                                                   alpha=0.25)
    assert np.allclose(focal_loss(Y, D, alpha_weight=0.25), np.mean(focal, axis=(1, 2)), atol=1e-6)


def test_focal_optimum_on_a_soft_label_is_the_label():
    y = np.full((1, 1, 1, 1), 0.3, np.float32)
    logits = np.linspace(-4, 4, 8001, dtype=np.float32).reshape(-1, 1, 1, 1)
    values = focal_loss(np.repeat(y, len(logits), axis=0), logits).numpy()
    best = 1 / (1 + np.exp(-logits[np.argmin(values), 0, 0, 0]))
    assert best == pytest.approx(0.3, abs=2e-3)  # (1 - p_t)^gamma put it at 0.12


@pytest.mark.parametrize("activation", ["softmax", "sigsoftmax", "sigmoid"])
def test_person_logit_is_the_probability_s_logit(activation):
    model = models.create("lightnet", 32, activation=activation)
    out = model(np.random.default_rng(2).random((1, 32, 32, 3), np.float32))
    assert np.allclose(tf.sigmoid(out["person_logit"]), out["mask"][..., -1:], atol=1e-5)


def test_metrics_count_each_image_by_its_sample_weight():
    """A teacher-only photo (--unlabeled_dir) has an all-background matte and sample weight 0: the training IoU,
    accuracy and loss terms must not score it as an empty matte."""
    truth = np.zeros((2, 4, 4, 1), np.float32)
    truth[0, :2] = 1.0  # the labelled image: its top half is the person
    person = np.zeros((2, 4, 4), np.float32)
    person[:, :2] = 0.9  # both predicted as that top half
    probs = np.stack([1 - person, person], -1)
    weight = np.array([1.0, 0.0], np.float32)
    for metric in mask_metrics("combined"):
        labelled_only = type(metric).from_config(metric.get_config())
        labelled_only.update_state(truth[:1], probs[:1])
        metric.update_state(truth, probs, sample_weight=weight)
        assert float(metric.result()) == pytest.approx(float(labelled_only.result()), rel=1e-6), metric.name
