"""Checkpoints that know how to rebuild their model.

A checkpoint is a Keras ``.h5`` file (weights, optimizer state) with this project's model spec
stored as an HDF5 attribute: the builder's name and arguments and the input size it was trained at.
Loading rebuilds the network from the spec, at any input size, and loads the weights into it.
Writes are atomic: a temporary file in the same folder, renamed over the target when complete.
"""
import contextlib
import inspect
import json
import os

import h5py
import keras
from absl import logging as absl_logging

from models import lightnet  # noqa: F401  (registers the builders)
from models.channels import RGB, WITH_PRIOR, copy_widened, spec_channels
from models.registry import builder, create
from utils import UserError, durable_replace

# Arguments a builder gained after checkpoints were written, with the value that rebuilds those older
# checkpoints: a spec without them is such a checkpoint's. New specs record them (make_spec).
ADDED_KWARGS = {"mattingnet": {"refiner": False}}
SPEC_ATTR = "portrait_spec"
EPOCH_ATTR = "portrait_epoch"
TEMPORARY_SUFFIX = ".tmp.h5"


def make_spec(name, input_shape, **kwargs):
    """The spec of builder ``name``'s network; it records every ADDED_KWARGS argument, at the builder's default
    when not given, so that it is not taken for an older checkpoint's."""
    added = {key: default_kwarg({"model": name}, key) for key in ADDED_KWARGS.get(name, {}) if key not in kwargs}
    return {"model": name, "input_shape": int(input_shape), "kwargs": {**kwargs, **added}}


def completed(spec):
    """A stored spec with the ADDED_KWARGS values an older checkpoint was built with, where it lacks them."""
    return {**spec, "kwargs": {**ADDED_KWARGS.get(spec["model"], {}), **spec.get("kwargs", {})}}


def default_kwarg(spec, name):
    """The value the spec's builder gives ``name`` when the spec does not set it."""
    return inspect.signature(builder(spec["model"])).parameters[name].default


def build(spec, input_shape=None, batch_size=None):
    """Build the spec's network, at ``input_shape`` if given, else at the size it was trained at."""
    size = input_shape or spec["input_shape"]
    return create(spec["model"], size, batch_size=batch_size, **spec["kwargs"])


@contextlib.contextmanager
def quiet_absl():
    previous = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(previous)


def save_checkpoint(model, spec, path, epoch=None, include_optimizer=True):
    """Write ``model`` (with its optimizer state unless told not to), ``spec`` and the epoch reached to
    ``path`` atomically."""
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}{TEMPORARY_SUFFIX}")
    try:
        with quiet_absl():
            model.save(tmp, include_optimizer=include_optimizer)  # Keras warns that .h5 is legacy; the seed's are .h5
        with h5py.File(tmp, "a") as f:
            f.attrs[SPEC_ATTR] = json.dumps(spec)
            if epoch is not None:
                f.attrs[EPOCH_ATTR] = int(epoch)
        durable_replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read_spec(path, flag="--weight_dir"):
    """The model spec stored in checkpoint ``path``; a UserError names the flag and file if unusable."""
    if not path:
        raise UserError(f"{flag} is empty: give the path of a .h5 checkpoint")
    if not os.path.isfile(path):
        raise UserError(f"{flag}: no such file: {path}")
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get(SPEC_ATTR)
    except OSError:
        raise UserError(f"{flag}: {path} is not a readable .h5 model file") from None
    if raw is None:
        raise UserError(f"{flag}: {path} holds no portrait-segmentation model spec (not written by this tool)")
    return completed(json.loads(raw))


def mask_model(model):
    """The model without training-only heads: image in, mask probabilities out (a plain tensor)."""
    return keras.Model(model.input, model.get_layer("probs").output, name=model.name)


def load_checkpoint(path, input_shape=None, batch_size=None, flag="--weight_dir"):
    """Rebuild the checkpoint's network (at ``input_shape`` if given) and load its weights.

    Returns ``(model, spec)``. The networks are fully convolutional, so weights trained at one
    input size load at another.
    """
    spec = read_spec(path, flag)
    model = build(spec, input_shape, batch_size)
    try:
        model.load_weights(path)
    except (ValueError, KeyError, OSError) as err:
        raise UserError(f"{flag}: weights in {path} do not fit model '{spec['model']}': {err}") from None
    return model, spec


def saved_epoch(path):
    """The number of epochs completed when checkpoint ``path`` was written (0 if not recorded)."""
    with h5py.File(path, "r") as f:
        return int(f.attrs.get(EPOCH_ATTR, 0))


def restore_optimizer(model, path):
    """Load the optimizer state saved in ``path`` into the compiled ``model``; False if it does not fit."""
    with h5py.File(path, "r") as f:
        if "optimizer_weights" not in f:
            return False
        group = f["optimizer_weights"]
        values = [group[name][()] for name in group.attrs["weight_names"]]
    model.optimizer.build(model.trainable_variables)
    try:
        model.optimizer.set_weights(values)
    except ValueError:
        return False
    return True


def with_channels(model: keras.Model, spec: dict, channels, weight_dir: str, size: int):
    """For a loaded checkpoint and ``--input_channels``: ``(model, spec)`` as they are, or a 3-channel
    checkpoint widened to 4 channels (channel 4's weights zero); a UserError for a 4-channel one asked for 3."""
    built = spec_channels(spec)
    if channels is None or channels == built:
        return model, spec
    if built != RGB or channels != WITH_PRIOR:
        raise UserError(f"--input_channels={channels} but --weight_dir {weight_dir} was built with input_channels "
                        f"{built} (a 3-channel checkpoint can be widened to 4, not the reverse)")
    wide_spec = {**spec, "kwargs": {**spec["kwargs"], "input_channels": WITH_PRIOR}}
    wide = build(wide_spec, size)
    copy_widened(model, wide)
    print(f"--input_channels=4: {weight_dir} widened to RGB + prior mask (channel 4's weights start at zero)")
    return wide, wide_spec
