"""Predictors: a model file turned into ``predict(batch) -> probabilities``, whatever its format."""
import tensorflow as tf

from models.checkpoint import load_checkpoint, mask_model

LITERT_THREADS = 2


def keras_predictor(model):
    """A traced call of ``model`` in inference mode (one trace per input shape)."""
    return tf.function(lambda batch: model(batch, training=False), reduce_retracing=True)


def litert_predictor(path):
    """``(predict, size)`` for an exported ``.tflite``, read as its sidecar describes it.

    The file's input size is fixed, so it wins over ``--input_shape``; ``predict`` returns the
    person probability as one channel.
    """
    from convert.sidecar import foreground, read_sidecar
    from convert.tflite import LiteRTModel

    sidecar = read_sidecar(path)
    model, kind = LiteRTModel(path, threads=LITERT_THREADS), sidecar["output"]["kind"]
    return (lambda batch: foreground(model(batch), kind)[..., None]), sidecar["input"]["shape"][1]


def load_predictor(weights, input_shape):
    """``(predict, size)`` for a ``.tflite`` export, or a ``.h5`` checkpoint rebuilt at ``input_shape``
    (``None``: the size it was trained at)."""
    if weights.endswith(".tflite"):
        return litert_predictor(weights)
    model, spec = load_checkpoint(weights, input_shape)
    return keras_predictor(mask_model(model)), input_shape or spec["input_shape"]
