"""How much does a teacher say beyond the hand labels? Measured on augmented training views, as
distillation sees them.

    python benchmarks/teacher_agreement.py --teacher TEACHER.h5 --dataset_dir DATASET [--dataset_dir DATASET ...] \
        --input_shape 160

Prints the mean |p_teacher - label|, the share of pixels where teacher and label disagree (at 0.5),
the teacher's cross-entropy against the label, and the share of pixels where it is unsure.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", required=True, help="a .h5 checkpoint or .tflite export")
    p.add_argument("--dataset_dir", action="append", required=True, help="a folder with training/ (repeatable)")
    p.add_argument("--input_shape", type=int, default=160, help="the student's input size")
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--batches", type=int, default=12)
    p.add_argument("--seed", type=int, default=5)
    return p.parse_args()


def main():
    args = parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np

    from data.augment import DEFAULT_SPEC, build_augmenter
    from data.dataset import find_pairs, make_dataset, training_targets
    from engine.distill import load_teacher

    teacher = load_teacher(args.teacher)
    pairs = [pair for folder in args.dataset_dir for pair in find_pairs(os.path.join(folder, "training"))]
    ds = make_dataset(pairs, args.input_shape, args.batch_size, training=True, seed=args.seed,
                      augment=build_augmenter(DEFAULT_SPEC), targets=training_targets(False, False))
    figures = []
    for images, targets in ds.take(args.batches):
        p = np.clip(teacher.probabilities(images).numpy(), 1e-7, 1 - 1e-7)
        y = targets["mask"].numpy()
        cross_entropy = -(y * np.log(p) + (1 - y) * np.log(1 - p))
        figures.append((np.abs(p - y).mean(), ((p > 0.5) != (y > 0.5)).mean(), cross_entropy.mean(),
                        ((p > 0.05) & (p < 0.95)).mean()))
    gap, disagree, ce, unsure = np.mean(figures, axis=0)
    print(f"{args.batches * args.batch_size} augmented training views at {args.input_shape}x{args.input_shape}")
    print(f"teacher_vs_label_abs={gap:.4f} disagree_pct={100 * disagree:.2f} teacher_ce={ce:.4f} "
          f"unsure_pct={100 * unsure:.2f}")


if __name__ == "__main__":
    main()
