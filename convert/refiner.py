"""The phone refiner: postprocess/refine.py's guided refiner as a second small ``.tflite``.

``NAME_refiner.tflite`` takes the photo at a fixed H x W (float32 RGB in [0, 1]) and the model's person
probability at its own S x S, and returns the refined alpha at H x W: ``refine(photo, alpha, "guided",
band)`` of postprocess/refine.py, with every op on the GPU delegate's list (convert/gpu.py):

- the alpha is brought to H x W by RESIZE_BILINEAR (half-pixel centres), as engine/infer.py does;
- the fast guided filter's shrink (cv2 INTER_AREA by GUIDED_SUBSAMPLE) is a VALID AVERAGE_POOL_2D; its box
  filters are VALID AVERAGE_POOL_2Ds over a copy padded as cv2.BORDER_REFLECT pads (each border row or
  column picked by a one-hot DEPTHWISE_CONV_2D, then CONCATENATION: MIRROR_PAD is not on the list);
- channels are picked and combined by 1x1 CONV_2Ds with fixed weights (slices are not on the list), and the
  3x3 solve is Cramer's rule: cofactors over the determinant, elementwise;
- the trimap band (cv2.distanceTransform, DIST_L2 with its 3x3 mask, > band) is a dilation of the person
  and of the background by the very set of offsets within ``band`` of that distance, which is a union of
  rectangles, computed as a staircase of stacked 1-D MAX_POOL_2Ds: the band is cv2's, pixel for pixel.

It needs float32 arithmetic (see PRECISION): a GPU delegate must run it without precision loss.
"""
import os
from dataclasses import dataclass, field

import cv2
import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from convert import metadata
from convert.converter import to_tflite
from convert.gpu import gpu_problems
from convert.sidecar import write_sidecar
from data.dataset import find_pairs
from data.images import read_image
from data.preprocess import CHANNEL_ORDER, INPUT_OFFSET, INPUT_SCALE, model_input
from data.synthetic import portrait
from postprocess.refine import GUIDED_EPS, GUIDED_RADIUS_FRACTION, GUIDED_SUBSAMPLE, default_band, refine
from models.predictors import REFINER_SIDECAR_FORMAT, foreground
from utils import UserError, write_bytes

STEP_GAIN = 2.0 ** 13  # two clipped ramps of this slope make alpha >= 0.5 a 0/1 step in float32 and float16
PAIRS = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]  # the 3x3 covariance's unique entries, in this order
OFF_BY = 1e-3  # a pixel this far from postprocess/refine.py's is off; float32 rounding alone stays below 1e-4
MAX_OFF_SHARE = 1e-4  # at the band's outer edge a pixel is now and then in one band and not the other
MIN_MASK_IOU = 0.999
PARITY_PHOTOS = 8
PRECISION = ("float32: in float16 the variances E[g^2] - E[g]^2 of bright regions fall below its resolution "
             "(2^-11 at 0.8, against eps = 1e-3) and the 3x3 determinant (eps^3 on flat ground) flushes to 0; "
             "run the GPU delegate without precision loss (C: TfLiteGpuDelegateOptionsV2Default's "
             "MAX_PRECISION; Java: GpuDelegate.Options().setPrecisionLossAllowed(false))")


def filter_radius(height: int, width: int) -> int:
    """The box radius at the shrunk size, as postprocess/refine.py's ``refine`` and ``guided_filter`` choose it."""
    radius = max(1, round(GUIDED_RADIUS_FRACTION * min(height, width)))
    return max(1, radius // GUIDED_SUBSAMPLE)


def chamfer_rectangles(band: int):
    """(half height, half width) of the rectangles whose union is the set of offsets within ``band`` of a
    pixel by cv2.distanceTransform(DIST_L2, 3), tallest last; read from cv2 itself."""
    side = 2 * band + 3
    seed = np.ones((side, side), np.uint8)
    seed[band + 1, band + 1] = 0
    inside = cv2.distanceTransform(seed, cv2.DIST_L2, 3)[band + 1:, band + 1:] <= band
    reach = [int(np.flatnonzero(row).max()) for row in inside if row.any()]
    return [(dy, reach[dy]) for dy in range(len(reach)) if dy + 1 == len(reach) or reach[dy] > reach[dy + 1]]


def fixed_conv(x, matrix, bias=None, name=None):
    """A 1x1 convolution with fixed weights ``matrix`` (in channels x out channels): channels picked,
    summed or differenced, plus a constant ``bias``."""
    matrix = np.asarray(matrix, np.float32)
    layer = keras.layers.Conv2D(matrix.shape[1], 1, use_bias=bias is not None, trainable=False, name=name,
                                kernel_initializer=keras.initializers.Constant(matrix[None, None]),
                                bias_initializer=keras.initializers.Constant(np.asarray(bias or 0, np.float32)))
    return layer(x)


def select(x, indices, bias=None, name=None):
    """The channels ``indices`` of ``x``, in that order, plus ``bias``."""
    matrix = np.zeros((x.shape[-1], len(indices)), np.float32)
    matrix[indices, np.arange(len(indices))] = 1.0
    return fixed_conv(x, matrix, bias, name)


def one_hot(position: int, axis: int):
    """A depthwise kernel initializer: 1 at ``position`` along ``axis`` (1: rows, 2: columns), else 0."""
    def weights(shape, dtype=None):
        kernel = np.zeros(shape, np.float32)
        kernel[(position, 0) if axis == 1 else (0, position)] = 1.0
        return kernel
    return weights


def along(axis: int, length: int, other: int = 1):
    return (length, other) if axis == 1 else (other, length)


def pick(x, index: int, axis: int):
    """Row (axis 1) or column (axis 2) ``index`` of ``x``, by depthwise convolutions with one output: near the
    start, one over the rows (columns) up to ``index``; further on, a stride of ``index`` (two outputs, rows 0
    and ``index``) and a second convolution keeping the second."""
    if 2 * index < x.shape[axis]:
        return keras.layers.DepthwiseConv2D(along(axis, index + 1), along(axis, x.shape[axis]), use_bias=False,
                                            trainable=False, depthwise_initializer=one_hot(index, axis))(x)
    pair = keras.layers.DepthwiseConv2D(along(axis, 1), along(axis, index), use_bias=False, trainable=False,
                                        depthwise_initializer=one_hot(0, axis))(x)
    return keras.layers.DepthwiseConv2D(along(axis, 2), along(axis, 2), use_bias=False, trainable=False,
                                        depthwise_initializer=one_hot(1, axis))(pair)


def reflect_pad(x, radius: int, axis: int):
    """``x`` padded by ``radius`` along ``axis`` as cv2.BORDER_REFLECT pads (the edge pixel repeated)."""
    size = x.shape[axis]
    before = [pick(x, radius - 1 - t, axis) for t in range(radius)]
    after = [pick(x, size - 1 - u, axis) for u in range(radius)]
    return keras.layers.Concatenate(axis)([*before, x, *after])


def box(x, radius: int):
    """cv2.blur(x, (2r+1, 2r+1), borderType=cv2.BORDER_REFLECT), per channel: a mean over rows, then one
    over columns, each VALID over a reflected copy."""
    rows = pool(reflect_pad(x, radius, 1), keras.layers.AveragePooling2D, radius, True, "valid")
    return pool(reflect_pad(rows, radius, 2), keras.layers.AveragePooling2D, radius, False, "valid")


def multiply(a, b):
    return keras.layers.Multiply()([a, b])


def clip01(x):
    return keras.ops.minimum(keras.ops.relu(x), 1.0)


def step(alpha):
    """1 where ``alpha`` >= 0.5, else 0, from clipped ramps: every float32 (and float16) below 0.5 is at least
    2**-25 (2**-12) below it, which two ramps of slope STEP_GAIN take to 0."""
    ramp = clip01((alpha - 0.5) * STEP_GAIN + 1.0)
    return clip01((ramp - 1.0) * STEP_GAIN + 1.0)


def pool(x, kind, half: int, vertical: bool, padding: str = "same"):
    """A ``kind`` pooling over 2 * half + 1 rows (``vertical``) or columns, stride 1 (SAME: the border adds
    nothing). Rows are pooled with each row flattened into the channels, which runs several times faster on
    a CPU."""
    if not vertical:
        return kind((1, 2 * half + 1), strides=1, padding=padding)(x)
    height, width, channels = x.shape[1:]
    flat = keras.layers.Reshape((height, 1, width * channels))(x)
    pooled = kind((2 * half + 1, 1), strides=1, padding=padding)(flat)
    return keras.layers.Reshape((pooled.shape[1], width, channels))(pooled)


def max_pool(x, half: int, vertical: bool):
    return pool(x, keras.layers.MaxPooling2D, half, vertical)


def dilate(x, band: int):
    """Max of ``x`` over the offsets within ``band`` (cv2's chamfer distance): over each rectangle of
    ``chamfer_rectangles``, nested as max(tall_k, wide(...)) from the widest rectangle to the tallest."""
    tall, nested, previous = x, None, (0, 0)
    for height, width in chamfer_rectangles(band):
        tall = max_pool(tall, height - previous[0], True) if height > previous[0] else tall
        if nested is None:
            nested = tall
        else:
            nested = keras.layers.Maximum()([tall, max_pool(nested, previous[1] - width, False)])
        previous = (height, width)
    return max_pool(nested, previous[1], False) if previous[1] else nested


def band_mask(person, band: int):
    """1 within ``band`` px of the outline either side (postprocess/refine.py's trimap at 0.5), else 0."""
    both = fixed_conv(person, [[1.0, -1.0]], [0.0, 1.0], name="person_and_background")
    near = dilate(both, band)
    return fixed_conv(near, [[1.0], [1.0]], [-1.0], name="band")  # near the person and near the background


def statistics(small_image, small_alpha):
    """Per pixel of the shrunk photo g and alpha p: [g (3), p, g*p (3), g_i*g_j (6)]."""
    gp = keras.layers.Concatenate()([small_image, small_alpha])
    left = select(gp, [0, 1, 2] + [i for i, _ in PAIRS])
    right = select(gp, [3, 3, 3] + [j for _, j in PAIRS])
    return keras.layers.Concatenate()([gp, multiply(left, right)])


def covariances(means, eps: float):
    """[cov(g, p) (3), var(g) + eps*I (6, as PAIRS)] from the box means of ``statistics``."""
    left = select(means, [0, 1, 2] + [i for i, _ in PAIRS])
    right = select(means, [3, 3, 3] + [j for _, j in PAIRS])
    ridge = [0.0, 0.0, 0.0] + [eps if i == j else 0.0 for i, j in PAIRS]
    return keras.layers.Subtract()([select(means, list(range(4, 13)), ridge), multiply(left, right)])


def solve(k):
    """a = (var(g) + eps*I)^-1 cov(g, p) per pixel by Cramer's rule; ``k`` is ``covariances``'s output."""
    s = {pair: 3 + n for n, pair in enumerate(PAIRS)}
    s.update({(j, i): n for (i, j), n in s.items()})
    # cofactor (i, j) of a symmetric 3x3 matrix: s[i+1, j+1] s[i+2, j+2] - s[i+1, j+2] s[i+2, j+1], indices mod 3
    terms = [(s[(i + 1) % 3, (j + 1) % 3], s[(i + 2) % 3, (j + 2) % 3], s[(i + 1) % 3, (j + 2) % 3],
              s[(i + 2) % 3, (j + 1) % 3]) for i, j in PAIRS]
    products = multiply(select(k, [t for a, _, c, _ in terms for t in (a, c)]),
                        select(k, [t for _, b, _, d in terms for t in (b, d)]))
    signs = np.zeros((12, 6), np.float32)
    signs[0::2, :], signs[1::2, :] = np.eye(6), -np.eye(6)
    cofactors = fixed_conv(products, signs)
    both = keras.layers.Concatenate()([k, cofactors])
    c = {pair: 9 + n for n, pair in enumerate(PAIRS)}
    c.update({(j, i): n for (i, j), n in c.items()})
    left = [c[i, j] for i in range(3) for j in range(3)] + [s[0, j] for j in range(3)]
    right = [j for _ in range(3) for j in range(3)] + [c[0, j] for j in range(3)]
    terms = multiply(select(both, left), select(both, right))
    sums = np.zeros((12, 3), np.float32)
    for i in range(3):
        sums[3 * i:3 * i + 3, i] = 1.0
    determinant = np.zeros((12, 3), np.float32)
    determinant[9:, :] = 1.0
    return keras.ops.divide(fixed_conv(terms, sums), fixed_conv(terms, determinant))


def coefficients(means, eps: float):
    """[a (3), b]: the guided filter's linear model per pixel of the shrunk photo."""
    a = solve(covariances(means, eps))
    a_times_mean = multiply(a, select(means, [0, 1, 2]))
    b_matrix = np.zeros((means.shape[-1] + 3, 1), np.float32)
    b_matrix[3], b_matrix[-3:] = 1.0, -1.0
    b = fixed_conv(keras.layers.Concatenate()([means, a_times_mean]), b_matrix)
    return keras.layers.Concatenate()([a, b])


def guided(image, alpha, radius: int, eps: float):
    """postprocess/refine.py's ``guided_filter(image, alpha, radius, eps, GUIDED_SUBSAMPLE)`` at the shrunk
    ``radius``."""
    height, width = image.shape[1:3]
    shrink = keras.layers.AveragePooling2D(GUIDED_SUBSAMPLE, padding="valid")
    means = box(statistics(shrink(image), shrink(alpha)), radius)
    mean_ab = box(coefficients(means, eps), radius)
    mean_ab = keras.layers.Resizing(height, width, interpolation="bilinear", name="coefficients_up")(mean_ab)
    guide_and_one = fixed_conv(image, np.eye(3, 4), [0.0, 0.0, 0.0, 1.0])
    return fixed_conv(multiply(mean_ab, guide_and_one), np.ones((4, 1)))


def build_refiner(height: int, width: int, size: int, band: int):
    """The refiner as a Keras model: inputs ``image`` (1, height, width, 3) and ``alpha`` (1, size, size, 1),
    output ``refined_alpha`` (1, height, width, 1)."""
    image = keras.Input((height, width, 3), batch_size=1, name="image")
    low = keras.Input((size, size, 1), batch_size=1, name="alpha")
    alpha = keras.layers.Resizing(height, width, interpolation="bilinear", name="alpha_up")(low)
    person = step(alpha)
    refined = clip01(guided(image, alpha, filter_radius(height, width), GUIDED_EPS))
    unknown = band_mask(person, band)
    out = keras.layers.Add(name="refined_alpha")([person, multiply(unknown, keras.layers.Subtract()([refined, person]))])
    return keras.Model([image, low], out, name="guided_refiner")


@dataclass
class RefinerExport:
    """``NAME_refiner.tflite`` before it is written: read by convert/tflite.py's table like an ``Export``."""
    path: str
    content: bytes = b""
    check: dict = field(default_factory=dict)
    gpu: list = field(default_factory=list)
    sidecar: dict = field(default_factory=dict)
    label: str = "refiner"


def parity_photos(dataset_dir: str, width: int, height: int):
    """Up to PARITY_PHOTOS uint8 RGB photos of ``dataset_dir``'s testing/ (else training/) resized to
    width x height (cv2 INTER_AREA), and where they came from; a synthetic portrait when there are none."""
    for split in ("testing", "training"):
        try:
            pairs = find_pairs(os.path.join(dataset_dir, split))
        except UserError:
            continue
        photos = [cv2.resize(read_image(image, "--dataset_dir"), (width, height), interpolation=cv2.INTER_AREA)
                  for image, _ in pairs[:PARITY_PHOTOS]]
        return photos, f"{len(photos)} photos from {os.path.join(dataset_dir, split)} at {width}x{height}"
    return [portrait(np.random.default_rng(0), height, width)[0]], f"1 synthetic portrait at {width}x{height}"


def model_probability(model):
    """``probability(photo) -> (1, S, S, 1)``: a Keras mask model's person probability for a uint8 RGB photo,
    as NAME.tflite gives it (a 4-channel video model gets an empty prior)."""
    size, channels = model.input_shape[1], model.input_shape[-1]
    kind = "sigmoid" if model.output_shape[-1] == 1 else "softmax"

    def probability(photo):
        batch = model_input(photo, size)[None]
        if channels == 4:
            batch = np.concatenate([batch, np.zeros_like(batch[..., :1])], axis=-1)
        return foreground(model(batch, training=False), kind)[..., None]
    return probability


def python_refined(photo, low, band: int):
    """postprocess/refine.py's guided refinement of ``low`` (1, S, S, 1) brought to the photo's size as
    engine/infer.py brings it."""
    alpha = tf.image.resize(low, photo.shape[:2], method="bilinear")[0, ..., 0].numpy()
    return refine(photo, np.clip(alpha, 0.0, 1.0), "guided", band)


def interpreter_for(content: bytes = None, path: str = None, threads: int = 1) -> Interpreter:
    """A refiner file (its bytes or its path) in LiteRT, tensors allocated."""
    interpreter = Interpreter(model_content=content, model_path=path, num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


def feed(interpreter: Interpreter, photo, low):
    """Set the refiner's inputs: the photo (uint8 RGB at its size) and the probability (1, S, S, 1)."""
    for detail in interpreter.get_input_details():
        value = photo[None] * INPUT_SCALE + INPUT_OFFSET if detail["shape"][-1] == 3 else low
        interpreter.set_tensor(detail["index"], np.asarray(value, np.float32))


def run(interpreter: Interpreter, photo, low):
    """The refined alpha (H, W) of one photo and probability (see ``feed``)."""
    feed(interpreter, photo, low)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0, ..., 0]


def parity(content: bytes, photos, probability, band: int):
    """max |difference| from postprocess/refine.py, the pixels off by more than OFF_BY and the IoU of the alpha >= 0.5
    masks, pooled over ``photos``.

    An alpha within float rounding of 0.5 can fall either side of it after LiteRT's bilinear resize and
    TensorFlow's (they differ by up to 1e-5), which moves the band's outer edge by a pixel there: such a
    pixel is refined in one and thresholded in the other, so max |difference| alone would fail a sound file.
    """
    diff, off, pixels, inter, union = 0.0, 0, 0, 0, 0
    interpreter = interpreter_for(content)
    for photo in photos:
        low = np.asarray(probability(photo), np.float32)
        ours, expected = run(interpreter, photo, low), python_refined(photo, low, band)
        diff = max(diff, float(np.abs(ours - expected).max()))
        off, pixels = off + int((np.abs(ours - expected) > OFF_BY).sum()), pixels + expected.size
        inter += int(np.logical_and(ours >= 0.5, expected >= 0.5).sum())
        union += int(np.logical_or(ours >= 0.5, expected >= 0.5).sum())
    mask_iou = 1.0 if union == 0 else inter / union
    return {"against": "postprocess/refine.py refine(photo, alpha, 'guided', band)", "max_abs_diff": diff,
            "pixels_off": off, "pixels": pixels, "off_by": OFF_BY, "max_off_share": MAX_OFF_SHARE,
            "mask_iou": mask_iou, "min_mask_iou": MIN_MASK_IOU,
            "passed": off <= MAX_OFF_SHARE * pixels and mask_iou >= MIN_MASK_IOU}


def input_order(content: bytes):
    """The refiner file's input names in the order of its subgraph's inputs."""
    interpreter = Interpreter(model_content=content)
    return ["image" if d["shape"][-1] == 3 else "alpha" for d in interpreter.get_input_details()]


def settings(width: int, height: int, size: int, band: int):
    """What the refiner computes, as postprocess/refine.py's constants name it."""
    return {"method": "guided", "reference": "postprocess/refine.py: refine(photo, alpha, 'guided', band)",
            "photo_size": [width, height], "alpha_size": [size, size],
            "radius_px": max(1, round(GUIDED_RADIUS_FRACTION * min(width, height))), "subsample": GUIDED_SUBSAMPLE,
            "box_radius_at_subsample": filter_radius(height, width), "eps": GUIDED_EPS, "band_px": band,
            "band_distance": "cv2.distanceTransform DIST_L2, 3x3 mask (exact: dilations by the same offsets)",
            "alpha_upsampling": "bilinear, half-pixel centres, no antialiasing: engine/infer.py's tf.image.resize "
                                "(the same as cv2 INTER_LINEAR)",
            "box_borders": "cv2.BORDER_REFLECT (the edge pixel repeated), as postprocess/refine.py's cv2.blur"}


def tensors(width: int, height: int, size: int, band: int, model_file: str):
    """The sidecar's ``inputs`` (by name) and ``output``."""
    image = {"shape": [1, height, width, 3], "layout": "NHWC", "dtype": "float32", "channel_order": CHANNEL_ORDER,
             "scale": INPUT_SCALE, "offset": INPUT_OFFSET, "normalization": "x = pixel * scale + offset (pixel 0..255)",
             "resize": f"the photo brought to exactly {width}x{height} by the app; the refined alpha is at this size"}
    alpha = {"shape": [1, size, size, 1], "layout": "NHWC", "dtype": "float32", "range": [0.0, 1.0],
             "meaning": f"the person's probability from {model_file} for the same photo: its output's person "
                        "channel (1 of a softmax output, 0 of a sigmoid one); from a logits file "
                        "(NAME_without_softmax.tflite, NAME_android.tflite), sigmoid(logit[1] - logit[0])"}
    output = {"name": "refined_alpha", "shape": [1, height, width, 1], "dtype": "float32", "range": [0.0, 1.0],
              "meaning": f"the person's alpha at the photo's size: guided-filtered within {band} px of the 0.5 "
                         "outline, 0 or 1 outside it; the person where alpha >= 0.5"}
    return {"image": image, "alpha": alpha}, output


def describe(content: bytes, width: int, height: int, size: int, band: int, weights: str, model_file: str):
    """The refiner's sidecar ``NAME_refiner.json``, less its parity and GPU check."""
    inputs, output = tensors(width, height, size, band, model_file)
    return {"format": REFINER_SIDECAR_FORMAT, "pairs_with": model_file,
            "chain": f"run {model_file} on the photo shrunk to {size}x{size}, then this file on the photo at "
                     f"{width}x{height} and that probability",
            "inputs": [dict(name=name, index=i, **inputs[name]) for i, name in enumerate(input_order(content))],
            "output": output, "refiner": settings(width, height, size, band),
            "precision": PRECISION,
            "source_weights": weights}


def sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def tensor_metadata(name: str, description: str, low: float = 0.0, high: float = 1.0, image: bool = False):
    content = metadata.table("Content", content_properties_type=metadata.IMAGE_PROPERTIES,
                             content_properties=metadata.table("ImageProperties", color_space=metadata.RGB
                                                               if image else metadata.GRAYSCALE))
    normalization = metadata.table("NormalizationOptions", mean=[(0.0 - INPUT_OFFSET) / INPUT_SCALE],
                                   std=[1.0 / INPUT_SCALE])
    units = [metadata.table("ProcessUnit", options_type=metadata.NORMALIZATION_OPTIONS, options=normalization)]
    return metadata.table("TensorMetadata", name=name, description=description, content=content,
                          process_units=units if image else None, stats=metadata.table("Stats", min=[low], max=[high]))


def model_metadata(sidecar: dict):
    """TFLite model metadata for the two inputs and the output, in the subgraph's input order."""
    described = {entry["name"]: entry for entry in sidecar["inputs"]}
    text = {"image": f"{CHANNEL_ORDER} photo at {described['image']['shape'][2]}x{described['image']['shape'][1]}, "
                     f"x = pixel * {INPUT_SCALE:.6g} + {INPUT_OFFSET:g}.",
            "alpha": sentence(described["alpha"]["meaning"])}
    inputs = [tensor_metadata(entry["name"], text[entry["name"]], INPUT_OFFSET if entry["name"] == "image" else 0.0,
                              255 * INPUT_SCALE + INPUT_OFFSET if entry["name"] == "image" else 1.0,
                              image=entry["name"] == "image") for entry in sidecar["inputs"]]
    output = tensor_metadata("refined_alpha", sentence(sidecar["output"]["meaning"]))
    refiner = sidecar["refiner"]
    subgraph = metadata.table("SubGraphMetadata", input_tensor_metadata=inputs, output_tensor_metadata=[output])
    root = metadata.table("ModelMetadata", name=f"{metadata.AUTHOR} guided refiner {refiner['photo_size'][0]}x"
                                                f"{refiner['photo_size'][1]}",
                          description=f"He et al.'s fast guided filter of {sidecar['pairs_with']}'s person "
                                      f"probability by the photo, within {refiner['band_px']} px of its outline.",
                          version=f"{os.path.basename(sidecar['source_weights'])} refiner",
                          subgraph_metadata=[subgraph], author=metadata.AUTHOR, license=metadata.LICENSE,
                          min_parser_version=metadata.MIN_PARSER_VERSION)
    return metadata.Metadata(metadata.finished(root, metadata.METADATA_IDENTIFIER), {})


def paired_file(stem: str, exported) -> str:
    """The model file the refiner's sidecar names: NAME.tflite, else the first of ``exported`` (--android
    alone: NAME_android.tflite)."""
    plain = f"{stem}.tflite"
    return os.path.basename(plain if plain in exported or not exported else exported[0])


def export(stem: str, width: int, height: int, band, model, dataset_dir: str, weights: str, exported=()):
    """``NAME_refiner.tflite`` for photos of width x height and ``model``'s probabilities (its sidecar and
    metadata included), checked against postprocess/refine.py; nothing is written here. ``exported``: the model
    files written beside it."""
    size, band = model.input_shape[1], band or default_band((height, width))
    path, model_file = f"{stem}_refiner.tflite", paired_file(stem, list(exported))
    graph = to_tflite(build_refiner(height, width, size, band))
    sidecar = describe(graph, width, height, size, band, weights, model_file)
    content = metadata.attach(graph, model_metadata(sidecar))
    photos, source = parity_photos(dataset_dir, width, height)
    check = dict(parity(content, photos, model_probability(model), band), images=source)
    problems = gpu_problems(content)
    sidecar["parity"] = check
    sidecar["gpu_delegate"] = {"runs_on_gpu_delegate": not problems, "problems": problems,
                               "checked_with": "LiteRT model analyzer and the op list in convert/gpu.py"}
    return RefinerExport(path, content, check, problems, sidecar)


def failures(exports):
    for e in exports:
        if not e.check["passed"]:
            yield (f"--refiner_size: {os.path.basename(e.path)} disagrees with postprocess/refine.py (mask IoU "
                   f"{e.check['mask_iou']:.4f}, {e.check['pixels_off']} of {e.check['pixels']} pixels off by more "
                   f"than {OFF_BY:g})")
        if e.gpu:
            yield f"--refiner_size: {os.path.basename(e.path)} would not run on the GPU delegate: {'; '.join(e.gpu)}"


def write(e: RefinerExport):
    write_bytes(e.path, e.content)
    write_sidecar(e.path, e.sidecar)
    print(f"  wrote {e.path} and its sidecar .json")
