"""Models to score side by side: ours (checkpoints or exports with sidecars) and peers' .tflite files.

Each becomes ``alpha(image) -> foreground probability (H, W)`` at the photo's own resolution. A peer
without a sidecar is run by MediaPipe's convention: RGB in [0, 1] resized to its input, the person's
probability in its last output channel, upsampled bilinearly.
"""
import cv2
import numpy as np

from engine.segmenter import Segmenter
from models.predictors import LiteRTModel


def ours(path):
    return Segmenter(path, refine="none")


def peer(path):
    model = LiteRTModel(path)
    height, width = model.input["shape"][1:3]

    def alpha(image):
        x = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        prob = model(x[None])[0, ..., -1]
        return cv2.resize(prob, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    return alpha
