"""Model registry: builders registered by name, created from a serialisable spec.

A spec is the builder's name plus its keyword arguments. It travels inside every checkpoint
(see models/checkpoint.py), so a checkpoint can rebuild its own network at any input size.
"""
from config import MODELS

_BUILDERS = {}


def register(builder):
    """Register a builder ``fn(input_shape, **kwargs) -> keras.Model`` under its function name, one of
    config.MODELS (the --model choices)."""
    if builder.__name__ not in MODELS:
        raise ValueError(f"model '{builder.__name__}' is not in config.MODELS")
    _BUILDERS[builder.__name__] = builder
    return builder


def names():
    return list(MODELS)


def builder(name):
    if name not in MODELS:
        raise ValueError(f"unknown model '{name}'; valid names: {', '.join(names())}")
    return _BUILDERS[name]


def create(name, input_shape, **kwargs):
    """Build model ``name`` for square inputs of side ``input_shape``."""
    return builder(name)(input_shape, **kwargs)
