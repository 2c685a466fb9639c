"""``--preview_augment=N``: a picture of what the augmentation does to N training pairs."""
import os

from data.augment import DEFAULT_SPEC, build_augmenter, preview_grid
from data.dataset import dataset_dirs, find_pairs, make_dataset
from engine.infer import write_image
from utils import writable_folder


def augment_spec(args):
    """The spec ``--augment`` names: the preset for 'default'."""
    return DEFAULT_SPEC if args.augment == "default" else args.augment


def preview_augment(args):
    """Write N augmented training pairs (image | matte overlay) as one grid; returns its path."""
    augment = build_augmenter(augment_spec(args))
    pairs = find_pairs(os.path.join(dataset_dirs(args.dataset_dir)[0], "training"))[: args.preview_augment]
    ds = make_dataset(pairs, args.input_shape, len(pairs), training=True, seed=args.seed, augment=augment)
    images, mattes = next(iter(ds))
    path = os.path.join(writable_folder(args.output_dir, "--output_dir"), "augment_preview.png")
    write_image(path, preview_grid(images.numpy(), mattes.numpy()))
    print(path)
    return path
