"""Training and fine-tuning: the work behind ``--train=True`` and ``--finetune=True``."""
import datetime
import math
import os
import sys

import keras

import losses
from data.augment import build_augmenter
from data.dataset import find_pairs, make_dataset, split_pairs, training_targets
from engine.callbacks import CheckpointWriter, PredictionImages
from engine.files import writable_folder, write_json
from engine.preview import augment_spec
from errors import UserError
from models.checkpoint import build, load_checkpoint, make_spec
from models.lightnet import ENCODER_PREFIX

PREVIEW_IMAGES = 4


def prepare_model(args):
    """The network to train and its spec: from ``--weight_dir`` when given, else freshly built."""
    if args.weight_dir:
        model, spec = load_checkpoint(args.weight_dir, args.input_shape)
        if args.model and args.model != spec["model"]:
            raise UserError(f"--model={args.model} but --weight_dir {args.weight_dir} holds a '{spec['model']}'")
        spec = {**spec, "input_shape": args.input_shape}
        return model, spec
    if args.finetune:
        raise UserError("--finetune=True needs --weight_dir: the checkpoint to fine-tune")
    kwargs = {"activation": args.activation} if args.activation else {}
    spec = make_spec(args.model or "lightnet", args.input_shape, boundary=args.boundary_weight > 0, **kwargs)
    return build(spec), spec


def loss_settings(args, spec):
    """The weights this run really uses: a model without a boundary head trains no boundary term."""
    has_head = bool(spec["kwargs"].get("boundary"))
    if args.boundary_weight > 0 and not has_head:
        print(f"note: {args.weight_dir} has no boundary head; the boundary term is off for this run")
    matting = args.matting_weight if args.matting_weight is not None else float(spec["model"] == "mattingnet")
    return {"loss": args.loss, "focal_weight": args.focal_weight,
            "boundary_weight": args.boundary_weight if has_head else 0.0, "matting_weight": matting}



def set_encoder_trainable(model, trainable):
    for layer in model.layers:
        if layer.name.startswith(ENCODER_PREFIX):
            layer.trainable = trainable


def learning_rate(args, steps):
    """``--lr``, constant or decayed along a cosine to 1% of it over ``steps`` steps."""
    if args.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(args.lr, decay_steps=max(1, steps), alpha=0.01)
    return args.lr


def compile_model(model, args, steps, weights):
    """Adam, the segmentation loss with its named terms as metrics, and the boundary head's loss."""
    segmentation = losses.SegmentationLoss(weights["loss"], weights["focal_weight"], weights["matting_weight"])
    metrics = losses.mask_metrics(weights["loss"], weights["matting_weight"])
    optimizer = keras.optimizers.Adam(learning_rate(args, steps))
    loss, loss_weights = {"mask": segmentation}, {"mask": 1.0}
    if weights["boundary_weight"]:
        loss["boundary"] = losses.boundary_loss
        loss_weights = {"mask": 1.0 - weights["boundary_weight"], "boundary": weights["boundary_weight"]}
    model.compile(optimizer=optimizer, loss=loss, loss_weights=loss_weights, metrics={"mask": metrics})


def preview_batch(val_ds):
    images, targets = next(iter(val_ds.unbatch().batch(PREVIEW_IMAGES)))
    return images.numpy(), targets["mask"].numpy()[..., :1]


def write_run_config(args, spec, weights, counts, log_dir, params):
    config = {**vars(args), **weights, "model_spec": spec, "pairs": counts, "run_log_dir": log_dir, "parameters": params,
              "started": datetime.datetime.now().isoformat(timespec="seconds"), "keras": keras.__version__}
    write_json(os.path.join(args.checkpoint_path, "run_config.json"), config)


def fit_phases(model, args, train_ds, val_ds, callbacks, steps_per_epoch, weights):
    """One run; a fine-tune first trains with the encoder frozen for ``--freeze_encoder`` epochs."""
    frozen = min(args.freeze_encoder, args.nb_epoch) if args.finetune else 0
    if frozen:
        print(f"fine-tune: encoder frozen for the first {frozen} epoch(s)")
        set_encoder_trainable(model, False)
        compile_model(model, args, frozen * steps_per_epoch, weights)
        model.fit(train_ds, validation_data=val_ds, epochs=frozen, callbacks=callbacks,
                  shuffle=False, verbose=args.verbose)
        set_encoder_trainable(model, True)
    if frozen < args.nb_epoch:
        compile_model(model, args, (args.nb_epoch - frozen) * steps_per_epoch, weights)
        model.fit(train_ds, validation_data=val_ds, initial_epoch=frozen, epochs=args.nb_epoch,
                  callbacks=callbacks, shuffle=False, verbose=args.verbose)


def train(args):
    """Train (or fine-tune) as the flags say; returns the path of the best checkpoint."""
    train_pairs, val_pairs = split_pairs(find_pairs(os.path.join(args.dataset_dir, "training")),
                                         args.val_ratio, args.seed)
    writable_folder(args.checkpoint_path, "--checkpoint_path")
    keras.utils.set_random_seed(args.seed)
    model, spec = prepare_model(args)
    params = int(model.count_params())
    print(f"model {spec['model']}: {params:,} parameters, input {args.input_shape}x{args.input_shape}; "
          f"{len(train_pairs)} training and {len(val_pairs)} validation pairs")

    weights = loss_settings(args, spec)
    targets = training_targets(weights["boundary_weight"] > 0, weights["matting_weight"] > 0)
    augment = build_augmenter(augment_spec(args))
    train_ds = make_dataset(train_pairs, args.input_shape, args.batch_size, training=True, seed=args.seed,
                            augment=augment, targets=targets)
    val_ds = make_dataset(val_pairs, args.input_shape, args.batch_size, training=False, targets=targets)
    run_name = f"{os.path.basename(os.path.normpath(args.checkpoint_path))}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    log_dir = os.path.join(writable_folder(args.log_dir, "--log_dir"), run_name)
    write_run_config(args, spec, weights, {"training": len(train_pairs), "validation": len(val_pairs)}, log_dir, params)

    checkpoints = CheckpointWriter(args.checkpoint_path, spec, args.checkpoint)
    callbacks = [checkpoints, keras.callbacks.TensorBoard(log_dir, write_graph=False),
                 PredictionImages(log_dir, *preview_batch(val_ds)), keras.callbacks.TerminateOnNaN()]
    fit_phases(model, args, train_ds, val_ds, callbacks, math.ceil(len(train_pairs) / args.batch_size), weights)
    if checkpoints.best_path is None:
        raise UserError("training produced no checkpoint: the validation loss was never finite")
    print(f"best checkpoint: {checkpoints.best_path} (val_loss {checkpoints.best_loss:.4f}); "
          f"TensorBoard: tensorboard --logdir={args.log_dir}")
    sys.stdout.flush()
    return checkpoints.best_path
