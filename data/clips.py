"""Synthetic test videos: a still portrait filmed by a moving camera, with its ground truth warped alike.

No portrait videos are at hand, so clips are made from still photos with known motion, frame by frame:
a few static frames, a pan, a zoom, a small rotation, a few frames of camera shake, then a change of
lighting (gain and colour cast) with the camera still. Every frame also gets fresh sensor noise, as a
camera's frames do. ``motion[t]`` maps the photo to frame t, so ``step(t)`` maps frame t-1 to frame t:
the ground truth of frame t-1 warped by it is that of frame t wherever the scene is static.

    python -m data.clips OUT.mp4 --image PHOTO.jpg --frames 120 --size 640x480

writes such a clip (and ``OUT_truth.mp4``, its ground truth) at 30 frames per second.
"""
import argparse
import os
from dataclasses import dataclass
from typing import Iterator, Optional

import cv2
import numpy as np

PHASES = ("static", "pan", "zoom", "rotate", "shake", "lighting")
BASE_ZOOM = 1.15  # the camera frames a little less than the photo, so that motion rarely shows its edge
PAN = 0.04  # share of the width
ZOOM = 0.12  # extra zoom
ROTATE = 3.0  # degrees
SHAKE_SHIFT, SHAKE_ROTATE = 0.012, 0.7  # share of the width, degrees
SENSOR_NOISE = 2.0  # standard deviation, on the 0..255 scale
FPS = 30.0


@dataclass(frozen=True)
class Clip:
    """One synthetic video: frames (T, H, W, 3) uint8 RGB, ground-truth mattes (T, H, W) float32 in [0, 1],
    and the motion (T, 3, 3) from the still photo to each frame."""
    name: str
    frames: np.ndarray
    mattes: np.ndarray
    motion: np.ndarray

    def step(self, t: int) -> np.ndarray:
        """The 2x3 affine map from frame t-1 to frame t."""
        return (self.motion[t] @ np.linalg.inv(self.motion[t - 1]))[:2]


def cover(picture: np.ndarray, width: int, height: int, interpolation: int) -> np.ndarray:
    """``picture`` scaled to cover width x height and cropped to it around its centre."""
    scale = max(height / picture.shape[0], width / picture.shape[1])
    size = (max(width, round(picture.shape[1] * scale)), max(height, round(picture.shape[0] * scale)))
    scaled = cv2.resize(picture, size, interpolation=interpolation)
    top, left = (scaled.shape[0] - height) // 2, (scaled.shape[1] - width) // 2
    return scaled[top:top + height, left:left + width]


def smooth(x: np.ndarray) -> np.ndarray:
    """0 -> 1 with zero speed at both ends (smoothstep): a camera eases in and out of a move."""
    return x * x * (3 - 2 * x)


def schedule(frames: int, rng: np.random.Generator) -> dict:
    """Per-frame camera pose and lighting: shift (x, y, share of the width), zoom, angle (degrees), and a
    per-channel gain; each phase of PHASES takes a sixth of the clip and its move stays once done."""
    t = np.arange(frames)
    length = max(1, frames // len(PHASES))
    progress = {name: smooth(np.clip((t - i * length) / length, 0, 1)) for i, name in enumerate(PHASES)}
    direction = rng.choice([-1.0, 1.0], 2)
    shift = np.stack([direction[0] * PAN * progress["pan"], 0.3 * direction[1] * PAN * progress["pan"]], 1)
    zoom = BASE_ZOOM + ZOOM * progress["zoom"]
    angle = direction[1] * ROTATE * progress["rotate"]
    shaking = (t >= 4 * length) & (t < 5 * length)
    shift = shift + shaking[:, None] * rng.uniform(-SHAKE_SHIFT, SHAKE_SHIFT, (frames, 2))
    angle = angle + shaking * rng.uniform(-SHAKE_ROTATE, SHAKE_ROTATE, frames)
    light = progress["lighting"]
    dim = np.where(light < 0.5, 1 - 0.9 * light, 0.55 + 1.3 * (light - 0.5))  # 1 -> 0.55 -> 1.2
    tint = rng.uniform(-0.06, 0.06, 3)
    gain = dim[:, None] * (1 + light[:, None] * tint)
    return {"shift": shift, "zoom": zoom, "angle": angle, "gain": gain}


def pose_matrix(width: int, height: int, shift, zoom: float, angle: float) -> np.ndarray:
    """3x3 map from the (covered) photo to the frame: zoom and rotate about the centre, then shift."""
    m = np.eye(3)
    m[:2] = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), float(angle), float(zoom))
    m[0, 2] += shift[0] * width
    m[1, 2] += shift[1] * width
    return m


def phase_of(t: int, frames: int) -> str:
    """The phase of PHASES that frame ``t`` of a clip of ``frames`` frames belongs to."""
    return PHASES[min(t // max(1, frames // len(PHASES)), len(PHASES) - 1)]


def make_clip(image: np.ndarray, matte: np.ndarray, frames: int = 60, size=(480, 640), seed: int = 0,
              name: str = "clip") -> Clip:
    """A clip of ``frames`` frames of ``size`` (width, height) from a uint8 RGB photo and its float matte."""
    width, height = size
    rng = np.random.default_rng(seed)
    photo = cover(image, width, height, cv2.INTER_AREA)
    truth = cover(matte.astype(np.float32), width, height, cv2.INTER_AREA)
    plan = schedule(frames, rng)
    motion = np.stack([pose_matrix(width, height, plan["shift"][t], plan["zoom"][t], plan["angle"][t])
                       for t in range(frames)])
    warp = lambda x, m, flags: cv2.warpAffine(x, m[:2], (width, height), flags=flags,  # noqa: E731
                                              borderMode=cv2.BORDER_REFLECT_101)
    video, mattes = np.empty((frames, height, width, 3), np.uint8), np.empty((frames, height, width), np.float32)
    for t in range(frames):
        lit = warp(photo, motion[t], cv2.INTER_LINEAR).astype(np.float32) * plan["gain"][t]
        video[t] = np.clip(lit + rng.normal(0, SENSOR_NOISE, lit.shape), 0, 255).astype(np.uint8)
        mattes[t] = np.clip(warp(truth, motion[t], cv2.INTER_LINEAR), 0, 1)
    return Clip(name, video, mattes, motion)


def read_rgb(path: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def read_matte(path: str) -> np.ndarray:
    return cv2.imread(path, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0


def clips_from(folder: str, count: int, frames: int = 60, size=(480, 640), seed: int = 0) -> Iterator[Clip]:
    """``count`` clips from photos of ``folder``/testing, chosen by a seeded draw, one at a time."""
    from data.dataset import find_pairs  # TensorFlow: not needed to write one clip

    pairs = find_pairs(os.path.join(folder, "testing"))
    chosen = np.random.default_rng(seed).choice(len(pairs), min(count, len(pairs)), replace=False)
    for k, index in enumerate(sorted(chosen)):
        image_path, matte_path = pairs[index]
        matte = cv2.resize(read_matte(matte_path), read_rgb(image_path).shape[1::-1])  # a matte of another size
        yield make_clip(read_rgb(image_path), matte, frames, size, seed + k, os.path.basename(image_path))


def write_video(path: str, frames, fps: float = FPS) -> None:
    """RGB (or one-channel) uint8 frames as an .mp4 (MPEG-4 Part 2, OpenCV's own writer)."""
    frames = list(frames)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {path}")
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR if frame.ndim == 2 else cv2.COLOR_RGB2BGR))
    writer.release()


def parse_size(text: str) -> tuple:
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


def main(argv: Optional[list] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("output", help="the .mp4 to write")
    p.add_argument("--image", required=True, help="a still photo")
    p.add_argument("--matte", default="", help="its matte (default: NAME_matte.png beside it, if there is one)")
    p.add_argument("--frames", type=int, default=120)
    p.add_argument("--size", type=parse_size, default=(640, 480), help="WIDTHxHEIGHT (default 640x480)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    image = read_rgb(args.image)
    matte_path = args.matte or os.path.splitext(args.image)[0] + "_matte.png"
    matte = cv2.resize(read_matte(matte_path), image.shape[1::-1]) if os.path.isfile(matte_path) \
        else np.zeros(image.shape[:2], np.float32)
    clip = make_clip(image, matte, args.frames, args.size, args.seed, os.path.basename(args.image))
    write_video(args.output, clip.frames)
    write_video(os.path.splitext(args.output)[0] + "_truth.mp4", np.round(clip.mattes * 255).astype(np.uint8))
    print(f"{args.output}: {args.frames} frames, {args.size[0]}x{args.size[1]}, {FPS:g} fps")


if __name__ == "__main__":
    main()
