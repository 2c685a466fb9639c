"""The runtime layer: a model file turned into ``predict(batch) -> probabilities``, whatever its format.

A ``.h5`` checkpoint runs in Keras; a ``.tflite`` export runs in the LiteRT interpreter, fed and read
as its sidecar ``NAME.json`` describes (convert/sidecar.py writes it). Evaluation, inference,
export checks and benchmarks all run models through here.
"""
import json
import os

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from models.channels import WITH_PRIOR, spec_channels
from models.checkpoint import load_checkpoint, mask_model, read_spec
from utils import UserError

SIDECAR_FORMAT = "portrait-segmentation tflite sidecar v1"
REFINER_SIDECAR_FORMAT = "portrait-segmentation refiner sidecar v1"
LITERT_THREADS = 2


class LiteRTModel:
    """A .tflite model in the LiteRT interpreter, called like a Keras model on a float32 batch of 1."""

    def __init__(self, model_path=None, model_content=None, threads=1):
        self.interpreter = Interpreter(model_path=model_path, model_content=model_content, num_threads=threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    def __call__(self, batch):
        self.interpreter.set_tensor(self.input["index"], np.asarray(batch, self.input["dtype"]))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"])


def sidecar_path(tflite_path):
    return os.path.splitext(tflite_path)[0] + ".json"


def foreground(output, kind):
    """Person probability (..., H, W) from a model output of the given kind."""
    output = np.asarray(output, np.float32)
    if kind == "softmax":
        return output[..., 1]
    if kind == "logits":
        return 1.0 / (1.0 + np.exp(output[..., 0] - output[..., 1]))
    if kind == "logit":
        return 1.0 / (1.0 + np.exp(-output[..., 0]))
    return output[..., 0]


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
    return content


def keras_predictor(model):
    """A traced call of ``model`` in inference mode (one trace per input shape)."""
    return tf.function(lambda batch: model(batch, training=False), reduce_retracing=True)


def litert_predictor(path):
    """``(predict, size)`` for an exported ``.tflite``, read as its sidecar describes it.

    The file's input size is fixed, so it wins over ``--input_shape``; ``predict`` returns the
    person probability as one channel.
    """
    sidecar = read_sidecar(path)
    model, kind = LiteRTModel(path, threads=LITERT_THREADS), sidecar["output"]["kind"]
    return (lambda batch: foreground(model(batch), kind)[..., None]), sidecar["input"]["shape"][1]


def input_channels(weights):
    """What a ``.h5`` checkpoint or ``.tflite`` export takes: 3 (RGB) or 4 (RGB + the previous frame's mask)."""
    if weights.endswith(".tflite"):
        return int(read_sidecar(weights)["input"]["shape"][-1])
    return spec_channels(read_spec(weights))


def with_empty_prior(predict):
    """``predict`` of a 4-channel model taking RGB batches too: they get an empty prior (zeros) as channel 4,
    as a video's first frame does."""
    def run(batch):
        batch = np.asarray(batch, np.float32)
        if batch.shape[-1] == 3:
            batch = np.concatenate([batch, np.zeros(batch.shape[:-1] + (1,), np.float32)], axis=-1)
        return predict(batch)
    return run


def load_predictor(weights, input_shape):
    """``(predict, size)`` for a ``.tflite`` export, or a ``.h5`` checkpoint rebuilt at ``input_shape``
    (``None``: the size it was trained at). A 4-channel (video) model runs still photos with an empty prior."""
    if weights.endswith(".tflite"):
        predict, size = litert_predictor(weights)
    else:
        model, spec = load_checkpoint(weights, input_shape)
        predict, size = keras_predictor(mask_model(model)), input_shape or spec["input_shape"]
    if input_channels(weights) != WITH_PRIOR:
        return predict, size
    print(f"note: {weights} takes RGB + the previous frame's mask (a video model); still photos get an empty "
          f"prior, as a video's first frame does (--infer_video feeds the prior)")
    return with_empty_prior(predict), size
