"""Networks by name: ``models.create('lightnet', 256)``; checkpoints that rebuild themselves."""
from models import lightnet  # noqa: F401  (registers the builders)
from models.checkpoint import load_checkpoint, save_checkpoint
from models.registry import create, names

__all__ = ["create", "names", "load_checkpoint", "save_checkpoint"]
