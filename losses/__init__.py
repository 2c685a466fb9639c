"""Losses and metrics for segmentation and matting, by name."""
from losses.metrics import ForegroundIoU, PixelAccuracy
from losses.segmentation import cross_entropy

LOSSES = {"ce": cross_entropy}


def create_loss(name):
    if name not in LOSSES:
        raise ValueError(f"unknown loss '{name}'; valid: {', '.join(sorted(LOSSES))}")
    return LOSSES[name]


def create_metrics():
    return [PixelAccuracy(), ForegroundIoU()]


__all__ = ["create_loss", "create_metrics", "cross_entropy", "ForegroundIoU", "PixelAccuracy"]
