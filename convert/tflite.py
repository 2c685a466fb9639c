"""TFLite export: the seed's pair of files, with and without softmax, each checked against Keras.

Both files take a static 1 x S x S x 3 float32 input (RGB in [0, 1], see data/preprocess.py).
``NAME.tflite`` outputs the model's probabilities; ``NAME_without_softmax.tflite`` outputs the raw
logits (person where logit[1] > logit[0]) for GPUs whose softmax misbehaves.
"""
import contextlib
import io
import os

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from data.dataset import decode_image, find_pairs
from data.preprocess import normalize, resize_image
from data.synthetic import portrait
from engine.files import writable_folder, write_bytes
from errors import UserError
from models.checkpoint import build, load_checkpoint, mask_model

DEFAULT_FOLDER = "./trained_models"
MAX_ABS_DIFF = 1e-4


def output_stem(tflite_name, weight_dir, size):
    """``--tflite_name`` without '.tflite', or ``./trained_models/<weights stem>_<size>`` when empty."""
    if tflite_name:
        return tflite_name[: -len(".tflite")] if tflite_name.endswith(".tflite") else tflite_name
    stem = os.path.splitext(os.path.basename(weight_dir))[0]
    return os.path.join(DEFAULT_FOLDER, f"{stem}_{size}")


def static_copy(model, spec, size):
    """The same network rebuilt with a static batch of 1 (the GPU delegate refuses dynamic shapes),
    without training-only heads."""
    static = build(spec, size, batch_size=1)
    static.set_weights(model.get_weights())
    return mask_model(static)


def without_softmax(model):
    return keras.Model(model.input, model.get_layer("logits").output, name=f"{model.name}_logits")


def to_tflite(model):
    """Convert a Keras model to a float32 .tflite flatbuffer (converter chatter kept off stdout)."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


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


def sample_batch(dataset_dir, size):
    """One real image from ``dataset_dir`` (testing/, else training/) or, if none, a synthetic portrait."""
    for split in ("testing", "training"):
        try:
            image_path = find_pairs(os.path.join(dataset_dir, split))[0][0]
        except UserError:
            continue
        return resize_image(normalize(decode_image(image_path)[None]), size).numpy(), image_path
    image, _ = portrait(np.random.default_rng(0), size, size)
    return resize_image(normalize(image[None]), size).numpy(), "synthetic portrait"


def check_parity(keras_model, lite_model, batch, label):
    """Max |difference| between Keras and LiteRT outputs; a UserError if above tolerance."""
    expected = keras_model(batch, training=False).numpy()
    diff = float(np.abs(lite_model(batch) - expected).max())
    tolerance = MAX_ABS_DIFF * max(1.0, float(np.abs(expected).max()))
    if diff > tolerance:
        raise UserError(f"--convert: {label} disagrees with the Keras model (max |diff| {diff:.2e} > {tolerance:.1e})")
    return diff


def convert(args, weights):
    """Write ``NAME.tflite`` and ``NAME_without_softmax.tflite`` from ``weights``; returns their paths."""
    model, spec = load_checkpoint(weights, args.input_shape)
    stem = output_stem(args.tflite_name, weights, args.input_shape)
    writable_folder(os.path.dirname(stem) or ".", "--tflite_name")
    static = static_copy(model, spec, args.input_shape)
    batch, source = sample_batch(args.dataset_dir, args.input_shape)
    print(f"parity on {source}:")
    paths = []
    for path, variant in ((f"{stem}.tflite", static), (f"{stem}_without_softmax.tflite", without_softmax(static))):
        content = to_tflite(variant)
        diff = check_parity(variant, LiteRTModel(model_content=content), batch, os.path.basename(path))
        write_bytes(path, content)
        print(f"  {path}: {len(content) / 1024:.0f} KB, max |diff| vs Keras {diff:.2e}")
        paths.append(path)
    return paths
