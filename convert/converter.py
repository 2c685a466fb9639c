"""Keras model -> .tflite flatbuffer, for every file convert/ writes (the model's variants, the refiner)."""
import contextlib
import io
import warnings

import tensorflow as tf

from utils import native_stderr_muted


def to_tflite(model, variant="float32", calibration=()):
    """Convert a Keras model to a .tflite flatbuffer (converter chatter kept off stdout)."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if variant != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if variant == "int8":
        converter.representative_dataset = lambda: ([batch] for batch in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with contextlib.redirect_stdout(io.StringIO()), native_stderr_muted(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return converter.convert()
