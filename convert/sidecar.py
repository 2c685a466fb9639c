"""``NAME.json`` beside every ``NAME.tflite``: all an app needs to feed the model and read its output."""
import json

from data.preprocess import CHANNEL_ORDER, INPUT_OFFSET, INPUT_SCALE
from models.predictors import SIDECAR_FORMAT, sidecar_path
from utils import write_bytes

DECODING = {
    "softmax": "probabilities; person probability = channel {fg}",
    "logits": "raw logits; person where logit[{fg}] > logit[{bg}], probability = sigmoid(logit[{fg}] - logit[{bg}])",
    "sigmoid": "person probability in channel {fg}",
    "logit": "one raw logit; person where logit > 0, probability = sigmoid(logit)",
}


def output_kind(channels, with_activation):
    """How to read the output: softmax / logits (two channels), sigmoid / logit (one channel).
    (A sigsoftmax model's probabilities read like softmax ones.)"""
    if with_activation:
        return "sigmoid" if channels == 1 else "softmax"
    return "logit" if channels == 1 else "logits"


def prior_channel(size):
    """What channel 4 of a 4-channel (video) model's input is."""
    return {"channel": 3, "name": "prior",
            "meaning": f"the previous frame's person probability in [0, 1] at {size}x{size}: this model's own "
                       "output for that frame, decoded as 'output' says",
            "first_frame": "zeros (an empty prior), also for a still photo",
            "motion": "most stable when moved along the optical flow from the previous frame to this one first "
                      "(as --infer_video's --motion_compensation does: OpenCV DIS at this size, then remap)",
            "normalization": "none: fed as it is; scale and offset apply to channels 0-2 only"}


def describe(size, channels, kind, variant, weights, spec, parity, gpu):
    """The sidecar's content for one exported file."""
    fg = 0 if kind in ("sigmoid", "logit") else 1
    prior = {"prior": prior_channel(size)} if channels == 4 else {}
    return {
        "format": SIDECAR_FORMAT,
        "input": {"shape": [1, size, size, channels], "layout": "NHWC", "dtype": "float32",
                  "channel_order": CHANNEL_ORDER + ("+prior" if prior else ""), "scale": INPUT_SCALE,
                  "offset": INPUT_OFFSET, "normalization": "x = pixel * scale + offset (pixel 0..255)",
                  "resize": f"whole image stretched to {size}x{size}, bilinear", **prior},
        "output": {"shape": [1, size, size, 1 if fg == 0 else 2], "dtype": "float32", "kind": kind,
                   "foreground_channel": fg, "decode": DECODING[kind].format(fg=fg, bg=1 - fg)},
        "variant": variant,
        "source_weights": weights,
        "model": spec,
        "parity": parity,
        "gpu_delegate": gpu,
    }


def write_sidecar(tflite_path, content):
    path = sidecar_path(tflite_path)
    write_bytes(path, (json.dumps(content, indent=2) + "\n").encode())
    return path
