"""Building blocks, restricted to ops the TFLite GPU delegate runs.

Convolutions, depthwise convolutions, batch norm (folded into the convolutions on export),
ReLU6, ADD, CONCATENATION and bilinear resizing without align_corners.
"""
import keras
from keras import layers

# Moving statistics adapt within a few hundred steps, so short runs on small sets validate sensibly.
BN_MOMENTUM = 0.9
# The model's outputs, which the losses take: float32 even when --mixed_precision computes the rest in float16.
OUTPUT_DTYPE = "float32"


def conv_bn(x, filters, kernel=3, strides=1, relu=True, name=None):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x) if relu else x


def depthwise_bn(x, strides=1, name=None):
    x = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_dwbn")(x)
    return layers.ReLU(6.0, name=f"{name}_dwrelu")(x)


def inverted_residual(x, filters, expansion, strides, name):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 linear projection, residual when shapes allow."""
    in_channels = x.shape[-1]
    y = conv_bn(x, in_channels * expansion, kernel=1, name=f"{name}_expand") if expansion != 1 else x
    y = depthwise_bn(y, strides=strides, name=name)
    y = conv_bn(y, filters, kernel=1, relu=False, name=f"{name}_project")
    if strides == 1 and in_channels == filters:
        y = layers.Add(name=f"{name}_add")([x, y])
    return y


def separable_bn(x, filters, name):
    """Depthwise 3x3 then pointwise 1x1, each with batch norm and ReLU6."""
    x = depthwise_bn(x, name=name)
    return conv_bn(x, filters, kernel=1, name=f"{name}_pw")


def upsample(x, name, factor=2, dtype=None):
    """Bilinear upsampling (half-pixel centres, no align_corners: accepted by the GPU delegate)."""
    return layers.UpSampling2D(factor, interpolation="bilinear", name=name, dtype=dtype)(x)


def scaled(channels, width):
    """Channel count scaled by a width multiplier, rounded to a multiple of 8 (GPU slices of 4)."""
    return max(8, int(channels * width + 4) // 8 * 8)


@keras.saving.register_keras_serializable(package="portrait")
class SigSoftmax(layers.Layer):
    """Sigsoftmax (Kanai et al. 2018): exp(z) * sigmoid(z), normalised over the channels.

    Computed as softmax(z + log sigmoid(z)), which is the same and stays finite for large |z|.
    """

    def call(self, logits):
        return keras.ops.softmax(logits + keras.ops.log_sigmoid(logits), axis=-1)


@keras.saving.register_keras_serializable(package="portrait")
class PersonLogit(layers.Layer):
    """The person's logit d, whose sigmoid is the person's probability under each output activation:
    z for sigmoid, z1 - z0 for softmax, and the same difference of z + log sigmoid(z) for sigsoftmax.
    The losses take it (training only; exports cut the model at 'probs' or 'logits')."""

    def __init__(self, output_activation="softmax", **kwargs):
        super().__init__(**kwargs)
        self.output_activation = output_activation

    def call(self, logits):
        if self.output_activation == "sigmoid":
            return logits
        if self.output_activation == "sigsoftmax":
            logits = logits + keras.ops.log_sigmoid(logits)
        return logits[..., 1:2] - logits[..., 0:1]

    def get_config(self):
        return {**super().get_config(), "output_activation": self.output_activation}


def output_activation(logits, activation):
    """The probability layer on top of the logits; named 'probs' so export can cut it off. Like every model
    output it computes in float32 (OUTPUT_DTYPE), also under a mixed-precision policy."""
    if activation == "sigsoftmax":
        return SigSoftmax(name="probs", dtype=OUTPUT_DTYPE)(logits)
    if activation == "softmax":
        return layers.Softmax(name="probs", dtype=OUTPUT_DTYPE)(logits)
    if activation == "sigmoid":
        return layers.Activation("sigmoid", name="probs", dtype=OUTPUT_DTYPE)(logits)
    raise ValueError(f"unknown activation '{activation}'; valid: softmax, sigsoftmax, sigmoid")


def input_layer(input_shape, channels=3, batch_size=None):
    return keras.Input((input_shape, input_shape, channels), batch_size=batch_size, name="image")
