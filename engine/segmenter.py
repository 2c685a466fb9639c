"""The Python API: a model file as a function from a photo to the person's alpha.

    from engine.segmenter import Segmenter
    seg = Segmenter("trained_models/initial.tflite")   # or an .h5; refine= and input_size= as options
    alpha = seg(rgb)                                  # HxW float32 in [0, 1], for rgb uint8 HxWx3

``--infer_single_img`` and ``--evaluate`` run models through it, so the API is what the command line does.
A ``.tflite`` runs in LiteRT without importing TensorFlow. For the cut-out and the composite, see
``postprocess.cutout``: ``cutout(rgb, alpha)`` and ``replace_background(rgb, alpha, "#00A0FF")``.
"""
from typing import Optional

import numpy as np

from config import WITH_PRIOR, OutputConfig
from data.preprocess import model_input
from models.predictors import load_predictor
from postprocess.refine import default_band, photo_alpha


class Segmenter:
    """``weights`` (a ``.h5`` checkpoint or a ``.tflite`` export with its sidecar) loaded once.

    ``refine``: the refiner of the alpha at the photo's resolution (postprocess/refine.py); ``input_size``:
    the side a ``.h5`` runs at (None: the size it was trained at; a ``.tflite`` has its own);
    ``trimap_band``: the refined band's half-width in pixels (None: a share of each photo's short side).
    A 4-channel video model runs photos with an empty prior, as a video's first frame does.
    """

    def __init__(self, weights: str, refine: str = OutputConfig.refine, input_size: Optional[int] = None,
                 trimap_band: Optional[int] = None):
        self.predictor = load_predictor(weights, input_size)
        self.refine, self.trimap_band = refine, trimap_band
        if self.predictor.channels == WITH_PRIOR:
            print(f"note: {weights} takes RGB + the previous frame's mask (a video model); still photos get an "
                  f"empty prior, as a video's first frame does (--infer_video feeds the prior)")

    @property
    def size(self) -> int:
        return self.predictor.size

    def probability(self, rgb: np.ndarray) -> np.ndarray:
        """The person's probability at the model's input size (S, S), for uint8 RGB (H, W, 3)."""
        batch = model_input(rgb, self.predictor.size)[None]
        if self.predictor.channels == WITH_PRIOR:
            batch = np.concatenate([batch, np.zeros_like(batch[..., :1])], axis=-1)
        return self.predictor(batch)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """The person's alpha (H, W), float32 in [0, 1], for uint8 RGB (H, W, 3)."""
        band = self.trimap_band or default_band(rgb.shape)
        return photo_alpha(rgb, self.probability(rgb), self.refine, band)
