"""``--preview_augment=N``: a picture of what the augmentation does to N training pairs."""
import os

from data.augment import build_augmenter, preview_grid
from data.dataset import dataset_dirs, find_pairs, make_dataset
from engine.infer import write_image
from utils import writable_folder


def preview_augment(dataset_dir, augment, count, size, seed, output_dir, copy_paste=0.0):
    """Write ``count`` training pairs of the first ``dataset_dir`` folder, augmented by the ``augment`` spec at
    ``size`` px (image | matte overlay), with ``copy_paste``'s pasted people, as one grid in ``output_dir``;
    returns its path."""
    pairs = find_pairs(os.path.join(dataset_dirs(dataset_dir)[0], "training"))[:count]
    ds = make_dataset(pairs, size, len(pairs), training=True, seed=seed, augment=build_augmenter(augment),
                      copy_paste=copy_paste)
    images, mattes = next(iter(ds))
    path = os.path.join(writable_folder(output_dir, "--output_dir"), "augment_preview.png")
    write_image(path, preview_grid(images.numpy(), mattes.numpy()))
    print(path)
    return path
