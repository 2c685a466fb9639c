"""Knowledge distillation (``--teacher``): a trained model labels every augmented training batch and the
student learns to match it, beside the ground truth.

An ``.h5`` teacher runs inside the training step, in inference mode, under ``stop_gradient``; a
``.tflite`` teacher runs in the input pipeline through LiteRT, batches in parallel. Either way it sees
exactly the student's augmented view, resized to its own input size, and its probabilities are resized
back to the student's.
"""
import hashlib
import threading
from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from data.dataset import resize_image, resize_matte
from losses.distill import distillation_loss
from models.checkpoint import load_checkpoint, mask_model
from models.predictors import litert_predictor, read_sidecar
from utils import UserError

TEACHER_TARGET = "teacher"
TFLITE_THREADS = 1  # per interpreter; the pipeline runs several batches at once


@dataclass
class Teacher:
    """A loaded teacher: where it is, what it is, its input size, and ``probabilities(images)``: person
    probabilities (B, H, W, 1) for a float batch of the student's size, as TF ops."""
    path: str
    kind: str
    size: int
    spec: dict
    sha256: str
    probabilities: Callable

    def record(self):
        """What run_config.json keeps of the teacher."""
        return {"path": self.path, "kind": self.kind, "input_shape": self.size, "spec": self.spec,
                "sha256": self.sha256}


def file_hash(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_teacher(path: str) -> Teacher:
    """The teacher in ``path`` (a ``.h5`` checkpoint or a ``.tflite`` export with its sidecar), at its own
    input size; a UserError naming ``--teacher`` if it is missing or not a model of this project."""
    if path.endswith(".tflite"):
        return tflite_teacher(path)
    if not path.endswith(".h5"):
        raise UserError(f"--teacher: {path} is neither a .h5 checkpoint nor a .tflite export")
    model, spec = load_checkpoint(path, flag="--teacher")
    model.trainable = False
    return Teacher(path, "h5", spec["input_shape"], spec, file_hash(path), in_step(mask_model(model),
                                                                                  spec["input_shape"]))


def at_size(images, size, predict):
    """``predict`` on ``images`` resized to ``size``, its probabilities resized back."""
    own = images.shape[1]
    probabilities = predict(images if own == size else resize_image(images, size))
    return probabilities if own == size else resize_matte(probabilities, own)


def in_step(model, size):
    def probabilities(images):
        return tf.stop_gradient(at_size(images, size, lambda x: model(x, training=False)[..., -1:]))
    return probabilities


def tflite_teacher(path):
    sidecar = read_sidecar(path, flag="--teacher")
    try:
        size = litert_predictor(path, threads=TFLITE_THREADS).size
    except (ValueError, RuntimeError) as err:
        raise UserError(f"--teacher: {path} is not a model LiteRT can run: {err}") from None
    local = threading.local()  # a LiteRT interpreter serves one thread at a time

    def predict_batch(batch):
        if not hasattr(local, "predictor"):
            local.predictor = litert_predictor(path, threads=TFLITE_THREADS)
        return np.stack([local.predictor(image[None]) for image in batch])[..., None]

    def predict(images):
        probabilities = tf.numpy_function(predict_batch, [images], tf.float32, stateful=False)
        probabilities.set_shape((images.shape[0], size, size, 1))
        return probabilities

    return Teacher(path, "tflite", size, sidecar, file_hash(path), lambda images: at_size(images, size, predict))


class DistillingModel(keras.Model):
    """The student's own network (same layers and weights) whose training loss adds ``weight`` x the
    distillation term against the teacher, logged as ``distill`` (``val_distill`` on validation). The
    teacher's probabilities come from the batch's ``"teacher"`` target when the pipeline made them, else
    from ``teacher(images)`` here. The validation loss is the ground-truth loss alone, so val_loss
    compares with runs without a teacher."""

    def __init__(self, student, teacher: Callable, weight, temperature):
        super().__init__(student.input, student.output, name=student.name)
        self.weight, self.temperature = weight, temperature
        self.teacher = teacher  # a function: the teacher's network is not part of the student
        self.distill_tracker = keras.metrics.Mean(name="distill")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        given = y.get(TEACHER_TARGET)
        y = {name: value for name, value in y.items() if name != TEACHER_TARGET}
        loss = super().compute_loss(x, y, y_pred, sample_weight, training)
        teacher = given if given is not None else self.teacher(x)
        term = distillation_loss(teacher, y_pred["person_logit"], self.temperature)
        self.distill_tracker.update_state(term)
        return loss + self.weight * term if training else loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        y = {name: value for name, value in y.items() if name != TEACHER_TARGET}
        return super().compute_metrics(x, y, y_pred, sample_weight)
