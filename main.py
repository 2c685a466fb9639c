"""portrait-segmentation: train, fine-tune, run and export portrait segmentation networks.

Modes run in this order: check_data -> preview_augment -> train / fine-tune / resume -> convert ->
evaluate -> infer -> infer_video. After training, the later modes use the run's best checkpoint.
"""
import argparse
import dataclasses
import os
import sys

MODELS = ("lightnet", "lightnet_ctx", "lightnet_deep", "mattingnet")
ENCODERS = ("lightnet", "mobilenetv2_035", "mobilenetv2_050", "mobilenetv2_075", "mobilenetv2_100", "mobilenetv2_140",
            "mobilenetv3small_075", "mobilenetv3small_100", "mobilenetv3small_minimal_100", "mobilenetv3large_100",
            "mobilenetv3large_minimal_100")
ACTIVATIONS = ("softmax", "sigsoftmax", "sigmoid")
LOSSES = ("combined", "ce", "focal", "dice")
REFINERS = ("none", "guided", "knn", "cf")
DISTRIBUTE = ("auto", "none", "mirrored", "multiworker")
DEFAULT_REFINER = "guided"
TRAINING_INPUT_SHAPE = 256
VARIANTS = ("float32", "float16", "dynamic_int8", "int8")
REFINER_MULTIPLE, REFINER_MIN_SIDE = 4, 32  # postprocess/refine.py's GUIDED_SUBSAMPLE; a side below 32 px leaves no band
TRUE, FALSE = ("true", "1", "yes", "y"), ("false", "0", "no", "n")


class Parser(argparse.ArgumentParser):
    """argparse, with errors as one line and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def variant_list(text):
    """``--quantize``: export variants, comma-separated, or 'all'."""
    names = VARIANTS if text.strip() == "all" else tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in VARIANTS] or ([] if names else [text])
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown variant '{unknown[0]}'; valid: {', '.join(VARIANTS)} or all")
    return names


def refiner_size(text):
    """``--refiner_size``: WIDTHxHEIGHT, each side a multiple of REFINER_MULTIPLE and at least REFINER_MIN_SIDE;
    '' for none."""
    if not text:
        return None
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels (e.g. 600x800), got '{text}'")
    size = int(width), int(height)
    if min(size) < REFINER_MIN_SIDE or any(side % REFINER_MULTIPLE for side in size):
        raise argparse.ArgumentTypeError(f"each side must be a multiple of {REFINER_MULTIPLE} and at least "
                                         f"{REFINER_MIN_SIDE} (e.g. 600x800), got '{text}'")
    return size


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


def ranged(kind, low, high=None, low_open=False):
    """An argparse type for numbers in [low, high] (or (low, high] when ``low_open``)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
        if value < low or (low_open and value == low) or (high is not None and value >= high):
            bounds = f"{'(' if low_open else '['}{low}, {high if high is not None else 'inf'})"
            raise argparse.ArgumentTypeError(f"must be in {bounds}, got '{text}'")
        return value
    return parse


def build_parser():
    p = Parser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    modes = p.add_argument_group("modes (BOOL: True/False, true/false, 1/0, yes/no)")
    modes.add_argument("--train", type=boolean, default=False, metavar="BOOL", help="train a model on --dataset_dir")
    modes.add_argument("--finetune", type=boolean, default=False, metavar="BOOL",
                       help="train starting from --weight_dir (required), with the encoder frozen for "
                            "the first --freeze_encoder epochs")
    modes.add_argument("--resume", type=boolean, default=False, metavar="BOOL",
                       help="continue the interrupted run in --checkpoint_path from its last.h5 (epoch, "
                            "optimizer state, TensorBoard curves) up to --nb_epoch")
    modes.add_argument("--check_data", type=boolean, default=False, metavar="BOOL",
                       help="scan --dataset_dir without training: bad files, size mismatches, empty mattes, counts")
    modes.add_argument("--convert", type=boolean, default=False, metavar="BOOL",
                       help="write NAME.tflite and NAME_without_softmax.tflite (and the --quantize variants), "
                            "each with a NAME.json sidecar, after checking them against Keras")
    modes.add_argument("--android", type=boolean, default=False, metavar="BOOL",
                       help="write NAME_android.tflite: float16, logits, static input, every op on the "
                            "TFLite GPU delegate (the command fails naming any op that is not)")
    modes.add_argument("--evaluate", type=boolean, default=False, metavar="BOOL",
                       help="score --weight_dir on <dataset_dir>/testing: mean_fg_iou, dataset_iou, miou_2class, "
                            "boundary_f, img_per_s; the worst images go to --output_dir")
    modes.add_argument("--preview_augment", type=ranged(int, 0), default=0, metavar="N",
                       help="write a grid of N augmented training pairs to --output_dir/augment_preview.png")
    modes.add_argument("--infer_single_img", type=boolean, default=False, metavar="BOOL",
                       help="segment --img_path; write _mask, _alpha, _cutout and _overlay under --output_dir")
    modes.add_argument("--infer_video", type=boolean, default=False, metavar="BOOL",
                       help="segment --video_path frame by frame; write <stem>_mask.mp4 and <stem>_composite.mp4 "
                            "under --output_dir at the video's size and frame rate")

    train = p.add_argument_group("training")
    train.add_argument("--input_shape", type=multiple_of_32, default=None,
                       help="square input side, multiple of 32 (default: 256 for training; for running or "
                            "exporting a checkpoint, the size it was trained at)")
    train.add_argument("--nb_epoch", type=ranged(int, 1), default=100, help="epochs to train")
    train.add_argument("--batch_size", type=ranged(int, 1), default=16)
    train.add_argument("--lr", type=ranged(float, 0, low_open=True), default=1e-4, help="Adam learning rate")
    train.add_argument("--val_ratio", type=ranged(float, 0, 1, low_open=True), default=0.8,
                       help="share of training/ pairs used for training after a seeded shuffle; "
                            "the rest is the validation set")
    train.add_argument("--lr_schedule", choices=("constant", "cosine"), default="constant",
                       help="constant --lr, or cosine decay from --lr to 1%% of it over the run")
    train.add_argument("--augment", default="default",
                       help="augmentation in imgaug's vocabulary, e.g. \"Fliplr(0.5); Add((-20,20))@0.5\"; "
                            "'default' for the preset, 'none' for none (see README)")
    train.add_argument("--copy_paste", type=ranged(float, 0, 1.0000001), default=0.0, metavar="P",
                       help="probability that a training pair gets the person of another pair pasted in, shrunk to "
                            "30-90%% of the side and placed in the photo, before --augment (0: never)")
    train.add_argument("--checkpoint", type=ranged(int, 0), default=10,
                       help="besides the best checkpoint (see --monitor), write one every N epochs (0: best only)")
    train.add_argument("--monitor", choices=("val_loss", "val_iou"), default="val_loss",
                       help="what makes a checkpoint the best: the lowest val_loss or the highest val_iou")
    train.add_argument("--freeze_encoder", type=ranged(int, 0), default=3,
                       help="with --finetune=True: epochs to train with the encoder frozen")
    train.add_argument("--model", choices=MODELS, default=None,
                       help="architecture for a fresh model (default lightnet); a checkpoint brings its own")
    train.add_argument("--encoder", choices=ENCODERS, default=None,
                       help="encoder for a fresh model (default lightnet, the project's own; the others are "
                            "keras.applications networks); a checkpoint brings its own")
    train.add_argument("--encoder_weights", default=None, metavar="imagenet|none|PATH",
                       help="starting weights of a keras.applications encoder: imagenet (Keras downloads them; "
                            "the default), none (random) or the path of Keras's weights file")
    train.add_argument("--activation", choices=ACTIVATIONS, default=None,
                       help="output activation for a fresh model (default: softmax for lightnet, sigmoid for "
                            "mattingnet)")
    train.add_argument("--width", type=ranged(float, 0, low_open=True), default=None,
                       help="channel multiplier for a fresh model (default 1.0; channels rounded to multiples of 8)")
    train.add_argument("--loss", choices=LOSSES, default="combined",
                       help="segmentation loss: combined = focal_weight*focal + (1-focal_weight)*cross-entropy")
    train.add_argument("--focal_weight", type=ranged(float, 0, 1.0000001), default=0.8,
                       help="share of focal loss in the combined loss")
    train.add_argument("--focal_gamma", type=ranged(float, 0), default=2.0,
                       help="focal loss's gamma: easy pixels weigh (1-p_t)^gamma (0: cross-entropy)")
    train.add_argument("--focal_alpha", type=ranged(float, 0, 1, low_open=True), default=None,
                       help="focal loss's class weight: the person alpha, the background 1-alpha "
                            "(default: none, both weigh the same)")
    train.add_argument("--dice_weight", type=ranged(float, 0), default=0.0,
                       help="weight of a per-image soft Dice term added to the segmentation loss")
    train.add_argument("--boundary_weight", type=ranged(float, 0, 1), default=0.1,
                       help="weight of the Canny-boundary head's loss: total = (1-w)*segmentation + w*boundary; "
                            "0 builds no boundary head")
    train.add_argument("--boundary_loss", choices=("focal", "bce"), default="focal",
                       help="the boundary head's loss: focal (gamma 2, PortraitNet's) or binary cross-entropy "
                            "(the seed's; beside the combined loss it cost IoU, see docs/BENCHMARKS.md)")
    train.add_argument("--matting_weight", type=ranged(float, 0), default=None,
                       help="weight of the matting loss (alpha + compositional + gradient) added to the "
                            "segmentation loss (default: 1 for mattingnet, 0 for lightnet)")
    train.add_argument("--seed", type=int, default=42, help="seed for the shuffling, augmentation and initialisation, "
                                                           "and for the split unless --split_seed is given")
    train.add_argument("--split_seed", type=int, default=None,
                       help="seed of the training/validation split (default: --seed); keep a checkpoint's own when "
                            "fine-tuning it with another --seed, or its validation images get trained on")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                       help="Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch")

    distill = p.add_argument_group("knowledge distillation (training)")
    distill.add_argument("--teacher", default="", metavar="PATH",
                         help="a trained .h5 checkpoint or .tflite export that labels every augmented training "
                              "batch; the student also learns to match it")
    distill.add_argument("--distill_weight", type=ranged(float, 0), default=0.5,
                         help="weight of the distillation term (KL to the teacher) added to the loss")
    distill.add_argument("--distill_temperature", type=ranged(float, 0, low_open=True), default=1.0,
                         help="temperature softening teacher and student before the KL (the term is scaled by T^2)")
    distill.add_argument("--unlabeled_dir", default="", metavar="PATH",
                         help="a folder of photos without mattes, added to training and labelled by --teacher only")

    devices = p.add_argument_group("GPUs and clusters (training; see README: Training on GPUs and clusters)")
    devices.add_argument("--distribute", choices=DISTRIBUTE, default="auto",
                         help="tf.distribute strategy: none (one device), mirrored (every GPU here), multiworker "
                              "(the machines TF_CONFIG names), auto (multiworker with TF_CONFIG, mirrored with more "
                              "than one GPU or --replicas > 1, else none); --batch_size is the global batch")
    devices.add_argument("--replicas", type=ranged(int, 1), default=1, metavar="N",
                         help="for testing without GPUs: split the CPU into N logical devices, so that "
                              "--distribute=mirrored trains N replicas")
    devices.add_argument("--mixed_precision", type=boolean, default=False, metavar="BOOL",
                         help="compute in float16 (Keras mixed_float16; outputs, losses and weights stay float32, "
                              "exports are float32 models as always); pays on GPUs, slower on a CPU")
    devices.add_argument("--jit_compile", type=boolean, default=False, metavar="BOOL",
                         help="compile the training step with XLA")
    devices.add_argument("--cache", type=boolean, default=False, metavar="BOOL",
                         help="decode and resize every training and validation pair once and keep them in memory "
                              "(16 bytes a pixel: 1 MB a pair at 256x256)")

    video = p.add_argument_group("video: 4-channel models (RGB + the previous frame's mask) and --infer_video")
    video.add_argument("--input_channels", type=int, choices=(3, 4), default=None,
                       help="input of a fresh model: 3 (RGB) or 4 (RGB + prior mask; default 3); with a 3-channel "
                            "--weight_dir, 4 widens it (channel 4's weights zero); a checkpoint remembers it")
    video.add_argument("--prior_shift", type=ranged(float, 0, 0.5), default=0.01,
                       help="4-channel training: simulated prior's largest shift, a share of the side")
    video.add_argument("--prior_scale", type=ranged(float, 0, 0.5), default=0.02,
                       help="simulated prior's largest relative change of size")
    video.add_argument("--prior_rotate", type=ranged(float, 0, 90), default=2.0,
                       help="simulated prior's largest rotation in degrees")
    video.add_argument("--prior_morph", type=ranged(float, 0, 0.25), default=0.01,
                       help="simulated prior's largest erosion or dilation radius, a share of the side")
    video.add_argument("--prior_blur", type=ranged(float, 0, 0.25), default=0.01,
                       help="simulated prior's largest Gaussian blur sigma, a share of the side")
    video.add_argument("--prior_noise", type=ranged(float, 0, 1), default=0.03,
                       help="simulated prior's largest per-pixel noise standard deviation")
    video.add_argument("--prior_empty", type=ranged(float, 0, 1.0000001), default=0.15,
                       help="probability that a simulated prior is empty (a first frame, a person just come in)")
    video.add_argument("--video_path", default="", metavar="PATH|INDEX",
                       help="video for --infer_video: a file OpenCV reads, or a webcam index (0)")
    video.add_argument("--temporal_smoothing", type=ranged(float, 0, 1), default=0.0, metavar="A",
                       help="--infer_video: blend each frame's probability with the previous one's, "
                            "A x previous + (1 - A) x new (0: off); for any model")
    video.add_argument("--motion_compensation", type=boolean, default=True, metavar="BOOL",
                       help="--infer_video: move the previous frame's prior and smoothed probability along the "
                            "optical flow between the frames before using them (OpenCV DIS at the model's size)")

    out = p.add_argument_group("refinement and cut-outs (--infer_single_img, --evaluate)")
    out.add_argument("--refine", choices=REFINERS, default=DEFAULT_REFINER,
                     help="full-resolution refinement of the upsampled alpha with the photo as guide: none, "
                          "guided (fast guided filter), knn (KNN matting) or cf (closed-form matting)")
    out.add_argument("--trimap_band", type=ranged(int, 1), default=None, metavar="PX",
                     help="refine only within PX pixels either side of the predicted outline "
                          "(default: 2%% of the photo's short side)")
    out.add_argument("--background", default="", metavar="PATH|#RRGGBB|blur",
                     help="with --infer_single_img: also write <stem>_composite.jpg, the person over this "
                          "image, colour, or the photo's own background blurred")

    paths = p.add_argument_group("paths")
    paths.add_argument("--dataset_dir", default="./dataset/selfie", help="folder with training/ and testing/")
    paths.add_argument("--checkpoint_path", default="./trained_models",
                       help="folder for {epoch:02d}-{val_loss:.2f}.h5 checkpoints and run_config.json")
    paths.add_argument("--weight_dir", default="./trained_models/initial.h5",
                       help="checkpoint to start from (train; empty: random init), to fine-tune, or to run")
    paths.add_argument("--quantize", type=variant_list, default="float32",
                       help="--convert variants, comma-separated: float32, float16, dynamic_int8, int8 "
                            "(full integer, calibrated on training images), or all")
    paths.add_argument("--tflite_name", default="",
                       help="output path stem for --convert; empty: ./trained_models/<weights>_<input_shape>")
    paths.add_argument("--refiner_size", type=refiner_size, default="", metavar="WIDTHxHEIGHT",
                       help="with --convert or --android: also write NAME_refiner.tflite, the guided refiner "
                            "(--refine=guided, --trimap_band) for photos of this size, to chain after NAME.tflite")
    paths.add_argument("--img_path", default="", help="image for --infer_single_img")
    paths.add_argument("--log_dir", default="./logs", help="TensorBoard logs, one folder per run")
    paths.add_argument("--output_dir", default="./outputs", help="where inference writes its images")
    return p


def check_combination(parser, args):
    """Refuse flag combinations that cannot work, before any heavy import."""
    training = args.train or args.finetune or args.resume
    uses_model = (training or args.convert or args.android or args.evaluate or args.infer_single_img
                  or args.infer_video)
    if not (uses_model or args.preview_augment or args.check_data):
        parser.error("nothing to do: set --train, --finetune, --resume, --check_data, --convert, --android, --evaluate or "
                     "--infer_single_img or --infer_video to True, or --preview_augment to N")
    if args.finetune and not args.weight_dir and not args.resume:
        parser.error("--finetune=True needs --weight_dir: the checkpoint to fine-tune")
    if uses_model and not training and not args.weight_dir:
        parser.error("--weight_dir is empty: --convert, --android, --evaluate, --infer_single_img and --infer_video "
                     "need a checkpoint")
    if args.refiner_size and not (args.convert or args.android):
        parser.error("--refiner_size is written by --convert=True or --android=True: set one of them")
    if args.infer_single_img and not args.img_path:
        parser.error("--infer_single_img=True needs --img_path")
    if args.infer_video and not args.video_path:
        parser.error("--infer_video=True needs --video_path (a video file, or a webcam index such as 0)")


def run(args):
    """Dispatch to the packages that do the work; returns the process exit status."""
    from utils import native_stderr_muted

    with native_stderr_muted():
        import tensorflow as tf

        tf.config.list_physical_devices()  # probes CUDA: its "no GPU" notes go to the muted stream
    from convert import tflite
    from engine import check, distribute, evaluate, infer, preview, train, video
    from engine.config import OutputConfig, TrainConfig, VideoConfig, from_flags

    training = args.train or args.finetune or args.resume
    if training:  # before any TensorFlow op: MultiWorkerMirroredStrategy and --replicas need that
        distribute.strategy_for(args.distribute, args.replicas)
    status = check.check_data(args.dataset_dir, args.val_ratio, args.seed) if args.check_data else 0
    train_size = args.input_shape or TRAINING_INPUT_SHAPE  # later modes: the checkpoint's own size unless given
    if args.preview_augment:
        preview.preview_augment(args.dataset_dir, args.augment, args.preview_augment, train_size, args.seed,
                                args.output_dir, args.copy_paste)
    weights = args.weight_dir
    if training:
        weights = train.train(dataclasses.replace(from_flags(TrainConfig, args), input_shape=train_size))
        if weights is None:  # a worker of a cluster, not its chief: the chief's command runs the later modes
            return status
    if args.convert or args.android:
        tflite.convert(weights, args.quantize if args.convert else (), args.android, args.input_shape,
                       args.tflite_name, args.dataset_dir, args.refiner_size, args.trimap_band)
    output = from_flags(OutputConfig, args)
    if args.evaluate:
        evaluate.evaluate(weights, args.dataset_dir, output)
    if args.infer_single_img:
        infer.infer_single_image(weights, args.img_path, output)
    if args.infer_video:
        video.infer_video(weights, from_flags(VideoConfig, args))
    return status


def given_flags(argv):
    """The flags named on the command line (not left at their defaults)."""
    probe = build_parser()
    for action in probe._actions:
        action.default = argparse.SUPPRESS
    return set(vars(probe.parse_args(argv)))


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    args.given = frozenset(given_flags(argv))
    check_combination(parser, args)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from utils import RunStopped, UserError

    try:
        return run(args)
    except UserError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    except RunStopped as err:
        print(f"{parser.prog}: stopped: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted; checkpoints written so far are complete", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
