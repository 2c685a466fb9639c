"""Hold out part of a dataset that has only ``training/``, so that it can be scored on photos never trained on.

    python -m data.holdout DATASETS/ccp1004 ./datasets/ccp1004 --count 200

(DATASETS: the folder holding the source set.)

It writes ``DEST/training/`` and ``DEST/testing/`` in the seed layout as symbolic links to the source's
files (no image is copied): after a seeded shuffle of the source's pairs (``--seed``, default 0), the
first ``--count`` pairs go to ``testing/`` and the rest to ``training/``. ``DEST/holdout.json`` lists
the held-out names. The same source, count and seed always give the same split.
"""
import argparse
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data.dataset import find_pairs  # noqa: E402
from utils import UserError  # noqa: E402


def held_out(pairs, count, seed):
    """``(training, testing)``: the first ``count`` pairs of a seeded shuffle are held out."""
    if not 0 < count < len(pairs):
        raise UserError(f"--count must be between 1 and {len(pairs) - 1} for {len(pairs)} pairs, got {count}")
    shuffled = list(pairs)
    random.Random(seed).shuffle(shuffled)
    return sorted(shuffled[count:]), sorted(shuffled[:count])


def link_split(pairs, folder):
    os.makedirs(folder, exist_ok=True)
    for existing in os.listdir(folder):
        if os.path.islink(os.path.join(folder, existing)):
            os.remove(os.path.join(folder, existing))
    for image, matte in pairs:
        for path in (image, matte):
            os.symlink(os.path.abspath(path), os.path.join(folder, os.path.basename(path)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", help="a dataset folder with training/")
    p.add_argument("dest", help="where to write training/ and testing/ (links)")
    p.add_argument("--count", type=int, required=True, help="pairs to hold out for testing/")
    p.add_argument("--seed", type=int, default=0, help="seed of the shuffle that picks them")
    args = p.parse_args(argv)
    try:
        training, testing = held_out(find_pairs(os.path.join(args.source, "training")), args.count, args.seed)
    except UserError as err:
        p.exit(2, f"{p.prog}: error: {err}\n")
    link_split(training, os.path.join(args.dest, "training"))
    link_split(testing, os.path.join(args.dest, "testing"))
    record = {"source": os.path.abspath(args.source), "seed": args.seed,
              "testing": [os.path.basename(image) for image, _ in testing]}
    with open(os.path.join(args.dest, "holdout.json"), "w") as f:
        json.dump(record, f, indent=1)
    print(f"{args.dest}: training {len(training)}, testing {len(testing)} pairs (held out with seed {args.seed})")


if __name__ == "__main__":
    main()
