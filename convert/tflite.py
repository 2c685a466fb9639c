"""TFLite export: every variant from one checkpoint, each checked against Keras before it is written.

Variants: float32, float16 weights, dynamic-range int8, full-integer int8 (calibrated on training
images); each with the model's output activation (``NAME.tflite``) or without it
(``NAME_without_softmax.tflite``, raw logits). ``--android=True`` writes ``NAME_android.tflite``:
float16, logits, static 1 x S x S x 3 input, every op on the GPU delegate's list (convert/gpu.py).
Every file takes float32 RGB in [0, 1], carries TFLite model metadata that MediaPipe Tasks' ImageSegmenter
reads (convert/metadata.py), and gets a sidecar ``NAME.json`` (convert/sidecar.py).
"""
import os
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from config import TRAINED_MODELS, VARIANTS, ExportConfig
from convert import metadata, refiner
from convert.converter import to_tflite
from convert.gpu import gpu_problems
from convert.sidecar import describe, output_kind, write_sidecar
from data.dataset import dataset_dirs, find_pairs
from data.images import read_image
from data.preprocess import model_input
from data.synthetic import portrait
from models.channels import with_prior_batches
from models.checkpoint import build, load_checkpoint, mask_model
from models.predictors import LiteRTModel, foreground
from utils import RunStopped, UserError, warn, writable_folder, write_bytes

# The error each variant is expected to bring, as a share of the output's scale (the logits' largest |value|,
# 1 for probabilities): max |diff| must stay within it, and masks are compared only where the Keras output is
# farther than it from the threshold, where the variant cannot flip a pixel that it computes within it.
# The float16 share is twice the largest measured on the shipped model (2.5e-2 on probabilities). An int8 file
# is judged by its masks alone, on every pixel: its outliers are large where its masks agree.
EXPECTED_ERROR = {"float32": 1e-4, "float16": 5e-2, "dynamic_int8": None, "int8": None}
MIN_MASK_IOU = {"float32": 0.99, "float16": 0.99, "dynamic_int8": 0.97, "int8": 0.97}
PARITY_IMAGES = 8
CALIBRATION_IMAGES = 64


def output_stem(tflite_name, weight_dir, size):
    """``--tflite_name`` without '.tflite', or ``TRAINED_MODELS/<weights stem>_<size>`` when empty."""
    if tflite_name:
        return tflite_name[: -len(".tflite")] if tflite_name.endswith(".tflite") else tflite_name
    stem = os.path.splitext(os.path.basename(weight_dir))[0]
    return os.path.join(TRAINED_MODELS, f"{stem}_{size}")


def file_name(stem, variant, with_activation):
    return f"{stem}{'' if variant == 'float32' else '_' + variant}{'' if with_activation else '_without_softmax'}.tflite"


def static_copy(model, spec, size):
    """The same network rebuilt with a static batch of 1 (the GPU delegate refuses dynamic shapes),
    without training-only heads."""
    static = build(spec, size, batch_size=1)
    static.set_weights(model.get_weights())
    return mask_model(static)


def without_softmax(model):
    return keras.Model(model.input, model.get_layer("logits").output, name=f"{model.name}_logits")


def two_sigmoids(model):
    """A 2-class softmax model rewritten as sigmoids of logit differences, the same probabilities:
    softmax(z)_k = sigmoid(z_k - z_other). The differences fold into the 1x1 head (linear, like the
    bilinear upsampling after it), so the file runs LOGISTIC where it ran SOFTMAX, which took a third
    of the float32 file's invoke time on a CPU (docs/BENCHMARKS.md). After mattingnet's soft-alpha head, which
    is not linear, a 1x1 convolution takes the differences instead. Other models are returned as they are."""
    if not isinstance(model.get_layer("probs"), keras.layers.Softmax) or model.output_shape[-1] != 2:
        return model
    difference = np.array([[1.0, -1.0], [-1.0, 1.0]], np.float32)
    logits = model.get_layer("logits")
    if not isinstance(logits, keras.layers.UpSampling2D):  # a soft-alpha head after the upsampling: no fold
        folded = keras.layers.Conv2D(2, 1, use_bias=False, name="logits_difference")
        x = folded(logits.output)
        folded.set_weights([difference[None, None]])
        return keras.Model(model.input, keras.layers.Activation("sigmoid", name="probs")(x), name=model.name)
    head = model.get_layer("head")
    kernel, bias = head.get_weights()
    folded = keras.layers.Conv2D(2, 1, name="head_difference")
    x = folded(head.input)
    folded.set_weights([kernel @ difference, bias @ difference])
    x = logits(x)
    return keras.Model(model.input, keras.layers.Activation("sigmoid", name="probs")(x), name=model.name)


def image_batches(dataset_dir, splits, size, limit):
    """Up to ``limit`` real images from the first of ``splits`` that has pairs, as float32 batches of 1,
    with where they came from; a synthetic portrait when there are none."""
    for split in splits:
        try:
            pairs = find_pairs(os.path.join(dataset_dir, split))
        except UserError:
            continue
        batches = [model_input(read_image(image, "--dataset_dir"), size)[None] for image, _ in pairs[:limit]]
        return batches, f"{len(batches)} images from {os.path.join(dataset_dir, split)}"
    image, _ = portrait(np.random.default_rng(0), size, size)
    return [model_input(image, size)[None]], "1 synthetic portrait"


def calibration_images(dataset_dir, size):
    """Up to CALIBRATION_IMAGES training images for full-integer quantisation and where they came from,
    with a warning when there are fewer."""
    calibration, source = image_batches(dataset_dir, ("training",), size, CALIBRATION_IMAGES)
    if len(calibration) < CALIBRATION_IMAGES:
        warn(f"--quantize=int8 is calibrated on {source} (up to {CALIBRATION_IMAGES} training images "
             f"are used): its activation ranges may not fit real photos")
    return calibration, source


def keras_reference(static, batches):
    """The Keras model's probabilities and logits on ``batches``, computed once for all files."""
    logits_model = without_softmax(static)
    return {"probs": [static(b, training=False).numpy() for b in batches],
            "logits": [logits_model(b, training=False).numpy() for b in batches],
            "models": {"probs": two_sigmoids(static), "logits": logits_model}}


def decision(output, kind):
    """How far each pixel of an output is from the person threshold, in the output's own units: probability
    - 0.5, the logit, or half the difference of two logits; a change of at most d in the output moves it at
    most d."""
    output = np.asarray(output, np.float32)
    if kind == "logits":
        return (output[..., 1] - output[..., 0]) / 2
    return output[..., 0] if kind == "logit" else foreground(output, kind) - 0.5


def parity(content, reference, batches, kind, variant):
    """The file's outputs against Keras's on ``batches``, by the rule of EXPECTED_ERROR: max |difference|,
    the mask IoU on the pixels decided beyond the expected error, whether it passed and why."""
    lite = LiteRTModel(model_content=content)
    outputs = [lite(batch) for batch in batches]
    expected = reference["logits" if kind in ("logits", "logit") else "probs"]
    diff = max(float(np.abs(o - e).max()) for o, e in zip(outputs, expected))
    scale = max(1.0, max(float(np.abs(e).max()) for e in expected))
    allowed = EXPECTED_ERROR[variant] and EXPECTED_ERROR[variant] * scale
    truth = np.concatenate([decision(e, kind).ravel() for e in expected])
    pred = np.concatenate([decision(o, kind).ravel() for o in outputs])
    decided = np.abs(truth) > (allowed or 0.0)
    truth, pred = truth[decided] > 0, pred[decided] > 0
    union = np.logical_or(truth, pred).sum()
    mask_iou = 1.0 if union == 0 else float(np.logical_and(truth, pred).sum() / union)
    close = allowed is None or diff <= allowed
    ok = close and mask_iou >= MIN_MASK_IOU[variant]
    masks = (f"mask IoU {mask_iou:.4f} {'>=' if mask_iou >= MIN_MASK_IOU[variant] else '<'} {MIN_MASK_IOU[variant]} on "
             f"{decided.mean():.0%} of pixels")
    why = (f"{masks}, every pixel" if allowed is None else
           f"max |diff| {diff:.2e} {'<=' if close else '>'} {allowed:.2e} ({EXPECTED_ERROR[variant]:g} of the output's "
           f"scale {scale:.3g}); {masks}, those farther than that from the threshold")
    return {"max_abs_diff": diff, "mask_iou": mask_iou, "min_mask_iou": MIN_MASK_IOU[variant],
            "max_abs_diff_allowed": allowed, "output_scale": scale, "compared_pixels": float(decided.mean()),
            "rule": "max |diff| within the variant's expected error (a share of the output's scale: the logits' "
                    "largest |value|, 1 for probabilities); person masks compared where Keras's output is farther "
                    "than that error from the threshold (int8: no max |diff|, masks on every pixel)",
            "why": why, "passed": bool(ok)}


@dataclass
class Export:
    path: str
    variant: str
    with_activation: bool
    kind: str = ""
    content: bytes = b""
    check: dict = field(default_factory=dict)
    gpu: list = field(default_factory=list)

    @property
    def label(self):
        return "android" if self.path.endswith("_android.tflite") else self.variant


def planned(stem, variants, android, channels):
    """The files to write: each variant with and without the activation, and the Android file."""
    todo = [(file_name(stem, v, act), v, act) for v in variants for act in (True, False)]
    todo += [(f"{stem}_android.tflite", "float16", False)] if android else []
    return [Export(path, v, act, output_kind(channels, act)) for path, v, act in todo]


def print_table(exports):
    print(f"  {'file':<48} {'KB':>6} {'max|diff|':>10} {'mask IoU':>9} {'needs':>6}  GPU  result")
    for e in exports:
        print(f"  {os.path.basename(e.path):<48} {len(e.content) / 1024:6.0f} {e.check['max_abs_diff']:10.2e} "
              f"{e.check['mask_iou']:9.4f} {e.check['min_mask_iou'] or '-':>6}  {'no ' if e.gpu else 'yes'}  "
              f"{'ok' if e.check['passed'] else 'FAILED'}" + (f": {e.check['why']}" if "why" in e.check else ""))


def failures(exports):
    for e in exports:
        if not e.check["passed"]:
            yield f"{os.path.basename(e.path)} disagrees with the Keras model ({e.check['why']})"
        if e.label == "android" and e.gpu:
            yield f"--android: {os.path.basename(e.path)} would not run on the GPU delegate: {'; '.join(e.gpu)}"


def convert(weights, export=ExportConfig()):
    """Export ``weights`` as the ``export.quantize`` variants (and with ``export.android`` the Android file) at
    ``export.input_shape`` (None: the size it was trained at) to ``export.tflite_name`` (see ``output_stem``),
    checked on images of the first ``export.dataset_dir`` folder; with ``export.refiner_size`` (width, height)
    also ``NAME_refiner.tflite`` (convert/refiner.py, trimap ``export.trimap_band`` px, None: postprocess/refine.py's
    default); returns the written paths.

    Nothing is written unless every file passes its parity check and, for Android and the refiner, the GPU check.
    """
    unknown = [v for v in export.quantize if v not in VARIANTS]
    if unknown:
        raise UserError(f"--quantize: unknown variant '{unknown[0]}'; valid: {', '.join(VARIANTS)}")
    model, spec = load_checkpoint(weights, export.input_shape)
    size = export.input_shape or spec["input_shape"]
    stem = output_stem(export.tflite_name, weights, size)
    writable_folder(os.path.dirname(stem) or ".", "--tflite_name")
    static = static_copy(model, spec, size)
    channels = static.output_shape[-1]
    images_from = dataset_dirs(export.dataset_dir)[0]
    batches, source = image_batches(images_from, ("testing", "training"), size, PARITY_IMAGES)
    if static.input_shape[-1] == 4:  # RGB + prior: each image with an empty prior and with its own mask as the prior
        batches, source = with_prior_batches(static, batches), f"{source}, each with an empty prior and its own mask"
    reference = keras_reference(static, batches)
    calibration, calibrated_on = calibration_images(images_from, size) if "int8" in export.quantize else ([], None)
    calibration = with_prior_batches(static, calibration)
    exports = planned(stem, export.quantize, export.android, channels)
    for e in exports:
        content = to_tflite(reference["models"]["probs" if e.with_activation else "logits"], e.variant, calibration)
        e.content = metadata.attach(content, metadata.describe(size, e.kind, e.label, weights, spec))
        e.check = parity(e.content, reference, batches, e.kind, e.variant)
        e.gpu = gpu_problems(e.content)
    refiners = [refiner.export(stem, *export.refiner_size, export.trimap_band, static, images_from, weights,
                               [e.path for e in exports])] if export.refiner_size else []
    print(f"parity against Keras on {source}" + "".join(f"; {os.path.basename(r.path)} against postprocess/refine.py "
                                                        f"on {r.check['images']}" for r in refiners) + ":")
    print_table(exports + refiners)
    problem = next(failures(exports), None) or next(refiner.failures(refiners), None)
    if problem:
        raise RunStopped(f"--convert: {problem}; nothing was written")
    for e in exports:
        gpu = {"runs_on_gpu_delegate": not e.gpu, "problems": e.gpu,
               "checked_with": "LiteRT model analyzer and the op list in convert/gpu.py"}
        write_bytes(e.path, e.content)
        calibrated = {"calibration": calibrated_on} if e.variant == "int8" else {}
        write_sidecar(e.path, describe(size, static.input_shape[-1], e.kind, e.label, weights, spec,
                                       dict(e.check, images=source, **calibrated), gpu))
        print(f"  wrote {e.path} and its sidecar .json")
    for r in refiners:
        refiner.write(r)
    return [e.path for e in exports + refiners]
