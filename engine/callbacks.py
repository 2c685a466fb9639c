"""Keras callbacks: atomic checkpoints named like the seed's, and prediction images for TensorBoard."""
import math
import os

import keras
import numpy as np
import tensorflow as tf

from engine.files import write_json
from models.checkpoint import save_checkpoint

STATE_FILE = "checkpoints.json"


class CheckpointWriter(keras.callbacks.Callback):
    """Writes ``{epoch:02d}-{val_loss:.2f}.h5`` when val_loss improves, and every ``every`` epochs.

    ``checkpoints.json`` beside them names the best and the latest checkpoint (file names in the folder)
    and the last epoch completed.
    """

    def __init__(self, folder, spec, every):
        super().__init__()
        self.folder, self.spec, self.every = folder, spec, every
        self.best_loss, self.best_path, self.last_path = math.inf, None, None

    def on_epoch_end(self, epoch, logs=None):
        number, val_loss = epoch + 1, (logs or {}).get("val_loss", math.nan)
        improved = val_loss < self.best_loss
        if improved or (self.every and number % self.every == 0):
            path = os.path.join(self.folder, f"{number:02d}-{val_loss:.2f}.h5")
            save_checkpoint(self.model, self.spec, path)
            self.last_path = path
            if improved:
                self.best_loss, self.best_path = val_loss, path
        self._write_state(number)

    def _write_state(self, epoch):
        name = lambda path: path and os.path.basename(path)  # noqa: E731  (the folder may move)
        state = {"best": name(self.best_path), "best_val_loss": self.best_loss, "last": name(self.last_path),
                 "epoch": epoch}
        write_json(os.path.join(self.folder, STATE_FILE), state)


class PredictionImages(keras.callbacks.Callback):
    """Logs a few validation images as image | truth | prediction rows to TensorBoard each epoch."""

    def __init__(self, log_dir, images, mattes):
        super().__init__()
        self.images, self.mattes = images, mattes
        self.writer = tf.summary.create_file_writer(os.path.join(log_dir, "images"))

    def on_epoch_end(self, epoch, logs=None):
        foreground = self.model(self.images, training=False)["mask"][..., -1:]
        as_rgb = lambda m: np.repeat(np.asarray(m), 3, axis=-1)  # noqa: E731
        rows = np.concatenate([self.images, as_rgb(self.mattes), as_rgb(foreground)], axis=2)
        with self.writer.as_default():
            tf.summary.image("validation image | truth | prediction", rows, step=epoch, max_outputs=len(rows))
        self.writer.flush()
