"""Keras callbacks: atomic checkpoints named like the seed's, a guard against non-finite losses,
skipped-sample counts, and prediction images for TensorBoard."""
import math
import os

import keras
import numpy as np
import tensorflow as tf

from models.checkpoint import TEMPORARY_SUFFIX, save_checkpoint
from utils import write_json

STATE_FILE = "checkpoints.json"
LAST_CHECKPOINT = "last.h5"


def finite(logs, *keys):
    return all(math.isfinite(logs.get(k, 0.0)) for k in keys)


def monitored(logs, monitor):
    """The monitored figure of an epoch; with a boundary head Keras calls val_iou val_mask_iou."""
    return logs.get(monitor, logs.get(monitor.replace("val_", "val_mask_"), math.nan))


class CheckpointWriter(keras.callbacks.Callback):
    """Writes ``{epoch:02d}-{val_loss:.2f}.h5`` (the model) when the monitored figure improves and every ``every``
    epochs, and ``last.h5`` (the model and the optimizer state, for --resume) after every epoch; all
    atomically, never from a non-finite epoch.

    ``checkpoints.json`` beside them names the best and the latest checkpoint (file names in the folder)
    and the last epoch completed.
    """

    def __init__(self, folder, spec, every, monitor="val_loss", best=None, best_path=None):
        super().__init__()
        self.folder, self.spec, self.every, self.monitor = folder, spec, every, monitor
        self.sign = 1 if monitor == "val_loss" else -1  # val_loss: lower is better; val_iou: higher
        self.best = best if best is not None else self.sign * math.inf
        self.best_path, self.last_path = best_path, None

    def on_train_begin(self, logs=None):
        for name in os.listdir(self.folder):  # left by a run killed while saving
            if name.startswith(".") and name.endswith(TEMPORARY_SUFFIX):
                os.remove(os.path.join(self.folder, name))

    def on_epoch_end(self, epoch, logs=None):
        logs, number = logs or {}, epoch + 1
        if not finite(logs, "loss", "val_loss"):
            return
        val_loss, value = logs.get("val_loss", math.nan), monitored(logs, self.monitor)
        improved = self.sign * value < self.sign * self.best
        if improved or (self.every and number % self.every == 0):
            path = os.path.join(self.folder, f"{number:02d}-{val_loss:.2f}.h5")
            save_checkpoint(self.model, self.spec, path, epoch=number, include_optimizer=False)
            self.last_path = path
            if improved:
                self.best, self.best_path = value, path
        save_checkpoint(self.model, self.spec, os.path.join(self.folder, LAST_CHECKPOINT), epoch=number)
        self._write_state(number)

    def _write_state(self, epoch):
        name = lambda path: path and os.path.basename(path)  # noqa: E731  (the folder may move)
        state = {"best": name(self.best_path), "monitor": self.monitor, "best_value": self.best,
                 "last": name(self.last_path),
                 "epoch": epoch}
        write_json(os.path.join(self.folder, STATE_FILE), state)


class StopOnNonFinite(keras.callbacks.TerminateOnNaN):
    """Keras's TerminateOnNaN (stops at the first batch whose loss is NaN or infinite), remembering the epoch."""

    def __init__(self):
        super().__init__()
        self.epoch, self.stopped_at = 0, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_batch_end(self, batch, logs=None):
        super().on_batch_end(batch, logs)
        if self.model.stop_training and self.stopped_at is None:
            self.stopped_at = self.epoch


class SkippedSamples(keras.callbacks.Callback):
    """Adds the number of pairs left out as unusable (named in warnings at the start) to every
    epoch's summary and TensorBoard, when there are any."""

    def __init__(self, count):
        super().__init__()
        self.count = count

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.count:
            logs["skipped"] = self.count


class PerSetValidation(keras.callbacks.Callback):
    """Adds ``val_<set>_iou``, the foreground IoU on each dataset's own validation pairs, to every epoch's
    figures (the epoch line, TensorBoard, the history). ``datasets``: {name: (dataset, steps or None)}."""

    def __init__(self, datasets):
        super().__init__()
        self.datasets = datasets

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for name, (ds, steps) in self.datasets.items():
            figures = self.model.evaluate(ds, steps=steps, verbose=0, return_dict=True)
            logs[f"val_{name}_iou"] = next(v for k, v in figures.items() if k.endswith("iou"))


class PredictionImages(keras.callbacks.Callback):
    """Logs a few validation images as image | truth | prediction rows to TensorBoard each epoch."""

    def __init__(self, log_dir, images, mattes):
        super().__init__()
        self.images, self.mattes = images, mattes
        self.writer = tf.summary.create_file_writer(os.path.join(log_dir, "images"))

    def on_epoch_end(self, epoch, logs=None):
        foreground = self.model(self.images, training=False)["mask"][..., -1:]
        as_rgb = lambda m: np.repeat(np.asarray(m), 3, axis=-1)  # noqa: E731
        rgb = self.images[..., :3]  # a 4-channel model's images carry the prior as channel 4
        rows = np.concatenate([rgb, as_rgb(self.mattes), as_rgb(foreground)], axis=2)
        with self.writer.as_default():
            tf.summary.image("validation image | truth | prediction", rows, step=epoch, max_outputs=len(rows))
        self.writer.flush()
