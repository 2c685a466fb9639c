"""Networks by name: ``models.create('lightnet', 256)``; checkpoints that rebuild themselves.

The package imports nothing itself, so that ``models.predictors`` runs a ``.tflite`` without Keras or
TensorFlow; ``models.create`` and the others import the networks when first used.
"""
import importlib

API = {"create": "models.registry", "names": "models.registry", "load_checkpoint": "models.checkpoint",
       "save_checkpoint": "models.checkpoint"}


def __getattr__(name):
    if name not in API:
        raise AttributeError(f"module 'models' has no attribute '{name}'")
    importlib.import_module("models.checkpoint")  # builds the networks: registers them all
    return getattr(importlib.import_module(API[name]), name)
