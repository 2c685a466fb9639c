"""The runtime layer: a model file turned into a ``Predictor``, whatever its format.

A ``.h5`` checkpoint runs in Keras; a ``.tflite`` export runs in the LiteRT interpreter, fed and read
as its sidecar ``NAME.json`` describes (convert/sidecar.py writes it) and without importing TensorFlow.
Photos, folders, evaluation, video, distillation and benchmarks all run models through here, and feed
them data/preprocess.py's ``model_input``.
"""
import json
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from utils import UserError, native_stderr_muted, warn

SIDECAR_FORMAT = "portrait-segmentation tflite sidecar v1"
REFINER_SIDECAR_FORMAT = "portrait-segmentation refiner sidecar v1"
OUTPUT_KINDS = ("softmax", "logits", "logit", "sigmoid")
LITERT_THREADS = 2


class LiteRTModel:
    """A .tflite model in the LiteRT interpreter, called like a Keras model on a float32 batch of 1."""

    def __init__(self, model_path=None, model_content=None, threads=1):
        with native_stderr_muted():  # LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate" line
            self.interpreter = Interpreter(model_path=model_path, model_content=model_content, num_threads=threads)
            self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    def __call__(self, batch):
        self.interpreter.set_tensor(self.input["index"], np.asarray(batch, self.input["dtype"]))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"])


@dataclass(frozen=True)
class Predictor:
    """A model ready to run: ``predict`` maps a float32 batch (1, size, size, channels) of
    ``data.preprocess.model_input`` (plus, for a 4-channel video model, the previous frame's mask as
    channel 4) to the person's probability (size, size)."""
    predict: Callable[[np.ndarray], np.ndarray]
    size: int
    channels: int

    def __call__(self, batch):
        return np.asarray(self.predict(batch), np.float32)


def sidecar_path(tflite_path):
    return os.path.splitext(tflite_path)[0] + ".json"


def foreground(output, kind):
    """Person probability (..., H, W) from a model output of the given kind (one of OUTPUT_KINDS)."""
    output = np.asarray(output, np.float32)
    if kind == "softmax":
        return output[..., 1]
    if kind == "logits":
        return 1.0 / (1.0 + np.exp(output[..., 0] - output[..., 1]))
    if kind == "logit":
        return 1.0 / (1.0 + np.exp(-output[..., 0]))
    if kind == "sigmoid":
        return output[..., 0]
    raise ValueError(f"unknown output kind '{kind}'; known: {', '.join(OUTPUT_KINDS)}")


def read_sidecar(tflite_path, flag="--weight_dir"):
    """The sidecar of a ``.tflite`` file; a UserError names the file if it is missing or not ours."""
    path = sidecar_path(tflite_path)
    if not os.path.isfile(tflite_path):
        raise UserError(f"{flag}: no such file: {tflite_path}")
    try:
        with open(path) as f:
            content = json.load(f)
    except FileNotFoundError:
        raise UserError(f"{flag}: {tflite_path} has no sidecar {path} (export it with --convert=True)") from None
    except (OSError, ValueError):
        raise UserError(f"{flag}: {path} is not a readable sidecar") from None
    if content.get("format") == REFINER_SIDECAR_FORMAT:
        raise UserError(f"{flag}: {tflite_path} is a guided refiner (it takes a photo and a model's probability), "
                        f"not a segmentation model: use {content.get('pairs_with', 'the model it pairs with')}")
    if content.get("format") != SIDECAR_FORMAT:
        raise UserError(f"{flag}: {path} is not a portrait-segmentation sidecar")
    kind = content.get("output", {}).get("kind")
    if kind not in OUTPUT_KINDS:
        raise UserError(f"{flag}: {path} names an unknown output kind '{kind}' (known: {', '.join(OUTPUT_KINDS)})")
    return content


def litert_predictor(path, input_shape=None, threads=LITERT_THREADS):
    """An exported ``.tflite``, read as its sidecar describes it. Its input size is fixed in the file: an
    ``input_shape`` that differs is named in a warning and ignored."""
    sidecar = read_sidecar(path)
    model, kind = LiteRTModel(path, threads=threads), sidecar["output"]["kind"]
    _, size, _, channels = sidecar["input"]["shape"]
    if input_shape and input_shape != size:
        warn(f"--input_shape={input_shape} ignored: {path} takes {size}x{size} (re-export it at another size "
             f"with --convert=True --input_shape=N from its .h5)")
    return Predictor(lambda batch: foreground(model(batch), kind)[0], int(size), int(channels))


def keras_predictor(model):
    """A Keras image -> probabilities model (``models.checkpoint.mask_model``), traced once per input shape."""
    import tensorflow as tf

    traced = tf.function(lambda batch: model(batch, training=False), reduce_retracing=True)
    return Predictor(lambda batch: traced(np.asarray(batch, np.float32)).numpy()[0, ..., -1],
                     int(model.input_shape[1]), int(model.input_shape[-1]))


def load_predictor(weights, input_shape=None):
    """The ``Predictor`` of a ``.tflite`` export, or of a ``.h5`` checkpoint rebuilt at ``input_shape``
    (None: the size it was trained at). Only a ``.h5`` imports TensorFlow."""
    if weights.endswith(".tflite"):
        return litert_predictor(weights, input_shape)
    from models.checkpoint import load_checkpoint, mask_model

    model, _ = load_checkpoint(weights, input_shape)
    return keras_predictor(mask_model(model))
