"""portrait-segmentation: train, fine-tune, run and export portrait segmentation networks.

Modes run in this order: check_data -> preview_augment -> train / fine-tune / resume -> convert ->
evaluate -> infer -> infer_video. After training, the later modes use the run's best checkpoint.
"""
import argparse
import dataclasses
import os
import sys

import config
from config import ExportConfig, OutputConfig, ServeConfig, TrainConfig, VideoConfig, from_flags
from engine import serve


class Parser(argparse.ArgumentParser):
    """argparse, with errors as one line and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser():
    """The command line of config.py's schema: every flag in its --help group."""
    parser = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    groups = {name: parser.add_argument_group(title) for name, title in config.GROUPS.items()}
    for f in config.flags():
        meta = f.metadata
        bounds = f"in {meta['range']}; " if meta["range"] else ""
        help_line = f"{meta['help']} ({bounds}default: {config.shown_default(f)})"
        groups[meta["group"]].add_argument(f"--{f.name}", type=config.parser(f), default=f.default,
                                           choices=meta["choices"] or None, metavar=meta["metavar"],
                                           help=help_line.replace("%", "%%"))
    return parser


def check_combination(parser, args):
    """Refuse flag combinations that cannot work, before any heavy import."""
    training = args.train or args.finetune or args.resume
    uses_model = (training or args.convert or args.android or args.evaluate or args.infer_single_img
                  or args.infer_video)
    if not (uses_model or args.preview_augment or args.check_data or args.serve):
        parser.error("nothing to do: set --train, --finetune, --resume, --check_data, --convert, --android, --evaluate, "
                     "--infer_single_img, --infer_video or --serve to True, or --preview_augment to N")
    if args.serve and (uses_model or args.preview_augment or args.check_data):
        parser.error("--serve=True runs alone (it serves until stopped): set the other modes to False")
    if args.serve and not args.weight_dir:
        parser.error("--serve=True needs --weight_dir: the .tflite export (or .h5 checkpoint) to serve")
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


def needs_tensorflow(args):
    """Everything but running a ``.tflite`` on photos or a test set needs TensorFlow; that alone starts in seconds."""
    return any((args.train, args.finetune, args.resume, args.check_data, args.preview_augment, args.convert,
                args.android, args.infer_video, not args.weight_dir.endswith(".tflite")))


def run(args):
    """Dispatch to the packages that do the work; returns the process exit status."""
    if args.serve:  # alone (check_combination); a .tflite is served without TensorFlow
        return serve.serve(from_flags(ServeConfig, args), from_flags(ExportConfig, args))
    from utils import native_stderr_muted

    if needs_tensorflow(args):
        with native_stderr_muted():
            import tensorflow as tf

            tf.config.list_physical_devices()  # probes CUDA: its "no GPU" notes go to the muted stream
        from convert import tflite
        from engine import check, distribute, preview, train, video
    from engine import evaluate, infer

    training = args.train or args.finetune or args.resume
    if training:  # before any TensorFlow op: MultiWorkerMirroredStrategy and --replicas need that
        distribute.strategy_for(args.distribute, args.replicas)
    status = check.check_data(args.dataset_dir, args.val_ratio, from_flags(TrainConfig, args).data_split_seed) \
        if args.check_data else 0
    train_size = args.input_shape or config.TRAINING_INPUT_SHAPE  # later modes: the checkpoint's own size unless given
    if args.preview_augment:
        preview.preview_augment(args.dataset_dir, args.augment, args.preview_augment, train_size, args.seed,
                                args.output_dir, args.copy_paste)
    weights = args.weight_dir
    if training:
        weights = train.train(dataclasses.replace(from_flags(TrainConfig, args), input_shape=train_size))
        if weights is None:  # a worker of a cluster, not its chief: the chief's command runs the later modes
            return status
    if args.convert or args.android:
        export = from_flags(ExportConfig, args)
        tflite.convert(weights, export if args.convert else dataclasses.replace(export, quantize=()))
    output = from_flags(OutputConfig, args)
    if args.evaluate:
        evaluate.evaluate(weights, args.dataset_dir, output)
    if args.infer_single_img:
        infer.infer_photos(weights, args.img_path, output)
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
