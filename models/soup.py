"""A uniform model soup (Wortsman et al. 2022): one checkpoint whose weights are the mean of several checkpoints
of the same network, typically fine-tunes of one model. It runs at the cost of one.

    python -m models.soup OUT.h5 FIRST.h5 SECOND.h5 [...]

OUT takes FIRST's spec (its input size included) and no optimizer state. Checkpoints of another network
(model, encoder, width, heads or input channels) are refused with one line naming the file.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from models.checkpoint import load_checkpoint, read_spec, save_checkpoint  # noqa: E402
from utils import UserError  # noqa: E402


def network(spec):
    """What the weights' shapes depend on: everything in a spec but the input size."""
    return {key: value for key, value in spec.items() if key != "input_shape"}


def soup(paths):
    """``(model, spec)``: the first checkpoint's network with the mean of every checkpoint's weights."""
    if len(paths) < 2:
        raise UserError(f"a soup needs at least two checkpoints, got {len(paths)}")
    model, spec = load_checkpoint(paths[0])
    for path in paths[1:]:
        other = read_spec(path)
        if network(other) != network(spec):
            raise UserError(f"{path} is another network than {paths[0]}: {other} vs {spec}")
    weights = [model.get_weights()] + [load_checkpoint(p, spec["input_shape"])[0].get_weights() for p in paths[1:]]
    model.set_weights([np.mean(ws, axis=0).astype(ws[0].dtype) for ws in zip(*weights)])
    return model, spec


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", help="the soup's .h5")
    p.add_argument("checkpoints", nargs="+", help="two or more .h5 checkpoints of one network")
    args = p.parse_args(argv)
    try:
        model, spec = soup(args.checkpoints)
    except UserError as err:
        p.exit(2, f"{p.prog}: error: {err}\n")
    save_checkpoint(model, spec, args.out, include_optimizer=False)
    print(f"{args.out}: the mean of {len(args.checkpoints)} checkpoints, {spec['model']} at {spec['input_shape']}")


if __name__ == "__main__":
    main()
