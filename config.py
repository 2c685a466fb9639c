"""The one schema of the command line: every flag is a field of the typed record that takes it.

A flag's field carries its default and, in ``metadata``, everything else about it: help, group in
``--help``, type, choices, range, metavar and what ``--resume=True`` does with it. main.py builds its
parser from these fields, docs/FLAGS.md is generated from them (``python -m config --markdown``), and a
record checks its choices and ranges when it is made, so code that calls the engine directly (tests,
benchmarks, notebooks) names only what it changes and gets the command line's checks.

A field without metadata is a flag owned by another record, whose default it copies
(``OutputConfig.input_shape = ModesConfig.input_shape``), or no flag at all (``TrainConfig.given``).

To add a flag: a field ``name: type = flag(default, "help", GROUP, ...)`` in the record that uses it,
then ``python -m config --markdown > docs/FLAGS.md``.
"""
import argparse
import dataclasses
import sys
from dataclasses import dataclass, field
from typing import Optional

from utils import UserError

TRAINED_MODELS = "./trained_models"
TRAINING_INPUT_SHAPE = 256
RGB, WITH_PRIOR = 3, 4  # a model's input channels: RGB, or RGB + the previous frame's mask (video models)
GUIDED_SUBSAMPLE = 4  # postprocess/refine.py's guided filter fits on the photo shrunk this many times
WORK_PIXELS = 500_000  # above this, the guided filter's fit, foreground estimation and blur run shrunk to it
BAND_FRACTION = 0.01  # --trimap_band's default: the refined band's half-width as a share of the short side
REFINER_MIN_SIDE = 32  # a --refiner_size side below this leaves no trimap band

MODELS = ("lightnet", "lightnet_ctx", "lightnet_deep", "mattingnet")
OWN_ENCODER = "lightnet"
ENCODERS = (OWN_ENCODER, "mobilenetv2_035", "mobilenetv2_050", "mobilenetv2_075", "mobilenetv2_100",
            "mobilenetv2_140", "mobilenetv3small_075", "mobilenetv3small_100", "mobilenetv3small_minimal_100",
            "mobilenetv3large_100", "mobilenetv3large_minimal_100")
ACTIVATIONS = ("softmax", "sigsoftmax", "sigmoid")
LOSSES = ("combined", "ce", "focal", "dice")
BOUNDARY_LOSSES = ("focal", "bce")
LR_SCHEDULES = ("constant", "cosine")
MONITORS = ("val_loss", "val_iou")
REFINERS = ("none", "guided", "knn", "cf")
DISTRIBUTE = ("auto", "none", "mirrored", "multiworker")
VARIANTS = ("float32", "float16", "dynamic_int8", "int8")

MODES, TRAINING, DISTILL, DEVICES, VIDEO, OUTPUT, EXPORT, SERVE, PATHS = (
    "modes", "training", "distill", "devices", "video", "output", "export", "serve", "paths")
GROUPS = {  # --help's groups, in order
    MODES: "modes (BOOL: True/False, true/false, 1/0, yes/no)",
    TRAINING: "training",
    DISTILL: "knowledge distillation (training)",
    DEVICES: "GPUs and clusters (training; see docs/DISTRIBUTED.md)",
    VIDEO: "video: 4-channel models (RGB + the previous frame's mask) and --infer_video",
    OUTPUT: "refinement and cut-outs (--infer_single_img, --evaluate)",
    EXPORT: "export (--convert, --android)",
    SERVE: "browser preview (--serve)",
    PATHS: "paths",
}
FIXED, KEPT = "fixed", "kept"  # on --resume: the run's own value (another is refused) / the run's own unless given
TRUE, FALSE = ("true", "1", "yes", "y"), ("false", "0", "no", "n")


def boolean(text):
    if text.lower() in TRUE:
        return True
    if text.lower() in FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected True/False, true/false, 1/0 or yes/no, got '{text}'")


def multiple_of_32(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 32 or value % 32:
        raise argparse.ArgumentTypeError(f"must be a positive multiple of 32 (e.g. 256), got '{text}'")
    return value


def variant_list(text):
    """``--quantize``: export variants, comma-separated, or 'all'."""
    names = VARIANTS if text.strip() == "all" else tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in VARIANTS] or ([] if names else [text])
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown variant '{unknown[0]}'; valid: {', '.join(VARIANTS)} or all")
    return names


def refiner_size(text):
    """``--refiner_size``: WIDTHxHEIGHT, each side a multiple of GUIDED_SUBSAMPLE and at least REFINER_MIN_SIDE;
    '' for none."""
    if not text:
        return None
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels (e.g. 600x800), got '{text}'")
    size = int(width), int(height)
    if min(size) < REFINER_MIN_SIDE or any(side % GUIDED_SUBSAMPLE for side in size):
        raise argparse.ArgumentTypeError(f"each side must be a multiple of {GUIDED_SUBSAMPLE} and at least "
                                         f"{REFINER_MIN_SIDE} (e.g. 600x800), got '{text}'")
    return size


def within(interval, value):
    """Whether ``value`` lies in ``interval``, written as in mathematics: '[0, 1)', '(0, inf)'."""
    low, high = (float(side) for side in interval[1:-1].split(","))
    return ((low < value or (interval[0] == "[" and value == low))
            and (value < high or (interval[-1] == "]" and value == high)))


def in_range(kind, interval):
    """A parser of ``kind`` numbers in ``interval``."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got '{text}'") from None
        if not within(interval, value):
            raise argparse.ArgumentTypeError(f"must be in {interval}, got '{text}'")
        return value
    return parse


def flag(default, help, group, *, type=None, choices=(), range=None, metavar=None, on_resume=None, shown=None,
         doc=None):
    """A record field that is a flag. ``type``: bool, int, float, str or a parser of the text (default: the
    default's type); ``range``: an interval for numbers, '[0, 1)'; ``on_resume``: FIXED or KEPT; ``shown``:
    the default in words, where None stands for something; ``doc``: docs/FLAGS.md's longer text (default: help)."""
    kind = type or (str if default is None else default.__class__)
    return field(default=default, metadata={
        "help": help, "group": group, "type": kind, "choices": choices, "range": range,
        "metavar": metavar or ("BOOL" if kind is bool else None), "on_resume": on_resume, "shown": shown,
        "doc": doc or help})


def parser(f):
    """The function that turns flag ``f``'s text into its value (argparse's ``type``)."""
    kind, interval = f.metadata["type"], f.metadata["range"]
    if kind is bool:
        return boolean
    return in_range(kind, interval) if interval else kind


def shown_default(f):
    if f.metadata["shown"]:
        return f.metadata["shown"]
    if f.default is None:
        return "none"
    if isinstance(f.default, tuple):
        return ",".join(f.default)
    return f.default if f.default != "" else '""'


def problem(f, value):
    """Why ``value`` is not allowed for flag ``f`` (its choices, its range), or None."""
    if value is None:
        return None
    choices, interval = f.metadata["choices"], f.metadata["range"]
    values = value if isinstance(value, tuple) else (value,)
    wrong = [v for v in values if choices and v not in choices]
    if wrong:
        return f"invalid choice '{wrong[0]}' (choose from {', '.join(map(str, choices))})"
    if interval and not within(interval, value):
        return f"must be in {interval}"
    return None


class Checked:
    """A record that refuses, with one line naming the flag, a value outside its flags' choices or ranges."""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            reason = f.metadata and problem(f, getattr(self, f.name))
            if reason:
                raise UserError(f"--{f.name}={getattr(self, f.name)}: {reason}")


@dataclass(frozen=True)
class ModesConfig(Checked):
    """What to do, and the flags main.py resolves itself before it hands records to the engine."""
    train: bool = flag(False, "train a model on --dataset_dir", MODES)
    finetune: bool = flag(False, "train starting from --weight_dir (required), with the encoder frozen for the first "
                          "--freeze_encoder epochs", MODES, on_resume=FIXED,
                          doc="train starting from `--weight_dir` (required), encoder frozen for the first "
                              "`--freeze_encoder` epochs; with `--train=True` still one run")
    resume: bool = flag(False, "continue the interrupted run in --checkpoint_path from its last.h5 (epoch, optimizer "
                        "state, TensorBoard curves) up to --nb_epoch", MODES,
                        doc="continue the interrupted run in `--checkpoint_path` from its `last.h5`: epoch number, "
                            "optimizer state, learning-rate schedule and TensorBoard curves carry on, up to its "
                            "`--nb_epoch` (or the one given). The run's settings come from its `run_config.json` "
                            "(the flags marked fixed or kept in the column on `--resume`), so they need not be "
                            "repeated; a fixed flag given that disagrees with the record is refused with one line "
                            "naming both values. Epoch e's shuffle and augmentation depend only on `--seed` and e, "
                            "so a resumed run sees the images an uninterrupted one would")
    check_data: bool = flag(False, "scan --dataset_dir without training: bad files, size mismatches, empty mattes, "
                            "counts", MODES,
                            doc="scan `--dataset_dir` once without training: bad files, size mismatches, empty mattes, "
                                "and the training / validation / testing counts; exit status 1 if any file is unusable")
    convert: bool = flag(False, "write NAME.tflite and NAME_without_softmax.tflite (and the --quantize variants), each "
                         "with a NAME.json sidecar, after checking them against Keras", MODES)
    android: bool = flag(False, "write NAME_android.tflite: float16, logits, static input, every op on the TFLite GPU "
                         "delegate (the command fails naming any op that is not)", MODES)
    evaluate: bool = flag(False, "score --weight_dir on <dataset_dir>/testing: mean_fg_iou, dataset_iou, miou_2class, "
                          "boundary_f, img_per_s; the worst images go to --output_dir", MODES)
    preview_augment: int = flag(0, "write a grid of N augmented training pairs to --output_dir/augment_preview.png",
                                MODES, range="[0, inf)", metavar="N")
    infer_single_img: bool = flag(False, "segment --img_path; write _mask, _alpha, _cutout and _overlay under "
                                  "--output_dir", MODES)
    infer_video: bool = flag(False, "segment --video_path frame by frame; write <stem>_mask.mp4 and "
                             "<stem>_composite.mp4 under --output_dir at the video's size and frame rate", MODES)
    serve: bool = flag(False, "serve the browser preview of --weight_dir on 127.0.0.1", MODES)
    input_shape: Optional[int] = flag(
        None, "square input side, a multiple of 32", TRAINING, type=multiple_of_32, on_resume=FIXED,
        shown=f"{TRAINING_INPUT_SHAPE} for training; for running or exporting a checkpoint, the size it was trained at",
        doc="square input side in pixels, a multiple of 32. Checkpoints load at any size (the networks are fully "
            "convolutional) and remember the size they were trained at, which `--evaluate`, `--infer_single_img` "
            "and `--convert` use unless `--input_shape` is given")
    img_path: str = flag("", "a photo, a folder of photos, or a glob (quote it) for --infer_single_img", PATHS)


@dataclass(frozen=True)
class TrainConfig(Checked):
    """A training, fine-tuning or resumed run (``--train``, ``--finetune``, ``--resume``)."""
    dataset_dir: str = flag(
        "./dataset/selfie", "folder with training/ and testing/, or several separated by commas", PATHS,
        on_resume=FIXED,
        doc="folder holding `training/` and `testing/`, or several separated by commas (`../eg1800,../ccp1004`). "
            "Each folder's `training/` is split by `--val_ratio` on its own, so validation holds every set in "
            "proportion; the epoch line and TensorBoard add `val_<folder name>_iou` per set; `--evaluate` prints one "
            "line per set, then their mean; `--convert` checks parity on the first folder")
    checkpoint_path: str = flag(
        TRAINED_MODELS, "folder for {epoch:02d}-{val_loss:.2f}.h5 checkpoints and run_config.json", PATHS,
        doc="folder for checkpoints `{epoch:02d}-{val_loss:.2f}.h5`, `run_config.json` (the run's resolved flags "
            "and loss weights, model spec, pair counts) and `checkpoints.json` (best and latest checkpoint, last "
            "epoch)")
    log_dir: str = flag("./logs", "TensorBoard logs, one folder per run", PATHS)
    weight_dir: str = flag(
        f"{TRAINED_MODELS}/initial.h5", "checkpoint to start from (train; empty: random init), to fine-tune, or to run",
        PATHS, on_resume=FIXED,
        doc="checkpoint to start from (train; `\"\"` means random initialisation), the supermodel (fine-tune), or "
            "the model to run (infer, convert, evaluate)")
    input_shape: int = TRAINING_INPUT_SHAPE
    nb_epoch: int = flag(100, "epochs to train", TRAINING, range="[1, inf)", on_resume=KEPT)
    batch_size: int = flag(16, "the global batch, split across the replicas of --distribute", TRAINING,
                           range="[1, inf)", on_resume=FIXED,
                           doc="the global batch: with R replicas (`--distribute`) each takes `batch_size / R` "
                               "samples of every step, so it must divide evenly; `--lr` is used as given")
    lr: float = flag(1e-4, "Adam learning rate", TRAINING, range="(0, inf)", on_resume=FIXED)
    lr_schedule: str = flag("constant", "constant --lr, or cosine decay from --lr to 1% of it over the run", TRAINING,
                            choices=LR_SCHEDULES, on_resume=FIXED)
    val_ratio: float = flag(0.8, "share of training/ pairs used for training, chosen per file by a hash of its name "
                            "and --split_seed (on average; adding a file moves no other pair); a run recorded before "
                            "keeps its shuffle split on --resume", TRAINING, range="(0, 1)", on_resume=FIXED)
    seed: int = flag(42, "seed for the shuffling, augmentation and initialisation, and for the split unless "
                     "--split_seed is given", TRAINING, on_resume=FIXED)
    split_seed: Optional[int] = flag(None, "seed of the training/validation split; keep a checkpoint's own when "
                                     "fine-tuning it with another --seed, or its validation images get trained on",
                                     TRAINING, type=int, on_resume=FIXED, shown="--seed")
    checkpoint: int = flag(10, "besides the best checkpoint (see --monitor), write one every N epochs (0: best only)",
                           TRAINING, range="[0, inf)")
    monitor: str = flag("val_loss", "what makes a checkpoint the best (written, and used by later modes): the lowest "
                        "val_loss or the highest val_iou", TRAINING, choices=MONITORS, on_resume=FIXED)
    finetune: bool = ModesConfig.finetune
    freeze_encoder: int = flag(3, "with --finetune=True: epochs to train with the encoder frozen", TRAINING,
                               range="[0, inf)", on_resume=FIXED)
    resume: bool = ModesConfig.resume
    model: Optional[str] = flag(None, "architecture for a fresh model; a checkpoint brings its own, and naming "
                                "another one is an error", TRAINING, choices=MODELS, on_resume=FIXED,
                                shown=MODELS[0])
    encoder: Optional[str] = flag(
        None, "encoder for a fresh model: lightnet (the project's own) or a keras.applications network; a checkpoint "
        "brings its own", TRAINING, choices=ENCODERS, on_resume=FIXED, shown=OWN_ENCODER)
    encoder_weights: Optional[str] = flag(
        None, "starting weights of a keras.applications encoder: imagenet (Keras downloads them), none (random) or "
        "the path of Keras's weights file", TRAINING, metavar="imagenet|none|PATH", on_resume=FIXED, shown="imagenet",
        doc="starting weights of a keras.applications encoder: `imagenet` (Keras downloads them; offline, the run "
            "stops with one line naming the file Keras expects and the PATH way), `none` (random), or the PATH of "
            "Keras's weights file, e.g. `WEIGHTS/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.5_224_no_top.h5` "
            "(WEIGHTS: your folder of Keras's files). A file that does not fit the encoder stops with one line naming both. Only for a fresh model "
            "(`--weight_dir=\"\"`)")
    activation: Optional[str] = flag(
        None, "output activation for a fresh model", TRAINING, choices=ACTIVATIONS, on_resume=FIXED,
        shown="softmax for lightnet, sigmoid for mattingnet",
        doc="output of a fresh model: `softmax` (2 channels), `sigsoftmax` (2 channels, exp(z)·σ(z) normalised) or "
            "`sigmoid` (1 channel)")
    width: Optional[float] = flag(None, "channel multiplier for a fresh model (channels rounded to multiples of 8; of "
                                  "the decoder only, with a keras.applications encoder)", TRAINING, type=float,
                                  range="(0, inf)", on_resume=FIXED, shown="1.0")
    loss: str = flag("combined", "segmentation loss: combined = focal_weight*focal + (1-focal_weight)*cross-entropy, "
                     "or ce, focal, dice alone", TRAINING, choices=LOSSES, on_resume=FIXED)
    focal_weight: float = flag(0.8, "share of focal loss in the combined loss", TRAINING, range="[0, 1]",
                               on_resume=FIXED)
    focal_gamma: float = flag(2.0, "focal loss's gamma: easy pixels weigh (1-p_t)^gamma (0: cross-entropy)", TRAINING,
                              range="[0, inf)", on_resume=FIXED)
    focal_alpha: Optional[float] = flag(None, "focal loss's class weight: the person alpha, the background 1-alpha "
                                        "(none: both weigh the same)", TRAINING, type=float, range="(0, 1)",
                                        on_resume=FIXED)
    dice_weight: float = flag(0.0, "weight of a per-image soft Dice term (1 - Dice of the person) added to the "
                              "segmentation loss", TRAINING, range="[0, inf)", on_resume=FIXED)
    boundary_weight: float = flag(0.1, "weight of the Canny-boundary head's loss: total = (1-w)*segmentation + "
                                  "w*boundary; 0 builds no boundary head", TRAINING, range="[0, 1)", on_resume=FIXED)
    boundary_loss: str = flag("focal", "the boundary head's loss: focal (gamma 2, PortraitNet's) or binary "
                              "cross-entropy (the seed's; beside the combined loss it cost IoU, see "
                              "docs/BENCHMARKS.md)",
                              TRAINING, choices=BOUNDARY_LOSSES, on_resume=FIXED)
    matting_weight: Optional[float] = flag(
        None, "weight of the matting loss (alpha + compositional + gradient) added to the segmentation loss",
        TRAINING, type=float, range="[0, inf)", on_resume=FIXED, shown="1 for mattingnet, 0 for lightnet",
        doc="weight of the matting loss (Deep Image Matting's alpha, compositional and gradient terms) added to the "
            "segmentation loss; with a pseudo-alpha cache's `NAME_fg.png` / `NAME_bg.png` beside every pair its "
            "compositional term swaps backgrounds")
    augment: str = flag("default", "augmentation in imgaug's vocabulary, e.g. \"Fliplr(0.5); Add((-20,20))@0.5\"; "
                        "'default' for the preset, 'none' for none (see docs/TRAINING.md)", TRAINING, on_resume=FIXED)
    copy_paste: float = flag(0.0, "probability that a training pair gets the person of another pair pasted in, shrunk "
                             "to 30-90% of the side and placed in the photo, before --augment (0: never)", TRAINING,
                             range="[0, 1]", metavar="P", on_resume=FIXED)
    teacher: str = flag("", "a trained .h5 checkpoint or .tflite export (with its sidecar) that labels every "
                        "augmented training batch; the student also learns to match it", DISTILL, metavar="PATH",
                        on_resume=FIXED)
    distill_weight: float = flag(0.5, "weight of the distillation term (KL to the teacher) added to the loss",
                                 DISTILL, range="[0, inf)", on_resume=FIXED)
    distill_temperature: float = flag(1.0, "temperature softening teacher and student before the KL (the term is "
                                      "scaled by T^2)", DISTILL, range="(0, inf)", on_resume=FIXED)
    unlabeled_dir: str = flag("", "a folder of photos without mattes, added to training and labelled by --teacher "
                              "only", DISTILL, metavar="PATH", on_resume=FIXED)
    input_channels: Optional[int] = flag(
        None, "input of a fresh model: 3 (RGB) or 4 (RGB + prior mask); with a 3-channel --weight_dir, 4 widens it "
        "(channel 4's weights zero); a checkpoint remembers it", VIDEO, type=int, choices=(RGB, WITH_PRIOR), on_resume=FIXED,
        shown="3 for a fresh model; a checkpoint's own")
    prior_shift: float = flag(0.01, "4-channel training: simulated prior's largest shift, a share of the side", VIDEO,
                              range="[0, 0.5)", on_resume=FIXED)
    prior_scale: float = flag(0.02, "simulated prior's largest relative change of size", VIDEO, range="[0, 0.5)",
                              on_resume=FIXED)
    prior_rotate: float = flag(2.0, "simulated prior's largest rotation in degrees", VIDEO, range="[0, 90)",
                               on_resume=FIXED)
    prior_morph: float = flag(0.01, "simulated prior's largest erosion or dilation radius, a share of the side", VIDEO,
                              range="[0, 0.25)", on_resume=FIXED)
    prior_blur: float = flag(0.01, "simulated prior's largest Gaussian blur sigma, a share of the side", VIDEO,
                             range="[0, 0.25)", on_resume=FIXED)
    prior_noise: float = flag(0.03, "simulated prior's largest per-pixel noise standard deviation", VIDEO,
                              range="[0, 1)", on_resume=FIXED)
    prior_empty: float = flag(0.15, "probability that a simulated prior is empty (a first frame, a person just come "
                              "in)", VIDEO, range="[0, 1]", on_resume=FIXED)
    distribute: str = flag(
        "auto", "tf.distribute strategy: none (one device), mirrored (every GPU here), multiworker (the machines "
        "TF_CONFIG names), auto (multiworker with TF_CONFIG, mirrored with more than one GPU or --replicas > 1, else "
        "none); --batch_size is the global batch", DEVICES, choices=DISTRIBUTE)
    replicas: int = flag(1, "for testing without GPUs: split the CPU into N logical devices, so that "
                         "--distribute=mirrored trains N replicas", DEVICES, range="[1, inf)", metavar="N")
    mixed_precision: bool = flag(False, "compute in float16 (Keras mixed_float16; outputs, losses and weights stay "
                                 "float32, exports are float32 models as always); pays on GPUs, slower on a CPU",
                                 DEVICES, on_resume=FIXED)
    jit_compile: bool = flag(False, "compile the training step with XLA (on a CPU: one replica, without "
                             "--mixed_precision)", DEVICES)
    cache: bool = flag(False, "decode and resize every training and validation pair once and keep them in memory "
                       "(16 bytes a pixel: 1 MB a pair at 256x256); augmentation still draws anew every epoch",
                       DEVICES)
    verbose: int = flag(1, "Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch", TRAINING,
                        choices=(0, 1, 2))
    given: frozenset = field(default=frozenset(), compare=False)  # the flags named on the command line

    @property
    def data_split_seed(self):
        return self.seed if self.split_seed is None else self.split_seed

    def settings(self):
        """The run's settings as a plain dict (run_config.json), without ``given``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "given"}


@dataclass(frozen=True)
class OutputConfig(Checked):
    """How ``--evaluate`` and ``--infer_single_img`` run a model and what they write."""
    input_shape: Optional[int] = ModesConfig.input_shape
    output_dir: str = flag("./outputs", "where --infer_single_img, --infer_video, --evaluate and --preview_augment "
                           "write", PATHS)
    refine: str = flag("guided", "full-resolution refinement of the upsampled alpha with the photo as guide: none, "
                       "guided (fast guided filter), knn (KNN matting) or cf (closed-form matting)", OUTPUT,
                       choices=REFINERS)
    trimap_band: Optional[int] = flag(None, "refine only within PX pixels either side of the predicted outline",
                                      OUTPUT, type=int, range="[1, inf)", metavar="PX",
                                      shown=f"{BAND_FRACTION:.0%} of the photo's short side")
    background: str = flag("", "with --infer_single_img: also write <stem>_composite.jpg, the person over this image "
                           "(scaled to cover the photo), colour, or the photo's own background blurred", OUTPUT,
                           metavar="PATH|#RRGGBB|blur")


@dataclass(frozen=True)
class VideoConfig(Checked):
    """How ``--infer_video`` runs a model on a video and what it writes (engine/video.py)."""
    video_path: str = flag("", "video for --infer_video: a file OpenCV reads, or a webcam index (0; stop with Ctrl-C, "
                           "the videos are kept)", VIDEO, metavar="PATH|INDEX")
    temporal_smoothing: float = flag(0.0, "--infer_video: blend each frame's probability with the previous one's, "
                                     "A x previous + (1 - A) x new (0: off); for any model", VIDEO, range="[0, 1)",
                                     metavar="A")
    motion_compensation: bool = flag(
        True, "--infer_video: move the previous frame's prior and smoothed probability along the optical flow between "
        "the frames before using them (OpenCV DIS at the model's size)", VIDEO)
    input_shape: Optional[int] = ModesConfig.input_shape
    output_dir: str = OutputConfig.output_dir
    background: str = OutputConfig.background


@dataclass(frozen=True)
class ExportConfig(Checked):
    """What ``--convert`` and ``--android`` write (convert/tflite.py)."""
    quantize: tuple = flag(VARIANTS[:1], f"--convert variants, comma-separated: {', '.join(VARIANTS)} (int8: full "
                           "integer, calibrated on training images), or all", EXPORT, type=variant_list,
                           metavar="VARIANTS")
    android: bool = ModesConfig.android
    input_shape: Optional[int] = ModesConfig.input_shape
    tflite_name: str = flag("", f"output path stem (may include a folder; .tflite is optional); empty: "
                            f"{TRAINED_MODELS}/<weights>_<input_shape>", EXPORT)
    dataset_dir: str = TrainConfig.dataset_dir
    refiner_size: Optional[tuple] = flag(
        None, "also write NAME_refiner.tflite, the guided refiner (--refine=guided, --trimap_band) for photos of this "
        "size, to chain after NAME.tflite", EXPORT, type=refiner_size, metavar="WIDTHxHEIGHT",
        doc=f"`WIDTHxHEIGHT` (each side a multiple of {GUIDED_SUBSAMPLE}, at least {REFINER_MIN_SIDE}): also write "
            "`NAME_refiner.tflite` and `NAME_refiner.json`, the guided refiner (`--refine=guided`, `--trimap_band`) "
            "for photos of that size, chained after `NAME.tflite` (see docs/EXPORT.md)")
    trimap_band: Optional[int] = OutputConfig.trimap_band


@dataclass(frozen=True)
class ServeConfig(Checked):
    """The browser preview of ``--serve`` (engine/serve.py)."""
    weight_dir: str = TrainConfig.weight_dir
    input_shape: Optional[int] = ModesConfig.input_shape
    port: int = flag(8000, "--serve's port on 127.0.0.1 (0: a free one; the address is printed)", SERVE,
                     range="[0, 65535]")


RECORDS = (ModesConfig, TrainConfig, OutputConfig, VideoConfig, ExportConfig, ServeConfig)


def flags():
    """Every flag's field, once: from the record that owns it."""
    return [f for record in RECORDS for f in dataclasses.fields(record) if f.metadata]


def on_resume(rule):
    """The flags that --resume=True takes from the run's run_config.json under ``rule`` (FIXED or KEPT)."""
    return tuple(f.name for f in flags() if f.metadata["on_resume"] == rule)


def from_flags(cls, parsed):
    """A ``cls`` record from an object with the flags as attributes (argparse's Namespace)."""
    return cls(**{f.name: getattr(parsed, f.name) for f in dataclasses.fields(cls) if hasattr(parsed, f.name)})


def values(f):
    """What flag ``f`` accepts, in words."""
    meta = f.metadata
    if meta["choices"]:
        return ", ".join(f"`{c}`" for c in meta["choices"])
    if meta["type"] is bool:
        return "BOOL"
    kind = meta["metavar"] or TYPE_WORDS[meta["type"]]
    return f"{kind} in {meta['range']}" if meta["range"] else kind


TYPE_WORDS = {int: "integer", float: "number", str: "text", multiple_of_32: "integer, a multiple of 32"}
RESUME_WORDS = {FIXED: "the run's", KEPT: "the run's unless given", None: ""}


def cell(text):
    """``text`` for a markdown table cell: '|' escaped, and '<' outside `code` so it is not taken for HTML."""
    parts = str(text).replace("|", "\\|").split("`")
    return "`".join(part if i % 2 else part.replace("<", "\\<") for i, part in enumerate(parts))


def markdown():
    """docs/FLAGS.md: every flag, by --help's groups."""
    lines = ["# Flags", "",
             "Generated from `config.py` by `python -m config --markdown > docs/FLAGS.md`; edit the schema, not this "
             "page. `python main.py --help` shows the same flags, defaults and choices.", "",
             "Booleans (BOOL) accept `True/False`, `true/false`, `1/0`, `yes/no`; anything else is refused. When a "
             "flag is given twice, the last value wins. A bad value exits with status 2 and one line naming the flag.",
             "", "On `--resume=True` a flag marked *the run's* takes the value in the run's `run_config.json`, and "
             "one given that disagrees is refused; *the run's unless given* takes it unless the flag is given."]
    for group, title in GROUPS.items():
        lines += ["", f"## {title}", "", "| flag | default | values | on `--resume` | meaning |",
                  "|---|---|---|---|---|"]
        lines += [f"| `--{f.name}` | {cell(shown_default(f))} | {cell(values(f))} | "
                  f"{RESUME_WORDS[f.metadata['on_resume']]} | {cell(f.metadata['doc'])} |"
                  for f in flags() if f.metadata["group"] == group]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m config --markdown > docs/FLAGS.md")
    sys.stdout.write(markdown())
