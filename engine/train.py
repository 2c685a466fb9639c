"""Training and fine-tuning: the work behind ``--train=True``, ``--finetune=True`` and ``--resume=True``."""
import datetime
import functools
import math
import os
import sys

import keras

import losses
from data.augment import build_augmenter
from data.dataset import dataset_dirs, find_pairs, make_dataset, name_list, set_names, split_pairs, training_targets
from data.scan import scan_pairs, size_text
from engine.callbacks import (LAST_CHECKPOINT, STATE_FILE, CheckpointWriter, PerSetValidation, PredictionImages,
                              SkippedSamples, StopOnNonFinite)
from engine.preview import augment_spec
from models import encoders
from models.checkpoint import build, default_kwarg, load_checkpoint, make_spec, restore_optimizer, saved_epoch
from utils import RunStopped, UserError, read_json, warn, writable_folder, write_json

PREVIEW_IMAGES = 4
RUN_CONFIG = "run_config.json"


def prepare_model(args):
    """The network to train and its spec: from ``--weight_dir`` when given, else freshly built."""
    return checkpoint_model(args) if args.weight_dir else fresh_model(args)


def checkpoint_model(args):
    if args.encoder_weights:
        raise UserError(f"--encoder_weights={args.encoder_weights} is for a fresh model, but --weight_dir "
                        f"{args.weight_dir} brings its own weights (give --weight_dir= to start fresh)")
    model, spec = load_checkpoint(args.weight_dir, args.input_shape)
    if args.model and args.model != spec["model"]:
        raise UserError(f"--model={args.model} but --weight_dir {args.weight_dir} holds a '{spec['model']}'")
    for flag, default in (("width", 1.0), ("encoder", encoders.OWN), ("activation", default_kwarg(spec, "activation"))):
        built = spec["kwargs"].get(flag, default)
        if getattr(args, flag) and getattr(args, flag) != built:
            raise UserError(f"--{flag}={getattr(args, flag)} but --weight_dir {args.weight_dir} "
                            f"was built with {flag} {built}")
    return model, {**spec, "input_shape": args.input_shape}


def fresh_model(args):
    """A new network; a keras.applications encoder starts from --encoder_weights (default: imagenet)."""
    kwargs = {name: getattr(args, name) for name in ("activation", "width") if getattr(args, name)}
    pretrained = args.encoder not in (None, encoders.OWN)
    if pretrained:
        kwargs["encoder"] = args.encoder
    elif args.encoder_weights not in (None, "none"):
        raise UserError(f"--encoder_weights={args.encoder_weights}: the lightnet encoder has no pretrained weights; "
                        f"choose a keras.applications --encoder")
    spec = make_spec(args.model or "lightnet", args.input_shape, boundary=args.boundary_weight > 0, **kwargs)
    model = build(spec)
    weights = args.encoder_weights or "imagenet"
    if pretrained and weights != "none":
        encoders.load_encoder_weights(model, args.encoder, weights)
        print(f"encoder {args.encoder}: weights from {weights}")
    return model, spec


# What a resumed run takes from its run_config.json: the split, the data, the schedule, the loss, the model.
RESUME_FIXED = ("input_shape", "dataset_dir", "val_ratio", "seed", "split_seed", "batch_size", "lr", "lr_schedule",
                "finetune", "freeze_encoder", "monitor", "augment", "loss", "focal_weight", "focal_gamma", "focal_alpha",
                "dice_weight", "boundary_weight", "boundary_loss", "matting_weight", "model", "encoder", "width",
                "activation", "encoder_weights", "weight_dir")


def adopt_record(args, given):
    """For --resume=True: the interrupted run's own settings replace the flags' defaults; a flag given on the
    command line (``given``) that disagrees with the record is refused with one line naming both values."""
    record = read_json(os.path.join(args.checkpoint_path, RUN_CONFIG))
    for flag in (f for f in RESUME_FIXED if f in record):
        if flag in given and getattr(args, flag) != record[flag]:
            raise UserError(f"--resume=True: --{flag}={getattr(args, flag)} but the run in {args.checkpoint_path} "
                            f"used --{flag}={record[flag]} (only --nb_epoch and output flags may change)")
        setattr(args, flag, record[flag])


def resume_state(args):
    """The interrupted run in ``--checkpoint_path``: model, spec, epochs done, best so far, log folder."""
    last = os.path.join(args.checkpoint_path, LAST_CHECKPOINT)
    previous = read_json(os.path.join(args.checkpoint_path, RUN_CONFIG))
    if not os.path.isfile(last):
        if not previous:
            raise UserError(f"--resume=True: {args.checkpoint_path} holds no {LAST_CHECKPOINT} to resume from")
        print(f"note: the run in {args.checkpoint_path} stopped before its first epoch ended; starting it again")
        return {**fresh_state(args), "log_dir": previous.get("run_log_dir")}
    model, spec = load_checkpoint(last, args.input_shape, flag="--resume")
    state = read_json(os.path.join(args.checkpoint_path, STATE_FILE))
    same_monitor = state.get("monitor") == args.monitor
    return {"model": model, "spec": spec, "done": saved_epoch(last), "last": last,
            "best": state.get("best_value") if same_monitor else None,
            "best_path": os.path.join(args.checkpoint_path, state["best"]) if state.get("best") else None,
            "log_dir": previous.get("run_log_dir")}


def fresh_state(args):
    model, spec = prepare_model(args)
    return {"model": model, "spec": spec, "done": 0, "best": None, "best_path": None, "log_dir": None}


def loss_settings(args, spec):
    """The weights this run really uses: a model without a boundary head trains no boundary term."""
    has_head = bool(spec["kwargs"].get("boundary"))
    if args.boundary_weight > 0 and not has_head:
        print(f"note: {args.weight_dir} has no boundary head; the boundary term is off for this run")
    matting = args.matting_weight if args.matting_weight is not None else float(spec["model"] == "mattingnet")
    return {"loss": args.loss, "focal_weight": args.focal_weight, "focal_gamma": args.focal_gamma,
            "focal_alpha": args.focal_alpha, "dice_weight": args.dice_weight,
            "boundary_weight": args.boundary_weight if has_head else 0.0, "boundary_loss": args.boundary_loss,
            "matting_weight": matting}


def usable(pairs, split):
    """``pairs`` without the unusable ones, each named in a warning; how many were left out."""
    report = scan_pairs(pairs)
    if not report.good:
        raise UserError(f"no usable {split} pairs: all {len(pairs)} have unreadable files: "
                        f"{name_list([path for path, _ in report.bad])}")
    for path, reason in report.bad:
        warn(f"skipping unusable {split} pair: {path}: {reason}")
    for matte, matte_size, image_size in report.resized:
        warn(f"{matte} is {size_text(matte_size)} but its image is {size_text(image_size)}: resized with the image")
    return report.good, len(report.bad)


def set_encoder_trainable(model, trainable):
    for layer in encoders.encoder_layers(model):
        layer.trainable = trainable


def learning_rate(args, steps):
    """``--lr``, constant or decayed along a cosine to 1% of it over ``steps`` steps."""
    if args.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(args.lr, decay_steps=max(1, steps), alpha=0.01)
    return args.lr


def compile_model(model, args, steps, weights):
    """Adam, the segmentation loss on the person's logit with its named terms as metrics of the mask, and
    the boundary head's loss."""
    focal = {"focal_gamma": weights["focal_gamma"], "focal_alpha": weights["focal_alpha"]}
    segmentation = losses.SegmentationLoss(weights["loss"], weights["focal_weight"], weights["matting_weight"],
                                           weights["dice_weight"], **focal)
    metrics = losses.mask_metrics(weights["loss"], weights["matting_weight"], weights["dice_weight"], **focal)
    loss, loss_weights = {"person_logit": segmentation}, {"person_logit": 1.0}
    if weights["boundary_weight"]:
        loss["boundary"] = losses.BOUNDARY_LOSSES[weights["boundary_loss"]]
        loss_weights = {"person_logit": 1.0 - weights["boundary_weight"], "boundary": weights["boundary_weight"]}
    model.compile(optimizer=keras.optimizers.Adam(learning_rate(args, steps)), loss=loss,
                  loss_weights=loss_weights, metrics={"mask": metrics})


def preview_batch(val_ds):
    images, targets = next(iter(val_ds.unbatch().batch(PREVIEW_IMAGES)))
    return images.numpy(), targets["mask"].numpy()[..., :1]


def write_run_config(args, run, weights, counts, params):
    flags = {k: v for k, v in vars(args).items() if k != "given"}
    config = {**flags, **weights, "model_spec": run["spec"], "pairs": counts, "run_log_dir": run["log_dir"],
              "parameters": params, "resumed_at_epoch": run["done"] or None,
              "started": datetime.datetime.now().isoformat(timespec="seconds"), "keras": keras.__version__}
    write_json(os.path.join(args.checkpoint_path, RUN_CONFIG), config)


def fit_phases(model, args, data, callbacks, weights, run):
    """One run from epoch ``run["done"]``; a fine-tune first trains with the encoder frozen for
    ``--freeze_encoder`` epochs. A resumed phase gets its optimizer state back. ``data`` is
    ``(training stream from an epoch, validation set, steps per epoch)``."""
    train_from, val_ds, steps = data
    frozen = min(args.freeze_encoder, args.nb_epoch) if args.finetune else 0
    for start, end, trainable in ((0, frozen, False), (frozen, args.nb_epoch, True)):
        begin = max(start, run["done"])
        if begin >= end:
            continue
        if not trainable:
            print(f"fine-tune: encoder frozen for the first {frozen} epoch(s)")
        set_encoder_trainable(model, trainable)
        compile_model(model, args, (end - start) * steps, weights)
        if begin > start and not restore_optimizer(model, run["last"]):
            warn("the optimizer state in last.h5 does not fit this phase: it restarts")
        model.fit(train_from(first_epoch=begin), validation_data=val_ds, initial_epoch=begin, epochs=end, steps_per_epoch=steps,
                  callbacks=callbacks, shuffle=False, verbose=args.verbose)
        if model.stop_training:
            return


def split_seed(args):
    return args.seed if args.split_seed is None else args.split_seed


def split_sets(dataset_dir, val_ratio, seed):
    """Each folder's training/ pairs split on its own: {set name: (training pairs, validation pairs)}, and how
    many unusable pairs were left out."""
    folders, sets, skipped = dataset_dirs(dataset_dir), {}, 0
    for name, folder in zip(set_names(folders), folders):
        train_pairs, val_pairs = split_pairs(find_pairs(os.path.join(folder, "training")), val_ratio, seed)
        (train_pairs, bad_train), (val_pairs, bad_val) = usable(train_pairs, "training"), usable(val_pairs, "validation")
        sets[name], skipped = (train_pairs, val_pairs), skipped + bad_train + bad_val
    return sets, skipped


def per_set_validation(sets, args, targets):
    """With several datasets, a callback adding val_<set>_iou for each one to the epoch's figures."""
    if len(sets) < 2:
        return []
    return [PerSetValidation({name: make_dataset(val, args.input_shape, args.batch_size, training=False,
                                                 targets=targets) for name, (_, val) in sets.items()})]


def train(args):
    """Train, fine-tune or resume as the flags say; returns the path of the best checkpoint."""
    if args.resume:
        adopt_record(args, getattr(args, "given", set()))
    sets, skipped = split_sets(args.dataset_dir, args.val_ratio, split_seed(args))
    train_pairs = [pair for pairs, _ in sets.values() for pair in pairs]
    val_pairs = [pair for _, pairs in sets.values() for pair in pairs]
    keras.utils.set_random_seed(args.seed)
    run = resume_state(args) if args.resume else fresh_state(args)
    writable_folder(args.checkpoint_path, "--checkpoint_path")
    if run["done"] >= args.nb_epoch:
        print(f"--resume: the run in {args.checkpoint_path} already completed {run['done']} epochs")
        return run["best_path"] or run["last"]
    model, spec = run["model"], run["spec"]
    params = int(model.count_params())
    print(f"model {spec['model']}: {params:,} parameters, input {args.input_shape}x{args.input_shape}; "
          f"{len(train_pairs)} training and {len(val_pairs)} validation pairs"
          + (f"; resuming after epoch {run['done']}" if run["done"] else ""))

    weights = loss_settings(args, spec)
    targets = training_targets(weights["boundary_weight"] > 0, weights["matting_weight"] > 0)
    train_from = functools.partial(make_dataset, train_pairs, args.input_shape, args.batch_size, training=True,
                                   seed=args.seed, augment=build_augmenter(augment_spec(args)), targets=targets)
    val_ds = make_dataset(val_pairs, args.input_shape, args.batch_size, training=False, targets=targets)
    if not run["log_dir"]:
        name = f"{os.path.basename(os.path.normpath(args.checkpoint_path))}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
        run["log_dir"] = os.path.join(writable_folder(args.log_dir, "--log_dir"), name)
    counts = {"training": len(train_pairs), "validation": len(val_pairs), "skipped": skipped,
              "per_set": {name: {"training": len(t), "validation": len(v)} for name, (t, v) in sets.items()}}
    write_run_config(args, run, weights, counts, params)

    checkpoints = CheckpointWriter(args.checkpoint_path, spec, args.checkpoint, args.monitor, run["best"],
                                   run["best_path"])
    guard = StopOnNonFinite()
    callbacks = [SkippedSamples(skipped), guard, *per_set_validation(sets, args, targets), checkpoints, keras.callbacks.TensorBoard(run["log_dir"],
                 write_graph=False), PredictionImages(run["log_dir"], *preview_batch(val_ds))]
    fit_phases(model, args, (train_from, val_ds, math.ceil(len(train_pairs) / args.batch_size)), callbacks, weights,
               run)
    if guard.stopped_at:
        raise RunStopped(f"training stopped in epoch {guard.stopped_at}: the loss became NaN or infinite "
                         f"(try a lower --lr); last good checkpoint: {checkpoints.best_path or 'none'}")
    if checkpoints.best_path is None:
        raise RunStopped("training produced no checkpoint: the validation loss was never finite")
    print(f"best checkpoint: {checkpoints.best_path} ({args.monitor} {checkpoints.best:.4f}); "
          f"TensorBoard: tensorboard --logdir={args.log_dir}")
    sys.stdout.flush()
    return checkpoints.best_path
