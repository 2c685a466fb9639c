"""lightnet, a light encoder-decoder for real-time portrait segmentation on phones, and its variants:
lightnet_ctx (a global-context gate), lightnet_deep (a deeper encoder) and mattingnet (a soft-alpha head).

Encoder: a 3x3 stride-2 stem and a depthwise stride-2 step reach stride 4 at once (full-resolution
layers dominate the cost on a phone), then MobileNetV2-style inverted residuals (expansion 3) down
to stride 32. Decoder: bilinear x2 upsampling, concatenation with the encoder's features at
strides 16, 8 and 4, and a depthwise-separable block at each; logits at stride 4, then bilinear x4.
At 224x224 its float32 .tflite runs about as fast as MediaPipe's selfie segmenter (docs/BENCHMARKS.md).

mattingnet adds a soft-alpha head (``refiner``): at full resolution, two light 3x3 stages over the
upsampled coarse logits and the input image predict a residual added to those logits, so the outline
can follow the photo's own edges rather than the bilinear stride-4 map.
"""
import keras
from keras import layers

from config import ACTIVATIONS
from models import blocks, encoders
from models.registry import register

STEM_CHANNELS, STRIDE4_CHANNELS = 16, 24
# (expansion, channels, repeats, first stride) per encoder stage after stride 4.
ENCODER_STAGES = ((3, 32, 2, 2), (3, 64, 3, 2), (3, 96, 2, 1), (3, 128, 2, 2))
# lightnet_deep: three more blocks where a block costs few parameters (strides 8 and 16).
DEEP_STAGES = ((3, 32, 3, 2), (3, 64, 5, 2), (3, 96, 2, 1), (3, 128, 2, 2))
DECODER_CHANNELS = (48, 32, 24)
REFINER_CHANNELS = 16
ENCODER_PREFIX = encoders.OWN_PREFIX
OUTPUT_CHANNELS = {"softmax": 2, "sigsoftmax": 2, "sigmoid": 1}


def encoder(image, width, stages=ENCODER_STAGES):
    """Return the feature maps at strides 4, 8, 16 and 32."""
    x = blocks.conv_bn(image, blocks.scaled(STEM_CHANNELS, width), strides=2, name=f"{ENCODER_PREFIX}stem")
    x = blocks.depthwise_bn(x, strides=2, name=f"{ENCODER_PREFIX}down")
    x = blocks.conv_bn(x, blocks.scaled(STRIDE4_CHANNELS, width), kernel=1, name=f"{ENCODER_PREFIX}down_pw")
    features = [x]
    for stage, (expansion, channels, repeats, stride) in enumerate(stages):
        if stride == 2 and stage > 0:
            features.append(x)
        for i in range(repeats):
            x = blocks.inverted_residual(x, blocks.scaled(channels, width), expansion, stride if i == 0 else 1,
                                         name=f"{ENCODER_PREFIX}s{stage}b{i}")
    return features + [x]


def global_context(x, filters, name):
    """LR-ASPP (MobileNetV3's segmentation head): 1x1 features gated by the whole image's average."""
    gate = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool")(x)
    gate = layers.Conv2D(filters, 1, activation="sigmoid", name=f"{name}_gate")(gate)
    x = blocks.conv_bn(x, filters, kernel=1, name=name)
    return layers.Multiply(name=f"{name}_mul")([x, gate])


def decoder(features, width, context=False):
    """Fuse the deepest feature map back up to stride 4 through the skip connections."""
    *skips, x = features
    filters = blocks.scaled(DECODER_CHANNELS[0], width)
    x = global_context(x, filters, "dec_in") if context else blocks.conv_bn(x, filters, kernel=1, name="dec_in")
    for level, (skip, channels) in enumerate(zip(reversed(skips), DECODER_CHANNELS)):
        x = blocks.upsample(x, name=f"dec{level}_up")
        x = layers.Concatenate(name=f"dec{level}_cat")([x, skip])
        x = blocks.separable_bn(x, blocks.scaled(channels, width), name=f"dec{level}")
    return x


def boundary_head(features):
    """Auxiliary training head: the logit that a pixel lies on the person's outline."""
    x = layers.Conv2D(1, 1, name="boundary_head")(features)
    return blocks.upsample(x, factor=4, name="boundary", dtype=blocks.OUTPUT_DTYPE)


def soft_alpha_head(image, coarse, channels=REFINER_CHANNELS):
    """The soft-alpha head: at full resolution, a 3x3 convolution and a depthwise-separable 3x3 block over the
    coarse logits and the input, then a 1x1 convolution to a residual added to the coarse logits. The
    residual starts at zero, so a fresh head passes the coarse logits through. (A 3x3 last convolution to one
    channel cost as much again as the rest of the head in XNNPACK: docs/TRAINING.md, Matting.)"""
    x = layers.Concatenate(name="refine_cat")([coarse, image])  # coarse first: a widened 4th input channel goes last
    x = blocks.conv_bn(x, channels, name="refine0")
    x = blocks.separable_bn(x, channels, name="refine1")
    residual = layers.Conv2D(coarse.shape[-1], 1, kernel_initializer="zeros", name="refine_out")(x)
    return layers.Add(name="logits")([coarse, residual])


def _build(name, input_shape, activation, width, batch_size, with_boundary, encoder_name, context=False,
           stages=ENCODER_STAGES, input_channels=3, refine=False):
    if input_shape % 32:
        raise ValueError(f"input_shape must be a multiple of 32, got {input_shape}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation '{activation}'; valid: {', '.join(ACTIVATIONS)}")
    image = blocks.input_layer(input_shape, channels=input_channels, batch_size=batch_size)  # 4: RGB + prior mask
    own = encoder_name == encoders.OWN
    x = decoder(encoder(image, width, stages) if own else encoders.features(image, encoder_name), width, context)
    logits = layers.Conv2D(OUTPUT_CHANNELS[activation], 1, name="head")(x)
    logits = blocks.upsample(logits, factor=4, name="coarse_logits" if refine else "logits")
    if refine:
        logits = soft_alpha_head(image, logits)
    outputs = {"mask": blocks.output_activation(logits, activation),
               "person_logit": blocks.PersonLogit(activation, name="person_logit", dtype=blocks.OUTPUT_DTYPE)(logits)}
    if with_boundary:
        outputs["boundary"] = boundary_head(x)
    return keras.Model(image, outputs, name=name)


@register
def lightnet(input_shape, activation="softmax", width=1.0, boundary=False, batch_size=None, encoder=encoders.OWN,
             input_channels=3):
    """Segmentation network: 2-channel softmax (background, person) by default, or sigsoftmax, or
    1-channel sigmoid. Outputs {"mask": probabilities, "person_logit": the logit the losses take}, plus
    "boundary" (a training-only head's logit) with ``boundary``; ``models.checkpoint.mask_model`` gives the
    plain image -> mask model."""
    return _build("lightnet", input_shape, activation, width, batch_size, boundary, encoder,
                  input_channels=input_channels)


@register
def mattingnet(input_shape, activation="sigmoid", width=1.0, boundary=False, batch_size=None, encoder=encoders.OWN,
               input_channels=3, refiner=True):
    """lightnet for soft mattes: one sigmoid channel and, with ``refiner``, the full-resolution soft-alpha
    head. Checkpoints written before the head existed have no ``refiner`` in their spec and rebuild
    without it (models/checkpoint.py)."""
    return _build("mattingnet", input_shape, activation, width, batch_size, boundary, encoder,
                  input_channels=input_channels, refine=refiner)


@register
def lightnet_ctx(input_shape, activation="softmax", width=1.0, boundary=False, batch_size=None, encoder=encoders.OWN,
                 input_channels=3):
    """lightnet whose decoder starts from an LR-ASPP global-context gate (MobileNetV3) at stride 32:
    each deep feature is weighed by the whole image's average, for under 2 % more parameters."""
    return _build("lightnet_ctx", input_shape, activation, width, batch_size, boundary, encoder, context=True,
                  input_channels=input_channels)


@register
def lightnet_deep(input_shape, activation="softmax", width=1.0, boundary=False, batch_size=None, encoder=encoders.OWN,
                  input_channels=3):
    """lightnet with five blocks instead of three at stride 16 and three instead of two at stride 8:
    more depth and a wider view for 17 % more parameters, where the extra layers are cheap to run."""
    return _build("lightnet_deep", input_shape, activation, width, batch_size, boundary, encoder, stages=DEEP_STAGES,
                  input_channels=input_channels)
