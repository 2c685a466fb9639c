"""Metrics that accumulate per image, then reduce, so batch size never changes a score; an image counts by its
sample weight (0 for a photo without a matte, which trains only through a teacher's labels)."""
import keras
from keras import ops

from losses.segmentation import alpha, foreground


def _binary(y_true, y_pred):
    return ops.cast(alpha(y_true) >= 0.5, "float32"), ops.cast(foreground(y_pred) >= 0.5, "float32")


def foreground_iou_per_image(y_true, y_pred):
    """Foreground IoU of each image in the batch; an image with empty truth and prediction scores 1."""
    truth, pred = _binary(y_true, y_pred)
    inter = ops.sum(truth * pred, axis=(1, 2, 3))
    union = ops.sum(ops.maximum(truth, pred), axis=(1, 2, 3))
    return ops.where(union > 0, inter / ops.maximum(union, 1.0), 1.0)


@keras.saving.register_keras_serializable(package="portrait")
class ForegroundIoU(keras.metrics.Mean):
    """Mean over images of the foreground IoU at threshold 0.5."""

    def __init__(self, name="iou", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(foreground_iou_per_image(y_true, y_pred), sample_weight=sample_weight)


@keras.saving.register_keras_serializable(package="portrait")
class PixelAccuracy(keras.metrics.Mean):
    """Share of pixels whose thresholded prediction matches the thresholded matte."""

    def __init__(self, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        truth, pred = _binary(y_true, y_pred)
        return super().update_state(ops.mean(ops.cast(truth == pred, "float32"), axis=(1, 2, 3)),
                                    sample_weight=sample_weight)
