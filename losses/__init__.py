"""Losses and metrics for segmentation and matting, by name.

The training objective is

    total = (1 - boundary_weight) * segmentation + boundary_weight * boundary
    segmentation = base + dice_weight * dice + matting_weight * matting
    boundary (--boundary_loss): BCE (the seed's) or focal on the boundary head.
    base (--loss): combined = focal_weight * focal + (1 - focal_weight) * ce, or ce, focal, dice alone.
    focal (--focal_gamma, --focal_alpha): Lin et al.'s, scaled by |y - p|^gamma (on binary mattes the
        same as (1 - p_t)^gamma; on soft ones its optimum stays at the label), gamma 2, no class weights.
    matting (Deep Image Matting, losses/matting.py): 0.5 alpha prediction + 0.5 compositional + 1.0
        gradient; the compositional term swaps in another sample's background when the target
        carries F and B (a pseudo-alpha cache), else cuts the person out of the photo with each alpha.

Every loss is computed from logits: the segmentation terms from the model's training-only
``person_logit`` output, the boundary term from the boundary head's logit.
"""
import keras

from config import LOSSES, TrainConfig
from losses.boundary import BOUNDARY_LOSSES, boundary_focal_loss, boundary_loss
from losses.matting import TERMS as MATTING_TERMS
from losses.matting import alpha_prediction_loss, compositional_loss, gradient_loss, matting_loss
from losses.metrics import ForegroundIoU, PixelAccuracy
from losses.segmentation import cross_entropy, dice_loss, focal_loss, foreground, logit_of

TERMS = {"ce": cross_entropy, "focal": focal_loss, "dice": dice_loss, "matting": matting_loss,
         **{f"matting_{name}": term for name, term in MATTING_TERMS.items()}}


@keras.saving.register_keras_serializable(package="portrait")
class SegmentationLoss(keras.losses.Loss):
    """The person logit's loss: ``kind`` (see module docstring) plus the weighted Dice and matting terms."""

    def __init__(self, kind=TrainConfig.loss, focal_weight=TrainConfig.focal_weight, matting_weight=0.0,
                 dice_weight=TrainConfig.dice_weight, focal_gamma=TrainConfig.focal_gamma,
                 focal_alpha=TrainConfig.focal_alpha, name="segmentation_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if kind not in LOSSES:
            raise ValueError(f"unknown loss '{kind}'; valid: {', '.join(LOSSES)}")
        self.kind, self.focal_weight, self.matting_weight = kind, focal_weight, matting_weight
        self.dice_weight, self.focal_gamma, self.focal_alpha = dice_weight, focal_gamma, focal_alpha

    def focal(self, y_true, y_pred):
        return focal_loss(y_true, y_pred, self.focal_gamma, self.focal_alpha)

    def base(self, y_true, y_pred):
        if self.kind == "combined":
            ce = cross_entropy(y_true, y_pred)
            return self.focal_weight * self.focal(y_true, y_pred) + (1 - self.focal_weight) * ce
        if self.kind == "focal":
            return self.focal(y_true, y_pred)
        return TERMS[self.kind](y_true, y_pred)

    def call(self, y_true, y_pred):
        loss = self.base(y_true, y_pred)
        if self.dice_weight:
            loss = loss + self.dice_weight * dice_loss(y_true, y_pred)
        if self.matting_weight:
            loss = loss + self.matting_weight * matting_loss(y_true, y_pred)
        return loss

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "focal_weight": self.focal_weight,
                "matting_weight": self.matting_weight, "dice_weight": self.dice_weight,
                "focal_gamma": self.focal_gamma, "focal_alpha": self.focal_alpha}


@keras.saving.register_keras_serializable(package="portrait")
class LossTerm(keras.metrics.Mean):
    """One loss term, tracked by its own name (ce, focal, dice, matting and its three parts) beside the total,
    from the mask output's probabilities (the same value as from the logit, up to clipping at 1e-7).

    ``options`` are the term's keyword arguments (the focal term's gamma and alpha_weight)."""

    def __init__(self, term="ce", options=None, name=None, **kwargs):
        super().__init__(name=name or term, **kwargs)
        self.term, self.options = term, dict(options or {})

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(TERMS[self.term](y_true, logit_of(foreground(y_pred)), **self.options),
                                    sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "term": self.term, "options": self.options}


def term_names(kind, matting_weight, dice_weight=0.0):
    """The segmentation terms a run logs: those its loss uses, and ce always, as the common yardstick; with the
    matting loss also its unweighted parts, matting_alpha, matting_composition and matting_gradient."""
    names = {"combined": ["focal", "ce"], "ce": ["ce"], "focal": ["focal", "ce"], "dice": ["dice", "ce"]}[kind]
    if dice_weight and "dice" not in names:
        names = names + ["dice"]
    return names + (["matting", *(f"matting_{name}" for name in MATTING_TERMS)] if matting_weight else [])


def mask_metrics(kind="ce", matting_weight=0.0, dice_weight=TrainConfig.dice_weight,
                 focal_gamma=TrainConfig.focal_gamma, focal_alpha=TrainConfig.focal_alpha):
    focal = {"gamma": focal_gamma, "alpha_weight": focal_alpha}
    return [PixelAccuracy(), ForegroundIoU()] + [LossTerm(t, focal if t == "focal" else None)
                                                 for t in term_names(kind, matting_weight, dice_weight)]


__all__ = ["SegmentationLoss", "LossTerm", "mask_metrics", "BOUNDARY_LOSSES", "boundary_focal_loss", "boundary_loss",
           "cross_entropy", "dice_loss", "focal_loss", "matting_loss", "alpha_prediction_loss",
           "compositional_loss", "gradient_loss", "ForegroundIoU",
           "PixelAccuracy"]
