"""Losses and metrics for segmentation and matting, by name.

The training objective is

    total = (1 - boundary_weight) * segmentation + boundary_weight * boundary
    segmentation = base + dice_weight * dice + matting_weight * matting
    boundary (--boundary_loss): BCE (the seed's) or focal on the boundary head.
    base (--loss): combined = focal_weight * focal + (1 - focal_weight) * ce, or ce, focal, dice alone.
"""
import keras

from losses.boundary import BOUNDARY_LOSSES, boundary_focal_loss, boundary_loss, boundary_target
from losses.matting import matting_loss
from losses.metrics import ForegroundIoU, PixelAccuracy
from losses.segmentation import cross_entropy, dice_loss, focal_loss

LOSS_KINDS = ("combined", "ce", "focal", "dice")
TERMS = {"ce": cross_entropy, "focal": focal_loss, "dice": dice_loss, "matting": matting_loss}


@keras.saving.register_keras_serializable(package="portrait")
class SegmentationLoss(keras.losses.Loss):
    """The mask output's loss: ``kind`` (see module docstring) plus the weighted Dice and matting terms."""

    def __init__(self, kind="combined", focal_weight=0.8, matting_weight=0.0, dice_weight=0.0,
                 name="segmentation_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if kind not in LOSS_KINDS:
            raise ValueError(f"unknown loss '{kind}'; valid: {', '.join(LOSS_KINDS)}")
        self.kind, self.focal_weight, self.matting_weight = kind, focal_weight, matting_weight
        self.dice_weight = dice_weight

    def call(self, y_true, y_pred):
        if self.kind == "combined":
            loss = self.focal_weight * focal_loss(y_true, y_pred) + (1 - self.focal_weight) * cross_entropy(y_true, y_pred)
        else:
            loss = TERMS[self.kind](y_true, y_pred)
        if self.dice_weight:
            loss = loss + self.dice_weight * dice_loss(y_true, y_pred)
        if self.matting_weight:
            loss = loss + self.matting_weight * matting_loss(y_true, y_pred)
        return loss

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "focal_weight": self.focal_weight,
                "matting_weight": self.matting_weight, "dice_weight": self.dice_weight}


@keras.saving.register_keras_serializable(package="portrait")
class LossTerm(keras.metrics.Mean):
    """One loss term, tracked by its own name (ce, focal, dice, matting) beside the total."""

    def __init__(self, term="ce", name=None, **kwargs):
        super().__init__(name=name or term, **kwargs)
        self.term = term

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(TERMS[self.term](y_true, y_pred))

    def get_config(self):
        return {**super().get_config(), "term": self.term}


def term_names(kind, matting_weight, dice_weight=0.0):
    """The segmentation terms a run logs: those its loss uses, and ce always, as the common yardstick."""
    names = {"combined": ["focal", "ce"], "ce": ["ce"], "focal": ["focal", "ce"], "dice": ["dice", "ce"]}[kind]
    if dice_weight and "dice" not in names:
        names = names + ["dice"]
    return names + (["matting"] if matting_weight else [])


def mask_metrics(kind="ce", matting_weight=0.0, dice_weight=0.0):
    return [PixelAccuracy(), ForegroundIoU()] + [LossTerm(t) for t in term_names(kind, matting_weight, dice_weight)]


__all__ = ["SegmentationLoss", "LossTerm", "mask_metrics", "BOUNDARY_LOSSES", "boundary_focal_loss", "boundary_loss",
           "boundary_target", "cross_entropy", "dice_loss", "focal_loss", "matting_loss", "ForegroundIoU",
           "PixelAccuracy", "LOSS_KINDS"]
