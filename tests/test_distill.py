"""Knowledge distillation: the loss, the teacher's view of the batch, photos without mattes, and --teacher
through the real CLI with an .h5 and a .tflite teacher."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from data.dataset import make_dataset, training_targets, unlabeled_images
from engine.distill import DistillingModel
from losses.distill import distillation_loss
from config import ExportConfig
from convert.tflite import convert
from models.checkpoint import build, make_spec, save_checkpoint
from tests.conftest import run_cli

TINY = ["--nb_epoch=1", "--input_shape=64", "--batch_size=4", "--verbose=2", "--width=0.25", "--log_dir=./logs"]


def logit(p):
    return np.log(p) - np.log1p(-p)


def bernoulli_kl(p, q):
    return p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))


def test_distillation_loss_is_the_softened_kl_times_t_squared():
    rng = np.random.default_rng(0)
    teacher = rng.uniform(0.02, 0.98, (2, 4, 4, 1)).astype("float32")
    student = rng.normal(0, 2, (2, 4, 4, 1)).astype("float32")
    for t in (1.0, 3.0):
        soft = lambda z: 1 / (1 + np.exp(-z / t))  # noqa: E731
        expected = bernoulli_kl(soft(logit(teacher)), soft(student)).mean() * t * t
        assert float(distillation_loss(teacher, student, t)) == pytest.approx(expected, rel=1e-4)
    assert float(distillation_loss(teacher, logit(teacher), 2.0)) == pytest.approx(0.0, abs=1e-5)


def test_gradient_pulls_the_student_towards_the_teacher():
    student = tf.Variable(np.zeros((1, 2, 2, 1), "float32"))
    teacher = np.full((1, 2, 2, 1), 0.9, "float32")
    with tf.GradientTape() as tape:
        loss = distillation_loss(teacher, student, 1.0)
    gradient = tape.gradient(loss, student).numpy()
    assert (gradient < 0).all()  # a higher logit moves sigmoid(0) = 0.5 towards 0.9


def test_pipeline_teacher_sees_the_augmented_batch_and_photos_weigh_zero(workdir):
    training = os.path.join(workdir, "dataset", "selfie", "training")
    labelled = [(os.path.join(training, f), os.path.join(training, f.replace(".jpg", "_matte.png")))
                for f in sorted(os.listdir(training)) if f.endswith(".jpg")][:3]
    photos = unlabeled_images(os.path.join(workdir, "dataset", "selfie", "testing"))
    assert photos and all(matte == "" for _, matte in photos)
    ds = make_dataset(labelled + photos, 32, 8, training=True, seed=3, targets=training_targets(False, False),
                      teacher=lambda images: tf.reduce_mean(images, axis=-1, keepdims=True))
    images, targets, weights = next(iter(ds))
    np.testing.assert_allclose(targets["teacher"], np.mean(images, axis=-1, keepdims=True), atol=1e-6)
    weights = np.asarray(weights)
    assert sorted(weights.tolist()) == sorted([1.0] * len(labelled) + [0.0] * (len(images) - len(labelled)))
    assert np.asarray(targets["mask"])[weights == 0].max() == 0.0  # no matte: an all-background target


def test_training_loss_adds_the_weighted_term_and_validation_does_not():
    student = build(make_spec("lightnet", 32, width=0.25, boundary=False))
    teacher = lambda images: tf.fill(tf.concat([tf.shape(images)[:3], [1]], 0), 0.8)  # noqa: E731
    model = DistillingModel(student, teacher, weight=0.5, temperature=2.0)
    model.compile(loss={"person_logit": "binary_crossentropy"})
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
    y = {"person_logit": np.ones((2, 32, 32, 1), "float32"), "mask": np.ones((2, 32, 32, 1), "float32")}
    y_pred = model(x)
    term = float(distillation_loss(teacher(x), y_pred["person_logit"], 2.0))
    ground_truth = float(model.compute_loss(x, y, y_pred, training=False))
    assert float(model.compute_loss(x, y, y_pred, training=True)) == pytest.approx(ground_truth + 0.5 * term, rel=1e-5)
    assert term > 0
    assert [w.name for w in model.weights] == [w.name for w in student.weights]  # the teacher is not saved


@pytest.fixture(scope="module")
def teachers(workdir):
    """A tiny teacher (random weights will do) as a 64 px checkpoint and as a 96 px .tflite export."""
    folder = workdir / "teacher"
    folder.mkdir()
    spec = make_spec("lightnet", 64, width=0.25, boundary=False)
    save_checkpoint(build(spec), spec, str(folder / "last.h5"))
    convert(str(folder / "last.h5"), ExportConfig(input_shape=96, tflite_name=str(folder / "teacher"),
                                                  dataset_dir=str(workdir / "dataset" / "selfie")))
    return "./teacher/last.h5", "./teacher/teacher.tflite"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["h5", "tflite"])
def test_one_epoch_with_a_teacher_through_the_cli(workdir, teachers, kind):
    teacher = teachers[0] if kind == "h5" else teachers[1]
    folder = f"./student_{kind}"
    result = run_cli(["--train=True", "--weight_dir=", f"--checkpoint_path={folder}", f"--teacher={teacher}",
                      "--unlabeled_dir=./dataset/selfie/testing", "--distill_temperature=2", "--evaluate=True",
                      "--refine=none", *TINY], cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert " distill: " in result.stdout and " val_distill: " in result.stdout
    record = json.load(open(os.path.join(workdir, folder, "run_config.json")))
    assert record["teacher"] == teacher and record["distill_temperature"] == 2.0
    assert record["teacher_model"]["kind"] == kind and len(record["teacher_model"]["sha256"]) == 64
    assert record["teacher_model"]["input_shape"] == (64 if kind == "h5" else 96)
    assert record["pairs"]["unlabeled"] == 4
    assert "mean_fg_iou=" in result.stdout  # --evaluate after training loads the distilled checkpoint
