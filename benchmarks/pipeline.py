"""Does the input pipeline keep up with training? Measures both on this machine.

    python benchmarks/pipeline.py --dataset_dir DATASET --input_shape 256

1. pipeline: decode + resize + default augmentation + targets, batched as in training (images/s);
2. training step: a student (lightnet unless --encoder) with the default losses on batches already in memory (images/s).
With ``--teacher X.tflite`` the pipeline also runs the teacher (as training does); with ``--teacher X.h5``
the training step does. ``--copy_paste P`` pastes people as training does. The last line reads
``pipeline_img_per_s=X train_step_img_per_s=Y``.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset_dir", required=True, help="folder with training/")
    p.add_argument("--input_shape", type=int, default=256)
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--batches", type=int, default=30, help="batches timed for each measurement")
    p.add_argument("--encoder", default="lightnet", help="the student's encoder (random weights: speed only)")
    p.add_argument("--teacher", default="", help="a .h5 or .tflite teacher, run where training runs it")
    p.add_argument("--copy_paste", type=float, default=0.0, help="as main.py's: the share of samples pasted into")
    return p.parse_args()


def pipeline_rate(pairs, args, teacher):
    from data.augment import DEFAULT_SPEC, build_augmenter
    from data.dataset import make_dataset, training_targets

    in_pipeline = teacher.probabilities if teacher and teacher.kind == "tflite" else None
    ds = make_dataset(pairs, args.input_shape, args.batch_size, training=True, seed=0,
                      augment=build_augmenter(DEFAULT_SPEC), targets=training_targets(True, False),
                      teacher=in_pipeline, copy_paste=args.copy_paste)
    iterator = iter(ds)
    for _ in range(3):
        next(iterator)
    start = time.perf_counter()
    for _ in range(args.batches):
        next(iterator)
    return args.batches * args.batch_size / (time.perf_counter() - start), ds


def train_step_rate(ds, args, train_args, teacher):
    import tensorflow as tf

    from engine.train import compile_model, loss_settings, prepare_model, student_with_teacher

    student, spec = prepare_model(train_args)
    model = student_with_teacher(student, train_args, teacher)
    compile_model(model, train_args, steps=1000, weights=loss_settings(train_args, spec))
    in_memory = tf.data.Dataset.from_tensors(next(iter(ds))).repeat()
    model.fit(in_memory, steps_per_epoch=3, epochs=1, verbose=0)  # trace and warm up
    start = time.perf_counter()
    model.fit(in_memory, steps_per_epoch=args.batches, epochs=1, verbose=0)
    return args.batches * args.batch_size / (time.perf_counter() - start)


def main():
    args = parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from data.dataset import find_pairs
    from config import TrainConfig
    from engine.distill import load_teacher

    train_args = TrainConfig(weight_dir="", input_shape=args.input_shape, batch_size=args.batch_size,
                             encoder=args.encoder, encoder_weights="none", teacher=args.teacher)
    teacher = load_teacher(args.teacher) if args.teacher else None
    kind = teacher.kind if teacher else None
    pairs = find_pairs(os.path.join(args.dataset_dir, "training"))
    pipeline, ds = pipeline_rate(pairs, args, teacher)
    print(f"pipeline: {pipeline:.1f} img/s (decode + resize + default augmentation + boundary targets"
          f"{' + the .tflite teacher' if kind == 'tflite' else ''})")
    step = train_step_rate(ds, args, train_args, teacher)
    print(f"training step: {step:.1f} img/s ({args.encoder} student, batch {args.batch_size}, {args.input_shape}x"
          f"{args.input_shape}{' + the .h5 teacher' if kind == 'h5' else ''})")
    print(f"ratio: {pipeline / step:.2f}x")
    print(f"pipeline_img_per_s={pipeline:.1f} train_step_img_per_s={step:.1f}")


if __name__ == "__main__":
    main()
