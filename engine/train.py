"""Training and fine-tuning: the work behind ``--train=True``, ``--finetune=True`` and ``--resume=True``."""
import dataclasses
import datetime
import functools
import os
import sys
from dataclasses import dataclass
from typing import Optional

import keras

import losses
from config import FIXED, KEPT, TrainConfig, on_resume
from data import prior
from data.augment import build_augmenter
from data.dataset import (SPLIT, find_pairs, has_companions, make_dataset, oversampled, set_names, split_pairs,
                          training_targets, unlabeled_images, weighted_dirs)
from data.scan import usable
from engine.callbacks import (LAST_CHECKPOINT, STATE_FILE, CheckpointWriter, PerSetValidation, PredictionImages,
                              SkippedSamples, StopOnNonFinite)
from engine import distribute
from engine.distill import DistillingModel, load_teacher
from models import channels, encoders
from models.checkpoint import (build, default_kwarg, load_checkpoint, make_spec, restore_optimizer, saved_epoch,
                               with_channels)
from utils import RunStopped, UserError, read_json, warn, writable_folder, write_json

PREVIEW_IMAGES = 4
RUN_CONFIG = "run_config.json"


@dataclass
class Run:
    """Where a run starts: its network and spec, the epochs already done, the best checkpoint so far
    (when resumed), the last.h5 it resumes from, and its TensorBoard folder."""
    model: keras.Model
    spec: dict
    done: int = 0
    best: Optional[float] = None
    best_path: Optional[str] = None
    last: Optional[str] = None
    log_dir: Optional[str] = None


def prepare_model(config):
    """The network to train and its spec: from ``--weight_dir`` when given, else freshly built."""
    return checkpoint_model(config) if config.weight_dir else fresh_model(config)


def checkpoint_model(config):
    if config.encoder_weights:
        raise UserError(f"--encoder_weights={config.encoder_weights} is for a fresh model, but --weight_dir "
                        f"{config.weight_dir} brings its own weights (give --weight_dir= to start fresh)")
    model, spec = load_checkpoint(config.weight_dir, config.input_shape)
    model, spec = with_channels(model, spec, config.input_channels, config.weight_dir, config.input_shape)
    if config.model and config.model != spec["model"]:
        raise UserError(f"--model={config.model} but --weight_dir {config.weight_dir} holds a '{spec['model']}'")
    for flag, default in (("width", 1.0), ("encoder", encoders.OWN), ("activation", default_kwarg(spec, "activation"))):
        built = spec["kwargs"].get(flag, default)
        if getattr(config, flag) and getattr(config, flag) != built:
            raise UserError(f"--{flag}={getattr(config, flag)} but --weight_dir {config.weight_dir} "
                            f"was built with {flag} {built}")
    return model, {**spec, "input_shape": config.input_shape}


def fresh_model(config):
    """A new network; a keras.applications encoder starts from --encoder_weights (default: imagenet)."""
    kwargs = {name: getattr(config, name) for name in ("activation", "width", "input_channels")
              if getattr(config, name)}
    pretrained = config.encoder not in (None, encoders.OWN)
    if pretrained:
        kwargs["encoder"] = config.encoder
    elif config.encoder_weights not in (None, "none"):
        raise UserError(f"--encoder_weights={config.encoder_weights}: the lightnet encoder has no pretrained weights; "
                        f"choose a keras.applications --encoder")
    spec = make_spec(config.model or "lightnet", config.input_shape, boundary=config.boundary_weight > 0, **kwargs)
    model = build(spec)
    weights = config.encoder_weights or "imagenet"
    if pretrained and weights != "none":
        encoders.load_encoder_weights(model, config.encoder, weights)
        print(f"encoder {config.encoder}: weights from {weights}")
    return model, spec


def adopt_record(config):
    """For --resume=True: ``config`` with the interrupted run's own settings (config.py's FIXED and KEPT flags)
    in place of the defaults; a FIXED flag named on the command line (``config.given``) that disagrees with the
    record is refused with one line naming both values, a KEPT one given replaces the record's."""
    record = read_json(os.path.join(config.checkpoint_path, RUN_CONFIG))
    fixed = {flag: record[flag] for flag in on_resume(FIXED) if flag in record}
    for flag, value in fixed.items():
        if flag in config.given and getattr(config, flag) != value:
            raise UserError(f"--resume=True: --{flag}={getattr(config, flag)} but the run in {config.checkpoint_path} "
                            f"used --{flag}={value} (only --nb_epoch and output flags may change)")
    kept = {flag: record[flag] for flag in on_resume(KEPT) if flag in record and flag not in config.given}
    return dataclasses.replace(config, **fixed, **kept)


def resume_state(config):
    """The interrupted run in ``--checkpoint_path``: model, spec, epochs done, best so far, log folder."""
    last = os.path.join(config.checkpoint_path, LAST_CHECKPOINT)
    previous = read_json(os.path.join(config.checkpoint_path, RUN_CONFIG))
    if not os.path.isfile(last):
        if not previous:
            raise UserError(f"--resume=True: {config.checkpoint_path} holds no {LAST_CHECKPOINT} to resume from")
        print(f"note: the run in {config.checkpoint_path} stopped before its first epoch ended; starting it again")
        return dataclasses.replace(fresh_state(config), log_dir=previous.get("run_log_dir"))
    model, spec = load_checkpoint(last, config.input_shape, flag="--resume")
    state = read_json(os.path.join(config.checkpoint_path, STATE_FILE))
    same_monitor = state.get("monitor") == config.monitor
    return Run(model, spec, done=saved_epoch(last), last=last, best=state.get("best_value") if same_monitor else None,
               best_path=os.path.join(config.checkpoint_path, state["best"]) if state.get("best") else None,
               log_dir=previous.get("run_log_dir"))


def fresh_state(config):
    return Run(*prepare_model(config))


def loss_settings(config, spec):
    """The weights this run really uses: a model without a boundary head trains no boundary term."""
    has_head = bool(spec["kwargs"].get("boundary"))
    if config.boundary_weight > 0 and not has_head:
        print(f"note: {config.weight_dir} has no boundary head; the boundary term is off for this run")
    matting = config.matting_weight if config.matting_weight is not None else float(spec["model"] == "mattingnet")
    return {"loss": config.loss, "focal_weight": config.focal_weight, "focal_gamma": config.focal_gamma,
            "focal_alpha": config.focal_alpha, "dice_weight": config.dice_weight,
            "boundary_weight": config.boundary_weight if has_head else 0.0, "boundary_loss": config.boundary_loss,
            "matting_weight": matting}


def with_companions(weights: dict, pairs: list) -> bool:
    """Whether the samples carry F and B for the matting loss: NAME_fg.png and NAME_bg.png beside every
    pair (a pseudo-alpha cache, data/pseudo_alpha.py)."""
    if not weights["matting_weight"] or not has_companions(pairs):
        return False
    print("matting: every pair has NAME_fg.png and NAME_bg.png; the compositional term swaps in another sample's "
          "background")
    return True


def set_encoder_trainable(model, trainable):
    for layer in encoders.encoder_layers(model):
        layer.trainable = trainable


def learning_rate(config, steps):
    """``--lr``, constant or decayed along a cosine to 1% of it over ``steps`` steps."""
    if config.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(config.lr, decay_steps=max(1, steps), alpha=0.01)
    return config.lr


def compile_model(model, config, steps, weights):
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
    model.compile(optimizer=keras.optimizers.Adam(learning_rate(config, steps)), loss=loss,
                  loss_weights=loss_weights, metrics={"mask": metrics}, jit_compile=config.jit_compile)


def preview_batch(val_ds):
    images, targets = next(iter(val_ds.unbatch().batch(PREVIEW_IMAGES)))
    return images.numpy(), targets["mask"].numpy()[..., :1]


def write_run_config(config, run, weights, counts, params, teacher=None):
    record = {**config.settings(), **weights, "split": split_method(config), "model_spec": run.spec, "pairs": counts,
              "run_log_dir": run.log_dir, "teacher_model": teacher.record() if teacher else None,
              "parameters": params, "resumed_at_epoch": run.done or None,
              "started": datetime.datetime.now().isoformat(timespec="seconds"), "keras": keras.__version__}
    write_json(os.path.join(config.checkpoint_path, RUN_CONFIG), record)


def fit_phases(model, config, data, callbacks, weights, run):
    """One run from epoch ``run.done``; a fine-tune first trains with the encoder frozen for
    ``--freeze_encoder`` epochs. A resumed phase gets its optimizer state back. ``data`` is
    ``(training stream from an epoch, (validation set, its steps), steps per epoch)``."""
    train_from, (val_ds, val_steps), steps = data
    frozen = min(config.freeze_encoder, config.nb_epoch) if config.finetune else 0
    for start, end, trainable in ((0, frozen, False), (frozen, config.nb_epoch, True)):
        begin = max(start, run.done)
        if begin >= end:
            continue
        if not trainable:
            print(f"fine-tune: encoder frozen for the first {frozen} epoch(s)")
        set_encoder_trainable(model, trainable)
        compile_model(model, config, (end - start) * steps, weights)
        if begin > start and not restore_optimizer(model, run.last):
            warn("the optimizer state in last.h5 does not fit this phase: it restarts")
        model.fit(train_from(first_epoch=begin), validation_data=val_ds, validation_steps=val_steps,
                  initial_epoch=begin, epochs=end, steps_per_epoch=steps, callbacks=callbacks, shuffle=False,
                  verbose=config.verbose)
        if model.stop_training:
            return


def split_method(config):
    """How this run splits its pairs (data/dataset.py's ``split_pairs``): a resumed run as its run_config.json
    records, "shuffle" when it records none (a run from before the hash split)."""
    if not config.resume:
        return SPLIT
    return read_json(os.path.join(config.checkpoint_path, RUN_CONFIG)).get("split", "shuffle")


def split_sets(dataset_dir, val_ratio, seed, method):
    """Each folder's training/ pairs split on its own: {set name: (training pairs, validation pairs)}, the
    training pairs repeated by the folder's sampling weight, and how many unusable pairs were left out."""
    weighted, sets, skipped = weighted_dirs(dataset_dir), {}, 0
    for name, (folder, weight) in zip(set_names([f for f, _ in weighted]), weighted):
        train_pairs, val_pairs = split_pairs(find_pairs(os.path.join(folder, "training")), val_ratio, seed, method)
        (train_pairs, bad_train), (val_pairs, bad_val) = usable(train_pairs, "training"), usable(val_pairs, "validation")
        sets[name], skipped = (oversampled(train_pairs, weight, seed), val_pairs), skipped + bad_train + bad_val
    return sets, skipped


def pooled(sets):
    """All sets' training pairs and all their validation pairs."""
    return ([pair for pairs, _ in sets.values() for pair in pairs],
            [pair for _, pairs in sets.values() for pair in pairs])


def per_set_validation(sets, config, validation, strategy):
    """With several datasets, a callback adding val_<set>_iou for each one to the epoch's figures."""
    if len(sets) < 2:
        return []
    return [PerSetValidation({name: distribute.per_replica_validation(strategy, validation, val, config.batch_size)
                              for name, (_, val) in sets.items()})]


def prepare_teacher(config):
    """The --teacher, loaded before any other work (None without one); --unlabeled_dir needs one."""
    if config.unlabeled_dir and not config.teacher:
        raise UserError(f"--unlabeled_dir={config.unlabeled_dir}: photos without mattes train only through a "
                        f"--teacher's labels; give --teacher")
    if not config.teacher:
        return None
    teacher = load_teacher(config.teacher)
    print(f"teacher: {config.teacher} ({teacher.kind}, input {teacher.size}x{teacher.size}), distillation weight "
          f"{config.distill_weight}, temperature {config.distill_temperature}")
    return teacher


def unlabeled(config):
    """The usable photos of --unlabeled_dir, as pairs without a matte, and how many were left out."""
    return usable(unlabeled_images(config.unlabeled_dir), "unlabeled") if config.unlabeled_dir else ([], 0)


def train(config: TrainConfig):
    """Train, fine-tune or resume as ``config`` says; returns the path of the best checkpoint (None on a
    worker of a cluster that is not its chief: only the chief writes files)."""
    config = adopt_record(config) if config.resume else config
    strategy = distribute.strategy_for(config.distribute, config.replicas)  # before any other TensorFlow work
    teacher = prepare_teacher(config)
    sets, skipped = split_sets(config.dataset_dir, config.val_ratio, config.data_split_seed, split_method(config))
    distribute.check_batch(config.batch_size, len(pooled(sets)[0]), strategy)
    distribute.check_validation([len(val) for _, val in sets.values()], strategy)
    distribute.check_devices(config.mixed_precision, config.jit_compile, strategy)
    keras.utils.set_random_seed(config.seed)
    with strategy.scope(), distribute.precision(config.mixed_precision):
        run = resume_state(config) if config.resume else fresh_state(config)
    distribute.synchronize_batchnorm(run.model, strategy, config.batch_size)
    if distribute.is_chief(strategy):
        writable_folder(config.checkpoint_path, "--checkpoint_path")
    if run.done >= config.nb_epoch:
        print(f"--resume: the run in {config.checkpoint_path} already completed {run.done} epochs")
        return run.best_path or run.last
    train_pairs, val_pairs = pooled(sets)
    print(f"model {run.spec['model']}: {run.model.count_params():,} parameters, input {config.input_shape}x"
          f"{config.input_shape}; {len(train_pairs)} training and {len(val_pairs)} validation pairs"
          + (f"; resuming after epoch {run.done}" if run.done else ""))
    print(distribute.describe(strategy))
    with strategy.scope(), distribute.precision(config.mixed_precision), distribute.cluster_failures(strategy):
        checkpoints, guard = fit_run(config, run, sets, skipped, teacher)
    if guard.stopped_at:
        raise RunStopped(f"training stopped in epoch {guard.stopped_at}: the loss became NaN or infinite "
                         f"(try a lower --lr); last good checkpoint: {checkpoints.best_path or 'none'}")
    if not distribute.is_chief(strategy):
        print(f"this worker is done; the chief wrote the checkpoints in {config.checkpoint_path}")
        return None
    if checkpoints.best_path is None:
        raise RunStopped("training produced no checkpoint: the validation loss was never finite")
    print(f"best checkpoint: {checkpoints.best_path} ({config.monitor} {checkpoints.best:.4f}); "
          f"TensorBoard: tensorboard --logdir={config.log_dir}")
    sys.stdout.flush()
    return checkpoints.best_path


def student_with_teacher(model, config, teacher):
    """The network to fit: the student itself, or with a teacher the same network distilling from it."""
    if teacher is None:
        return model
    return DistillingModel(model, teacher.probabilities, config.distill_weight, config.distill_temperature)


def fit_run(config, run, sets, skipped, teacher=None):
    """Data, record, callbacks and the fit itself; returns the checkpoint writer and the non-finite guard."""
    train_pairs, val_pairs = pooled(sets)
    photos, skipped_photos = unlabeled(config)
    weights = loss_settings(config, run.spec)
    targets = training_targets(weights["boundary_weight"] > 0, weights["matting_weight"] > 0)
    companions = with_companions(weights, train_pairs + photos + val_pairs)
    augment, targets = prior.training_pipeline(build_augmenter(config.augment), targets,
                                               channels.spec_channels(run.spec), config)  # RGB + prior: data/prior.py
    in_pipeline = teacher.probabilities if teacher and teacher.kind == "tflite" else None
    strategy = run.model.distribute_strategy
    train_from = functools.partial(make_dataset, train_pairs + photos, config.input_shape, config.batch_size,
                                   training=True, seed=config.seed, augment=augment,
                                   targets=targets, teacher=in_pipeline, cache=config.cache, companions=companions,
                                   copy_paste=config.copy_paste)
    train_from = distribute.per_replica_stream(strategy, train_from, config.batch_size)
    validation = functools.partial(make_dataset, size=config.input_shape, batch_size=config.batch_size,
                                   training=False, targets=targets, cache=config.cache, companions=companions)
    val_data = distribute.per_replica_validation(strategy, validation, val_pairs, config.batch_size)
    if not run.log_dir:
        name = f"{os.path.basename(os.path.normpath(config.checkpoint_path))}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
        run.log_dir = os.path.join(writable_folder(config.log_dir, "--log_dir") if distribute.is_chief(strategy)
                                   else config.log_dir, name)
    counts = {"training": len(train_pairs), "validation": len(val_pairs), "unlabeled": len(photos),
              "skipped": skipped + skipped_photos,
              "per_set": {name: {"training": len(t), "validation": len(v)} for name, (t, v) in sets.items()}}
    if distribute.is_chief(strategy):
        write_run_config(config, run, weights, counts, int(run.model.count_params()), teacher)
    checkpoints = CheckpointWriter(config.checkpoint_path, run.spec, config.checkpoint, config.monitor, run.best,
                                   run.best_path)
    guard = StopOnNonFinite()

    def writers():  # the callbacks that write files: the chief's alone
        return [checkpoints, keras.callbacks.TensorBoard(run.log_dir, write_graph=False),
                PredictionImages(run.log_dir, *preview_batch(validation(val_pairs)))]
    callbacks = [SkippedSamples(skipped + skipped_photos), guard,
                 *per_set_validation(sets, config, validation, strategy),
                 *distribute.chief_only(writers, strategy)]
    steps = distribute.steps_per_epoch(len(train_pairs) + len(photos), config.batch_size, strategy)
    fit_phases(student_with_teacher(run.model, config, teacher), config, (train_from, val_data, steps), callbacks,
               weights, run)
    return checkpoints, guard
