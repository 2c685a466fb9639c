"""Predictors: a model file turned into ``predict(batch) -> probabilities``, whatever its format."""
import tensorflow as tf

from models.checkpoint import load_checkpoint, mask_model


def keras_predictor(model):
    """A traced call of ``model`` in inference mode (one trace per input shape)."""
    return tf.function(lambda batch: model(batch, training=False), reduce_retracing=True)


def load_predictor(weights, input_shape):
    """``(predict, size)`` for a ``.h5`` checkpoint, rebuilt at ``input_shape``."""
    model, _ = load_checkpoint(weights, input_shape)
    return keras_predictor(mask_model(model)), input_shape
