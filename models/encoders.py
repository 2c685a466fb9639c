"""Encoders by name: an RGB image in [0, 1] -> feature maps at strides 4, 8, 16 and 32.

``lightnet`` is the project's own encoder (models/lightnet.py), built inline so that every
checkpoint written before encoders had names keeps loading. The others are keras.applications
mobile networks, built as one nested sub-model named ``encoder`` behind a Rescaling layer (their
[-1, 1] input scale lives in the model, so every checkpoint and export still takes [0, 1]). Their
taps are the outputs of the last block at each stride (the project and add layers), the narrowest
point there, which keeps the decoder cheap.

The architecture is built with random weights: a checkpoint brings its own, and a fresh model
gets ImageNet weights from ``load_encoder_weights`` (never inside a checkpoint's rebuild, which
must not download anything).
"""
import os
import warnings
from dataclasses import dataclass

import keras
from keras import layers

import config
from models.blocks import BN_MOMENTUM
from models.channels import widened
from utils import UserError

ENCODER_LAYER = "encoder"
OWN_PREFIX = "enc_"  # the layers of lightnet's own encoder
STRIDES = (4, 8, 16, 32)
BLOCK_OUTPUT_ENDINGS = ("project_bn", "_add")
PROBE_SIZE = 224  # ImageNet weights are for 224; they load at any size


@dataclass(frozen=True)
class Encoder:
    """A keras.applications constructor and its arguments."""
    application: str
    alpha: float
    minimalistic: bool = False

    def construct(self, size, weights=None, channels=3):
        shape = (size, size, channels)
        if self.application == "MobileNetV2":
            return keras.applications.MobileNetV2(input_shape=shape, alpha=self.alpha, include_top=False,
                                                  weights=weights)
        constructor = getattr(keras.applications, self.application)
        return constructor(input_shape=shape, alpha=self.alpha, minimalistic=self.minimalistic, include_top=False,
                           weights=weights, include_preprocessing=False)

    def keras_file(self):
        """The file name Keras downloads for ``weights="imagenet"`` (into ~/.keras/models/)."""
        if self.application == "MobileNetV2":
            return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(self.alpha)}_224_no_top.h5"
        kind = "large" if self.application.endswith("Large") else "small"
        return f"weights_mobilenet_v3_{kind}{'_minimalistic' if self.minimalistic else ''}_224_{self.alpha}" \
               f"_float_no_top_v2.h5"


ENCODERS = {
    "mobilenetv2_035": Encoder("MobileNetV2", 0.35),
    "mobilenetv2_050": Encoder("MobileNetV2", 0.5),
    "mobilenetv2_075": Encoder("MobileNetV2", 0.75),
    "mobilenetv2_100": Encoder("MobileNetV2", 1.0),
    "mobilenetv2_140": Encoder("MobileNetV2", 1.4),
    "mobilenetv3small_075": Encoder("MobileNetV3Small", 0.75),
    "mobilenetv3small_100": Encoder("MobileNetV3Small", 1.0),
    "mobilenetv3small_minimal_100": Encoder("MobileNetV3Small", 1.0, minimalistic=True),
    "mobilenetv3large_100": Encoder("MobileNetV3Large", 1.0),
    "mobilenetv3large_minimal_100": Encoder("MobileNetV3Large", 1.0, minimalistic=True),
}
OWN = config.OWN_ENCODER


def names():
    return list(config.ENCODERS)


def lookup(name):
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder '{name}'; valid: {', '.join(names())}")
    return ENCODERS[name]


def taps(base, size):
    """Names of the last block output at each of STRIDES in ``base`` built at ``size``."""
    found = {}
    for layer in base.layers:
        shape = layer.output.shape
        if len(shape) == 4 and layer.name.lower().endswith(BLOCK_OUTPUT_ENDINGS) and size % shape[1] == 0:
            found[size // shape[1]] = layer.name
    missing = [s for s in STRIDES if s not in found]
    if missing:
        raise ValueError(f"{base.name} has no block output at stride(s) {missing}")
    return [found[s] for s in STRIDES]


def feature_model(name, size, channels=3):
    """The nested encoder sub-model: [-1, 1] RGB (and the prior mask as channel 4 when ``channels`` is 4)
    -> [stride 4, 8, 16, 32 features], random weights."""
    with warnings.catch_warnings():  # keras.applications warns that it "usually expects 1 or 3 input channels"
        warnings.simplefilter("ignore")
        base = lookup(name).construct(size, channels=channels)
    for layer in base.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = BN_MOMENTUM  # Keras's 0.999 lags behind the weights in runs of a few thousand steps
    outputs = [base.get_layer(n).output for n in taps(base, size)]
    return keras.Model(base.input, outputs, name=ENCODER_LAYER)


def features(image, name):
    """Feature maps at strides 4, 8, 16, 32 for ``image`` (a Keras tensor, RGB in [0, 1])."""
    size = image.shape[1]
    x = layers.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(image)
    return feature_model(name, size, image.shape[-1])(x)


def encoder_layers(model):
    """The layers of ``model``'s encoder, whichever it is (what --freeze_encoder freezes)."""
    return [layer for layer in model.layers if layer.name == ENCODER_LAYER or layer.name.startswith(OWN_PREFIX)]


def load_encoder_weights(model, name, weights):
    """Put ImageNet weights (``"imagenet"``: Keras downloads; or a file's path) into ``model``'s encoder; with a
    fourth input channel (the prior mask) the first convolution's weights for it are zero."""
    encoder = lookup(name)
    if weights != "imagenet" and not os.path.isfile(weights):
        raise UserError(f"--encoder_weights: no such file: {weights} (give imagenet, none or a weights file)")
    try:
        source = encoder.construct(PROBE_SIZE, weights=weights)
    except Exception as err:  # noqa: BLE001  (Keras raises plain Exceptions for a failed download)
        raise UserError(weight_error(name, encoder, weights, err)) from None
    nested = model.get_layer(ENCODER_LAYER)
    for layer in nested.layers:
        if layer.weights:
            layer.set_weights([widened(w, v.shape) for w, v in zip(source.get_layer(layer.name).get_weights(),
                                                                    layer.weights)])


def weight_error(name, encoder, weights, err):
    if weights == "imagenet":
        return (f"--encoder_weights=imagenet: Keras could not download {encoder.keras_file()} (no network?); "
                f"give a copy of that file with --encoder_weights=PATH")
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    return f"--encoder_weights={weights} does not fit --encoder={name}: {reason[:200]}"
