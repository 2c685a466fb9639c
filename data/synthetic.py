"""A small synthetic portrait set in the seed layout, to try the tool without real data.

Each picture is a textured background with a head-and-shoulders figure; its matte is the figure.

    python -m data.synthetic ./dataset/synthetic --train 32 --test 8 --size 160
"""
import argparse
import os

import cv2
import numpy as np


def portrait(rng, height, width):
    """One (RGB uint8 image, uint8 matte) pair with a randomly placed head and shoulders."""
    background = rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)
    image = cv2.resize(background, (width, height), interpolation=cv2.INTER_CUBIC)
    image = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
    matte = np.zeros((height, width), np.uint8)
    cx = int(width * rng.uniform(0.35, 0.65))
    head_y, head_r = int(height * rng.uniform(0.3, 0.45)), int(min(height, width) * rng.uniform(0.14, 0.22))
    cv2.ellipse(matte, (cx, head_y), (head_r, int(head_r * 1.25)), 0, 0, 360, 255, -1)
    shoulders = np.array([[cx - 2.4 * head_r, height], [cx - 1.2 * head_r, head_y + 1.4 * head_r],
                          [cx + 1.2 * head_r, head_y + 1.4 * head_r], [cx + 2.4 * head_r, height]], np.int32)
    cv2.fillPoly(matte, [shoulders], 255)
    colour = rng.integers(0, 256, 3)
    person = np.clip(colour + rng.normal(0, 20, image.shape), 0, 255).astype(np.uint8)
    image = np.where(matte[..., None] > 0, person, image)
    return image, matte


def write_split(folder, count, rng, size, extension=".jpg"):
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        height, width = int(size * rng.uniform(1.0, 1.4)), size
        image, matte = portrait(rng, height, width)
        cv2.imwrite(os.path.join(folder, f"{i:05d}{extension}"), image[..., ::-1])
        cv2.imwrite(os.path.join(folder, f"{i:05d}_matte.png"), matte)


def make_dataset(root, train=32, test=8, size=160, seed=0):
    """Write ``root/training`` and ``root/testing``; returns ``root``."""
    rng = np.random.default_rng(seed)
    write_split(os.path.join(root, "training"), train, rng, size)
    write_split(os.path.join(root, "testing"), test, rng, size)
    return root


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", help="folder to create (training/ and testing/ go inside)")
    parser.add_argument("--train", type=int, default=32, help="training pairs (default 32)")
    parser.add_argument("--test", type=int, default=8, help="testing pairs (default 8)")
    parser.add_argument("--size", type=int, default=160, help="image width in pixels (default 160)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(make_dataset(args.root, args.train, args.test, args.size, args.seed))


if __name__ == "__main__":
    main()
