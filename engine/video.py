"""``--infer_video``: segment a video (or a webcam) frame by frame and write the mask and composite videos.

Every frame is resized to the model's input, segmented and its person probability brought back to the
frame's size. A 4-channel model (RGB + prior) gets the previous frame's probability as channel 4 (an
empty prior on the first frame); ``--temporal_smoothing=A`` blends each probability with the previous
one, A x previous + (1 - A) x new, for any model. With ``--motion_compensation`` (the default) both are
first moved along the optical flow from the previous frame. Models run in the LiteRT interpreter (XNNPACK, 2
threads), as on a phone: a ``.tflite`` as it is, a ``.h5`` checkpoint converted in memory first.
"""
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Optional

import cv2
import keras
import numpy as np

from config import VideoConfig
from postprocess.cutout import COLOUR, background_kind, fill
from data.images import read_image
from models.channels import RGB, WITH_PRIOR
from models.predictors import LITERT_THREADS, LiteRTModel, foreground, read_sidecar
from utils import UserError, native_stderr_muted, writable_folder

DEFAULT_BACKGROUND = "#00B140"  # chroma-key green: a composite without --background can still be keyed
BLUR_FRACTION = 0.03  # --background=blur: sigma as a share of the frame's short side, as for photos
BLUR_SHRINK = 4  # the blur is computed at a quarter of the size: the same look, a sixteenth of the work
WEBCAM_FPS = 30.0  # when a camera does not say
FOURCC = "mp4v"
FLOW_MIN_SIZE = 16  # DIS optical flow needs frames of at least 12 pixels (its patches and their stride)
FLOW_SCALE = 2  # the flow is computed on the frames at this many times the model's input size, then averaged down


@dataclass(frozen=True)
class FrameModel:
    """A model for frames: ``predict`` maps a float32 batch (1, size, size, channels) to the person's
    probability (size, size)."""
    predict: Callable[[np.ndarray], np.ndarray]
    size: int
    channels: int


def litert_frame_model(content: Optional[bytes] = None, path: Optional[str] = None, kind: str = "softmax",
                       threads: int = LITERT_THREADS) -> FrameModel:
    """A .tflite flatbuffer (``content``) or file (``path``) whose output is read as ``kind``."""
    with native_stderr_muted():  # LiteRT's "Created TensorFlow Lite XNNPACK delegate" note
        model = LiteRTModel(model_path=path, model_content=content, threads=threads)
    shape = model.input["shape"]
    return FrameModel(lambda batch: foreground(model(batch), kind)[0], int(shape[1]), int(shape[3]))


def keras_frame_model(model: keras.Model) -> FrameModel:
    """A Keras image -> probabilities model (``models.checkpoint.mask_model``) for frames."""
    from models.predictors import keras_predictor

    predictor = keras_predictor(model)
    return FrameModel(predictor.predict, predictor.size, predictor.channels)


def load_frame_model(weights: str, input_shape: Optional[int] = None) -> FrameModel:
    """``weights`` in LiteRT: an export as its sidecar describes it, or a checkpoint converted in memory
    (float32, probabilities) at ``input_shape`` (None: the size it was trained at)."""
    if weights.endswith(".tflite"):
        return litert_frame_model(path=weights, kind=read_sidecar(weights)["output"]["kind"])
    from convert.sidecar import output_kind
    from convert.tflite import static_copy, to_tflite, two_sigmoids
    from models.checkpoint import load_checkpoint

    start = time.perf_counter()
    model, spec = load_checkpoint(weights, input_shape)
    static = two_sigmoids(static_copy(model, spec, input_shape or spec["input_shape"]))
    frame_model = litert_frame_model(to_tflite(static), kind=output_kind(static.output_shape[-1], True))
    print(f"{weights}: {frame_model.channels}-channel model converted for LiteRT in "
          f"{time.perf_counter() - start:.1f} s")
    return frame_model


class Segmenter:
    """Frame by frame: the person's probability at the frame's size, with the prior fed back (4-channel
    models) and the exponential smoothing (``smoothing`` in [0, 1): the previous probability's weight).

    A 4-channel model segments the first frame twice: with an empty prior, then with that output as the
    prior, so that the second frame's output does not jump from an empty-prior guess to a prior-led one.
    With ``motion_compensation``, what is carried from the previous frame (the prior, the smoothed
    probability) is first moved along the optical flow between the two frames (OpenCV's DIS, on the frames
    at ``flow_scale`` times the model's input size: a fast limb a few pixels wide at the model's size is
    followed better there), so that it lies where the person now is."""

    def __init__(self, model: FrameModel, smoothing: float = 0.0, motion_compensation: bool = True,
                 flow_scale: float = FLOW_SCALE):
        if model.channels not in (RGB, WITH_PRIOR):
            raise UserError(f"a model with {model.channels} input channels cannot segment video (3 or 4)")
        self.model, self.smoothing = model, float(smoothing)
        carries = model.channels == WITH_PRIOR or self.smoothing > 0
        self.motion_compensation = motion_compensation and carries and model.size >= FLOW_MIN_SIZE
        self.flow_size = max(FLOW_MIN_SIZE, round(model.size * flow_scale))
        axis = np.arange(model.size, dtype=np.float32)
        self.grid = np.meshgrid(axis, axis)  # each pixel's column and row
        self.flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame (a new clip starts)."""
        self.previous: Optional[np.ndarray] = None  # the model's last output, (size, size)
        self.smoothed: Optional[np.ndarray] = None
        self.gray: Optional[np.ndarray] = None  # the last frame at the flow's size

    def follow_motion(self, frame: np.ndarray, small: np.ndarray) -> None:
        """Move the previous frame's probabilities onto ``frame`` (``small``: the same at the model's size)."""
        if not self.motion_compensation:
            return
        size = self.model.size
        sized = small if self.flow_size == size else cv2.resize(frame, (self.flow_size,) * 2,
                                                                interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(sized, cv2.COLOR_RGB2GRAY)
        if self.gray is not None:
            flow = self.flow.calc(gray, self.gray, None)  # where each of this frame's pixels was before
            if self.flow_size != size:
                flow = cv2.resize(flow, (size, size), interpolation=cv2.INTER_AREA) * (size / self.flow_size)
            x, y = self.grid[0] + flow[..., 0], self.grid[1] + flow[..., 1]
            warp = lambda p: cv2.remap(p, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # noqa: E731
            if self.model.channels == WITH_PRIOR:
                self.previous = warp(self.previous)
            if self.smoothing:
                self.smoothed = warp(self.smoothed)
        self.gray = gray

    def predict(self, small: np.ndarray) -> np.ndarray:
        x = small.astype(np.float32) * (1 / 255)
        if self.model.channels == WITH_PRIOR:
            prior = self.previous if self.previous is not None else np.zeros(small.shape[:2], np.float32)
            x = np.dstack([x, prior])
        return np.asarray(self.model.predict(x[None]), np.float32)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Person probability (H, W) in [0, 1] for a uint8 RGB frame (H, W, 3)."""
        small = cv2.resize(frame, (self.model.size,) * 2, interpolation=cv2.INTER_AREA)
        self.follow_motion(frame, small)
        first = self.previous is None
        probability = self.previous = self.predict(small)
        if first and self.model.channels == WITH_PRIOR:  # the first frame again, with its own mask as the prior
            probability = self.previous = self.predict(small)
        if self.smoothing and self.smoothed is not None:
            probability = self.smoothing * self.smoothed + (1 - self.smoothing) * probability
        self.smoothed = probability
        alpha = cv2.resize(probability, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)
        return np.clip(alpha, 0.0, 1.0)


def open_video(path: str) -> cv2.VideoCapture:
    """``--video_path``: a file OpenCV reads, or a webcam index (0, 1, ...); a UserError names it otherwise."""
    webcam = path.isdigit()
    if not webcam and not os.path.isfile(path):
        raise UserError(f"--video_path: no such file: {path}")
    with native_stderr_muted():  # FFmpeg's own complaints; the line below says what went wrong
        capture = cv2.VideoCapture(int(path) if webcam else path)
        readable = capture.isOpened() and capture.grab()
    if not readable:
        what = f"no webcam {path} could be opened" if webcam else f"{path} is not a video OpenCV can read"
        raise UserError(f"--video_path: {what}")
    capture.release()  # grab() took the first frame: open it again from the start
    return cv2.VideoCapture(int(path) if webcam else path)


class Compositor:
    """The person over ``--background`` (an image file, #RRGGBB, or blur), alpha-blended at the frame's size."""

    def __init__(self, spec: str, width: int, height: int):
        kind = background_kind(spec or DEFAULT_BACKGROUND)
        self.blur = kind == "blur"
        self.sigma = BLUR_FRACTION * min(width, height) / BLUR_SHRINK
        if kind == "file":
            self.background = fill(read_image(spec, "--background"), height, width)
        elif kind == "colour":
            hex_digits = COLOUR.match(spec or DEFAULT_BACKGROUND).group(1)
            rgb = [int(hex_digits[i:i + 2], 16) for i in (0, 2, 4)]
            self.background = np.broadcast_to(np.array(rgb, np.uint8), (height, width, 3)).copy()

    def __call__(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        background = self.blurred(frame) if self.blur else self.background
        alpha = alpha.astype(np.float32)
        return cv2.blendLinear(frame, background, alpha, 1.0 - alpha)

    def blurred(self, frame: np.ndarray) -> np.ndarray:
        small = cv2.resize(frame, (frame.shape[1] // BLUR_SHRINK, frame.shape[0] // BLUR_SHRINK),
                           interpolation=cv2.INTER_AREA)
        return cv2.resize(cv2.GaussianBlur(small, (0, 0), self.sigma), (frame.shape[1], frame.shape[0]),
                          interpolation=cv2.INTER_LINEAR)


def video_writer(path: str, fps: float, width: int, height: int) -> cv2.VideoWriter:
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*FOURCC), fps, (width, height))
    if not writer.isOpened():
        raise UserError(f"--output_dir: OpenCV cannot write {path}")
    return writer


@contextmanager
def video_writers(paths: list, fps: float, width: int, height: int):
    """Writers for ``paths``, each writing ``<path>.part.mp4``: renamed to ``path`` when the block ends
    normally, removed when it raises; released either way."""
    partial = [f"{path}.part.mp4" for path in paths]
    writers, finished = [], False
    try:
        for path in partial:
            writers.append(video_writer(path, fps, width, height))
        yield writers
        finished = True
    finally:
        for writer in writers:
            writer.release()
        for path, done in zip(partial, paths):
            if finished:
                os.replace(path, done)
            elif os.path.exists(path):
                os.remove(path)


def output_stem(video_path: str) -> str:
    return f"webcam{video_path}" if video_path.isdigit() else os.path.splitext(os.path.basename(video_path))[0]


def infer_video(weights: str, config: VideoConfig) -> list:
    """Segment ``config.video_path`` with ``weights``; write ``<stem>_mask.mp4`` (0/255) and
    ``<stem>_composite.mp4`` under ``--output_dir`` at the video's size and frame rate; print the frames per
    second end to end. Returns the two paths."""
    capture = open_video(config.video_path)
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or WEBCAM_FPS
        width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        compositor = Compositor(config.background, width, height)
        segmenter = Segmenter(load_frame_model(weights, config.input_shape), config.temporal_smoothing,
                              config.motion_compensation)
        folder = writable_folder(config.output_dir, "--output_dir")
        paths = [os.path.join(folder, f"{output_stem(config.video_path)}_{kind}.mp4")
                 for kind in ("mask", "composite")]
        with video_writers(paths, fps, width, height) as writers:
            frames, elapsed = run_frames(capture, segmenter, compositor, writers, total if total > 0 else None)
            if frames == 0:
                raise UserError(f"--video_path: no frame could be read from {config.video_path}")
    finally:
        capture.release()
    prior = "prior fed back" if segmenter.model.channels == WITH_PRIOR else "no prior (3-channel model)"
    motion = ", motion compensated" if segmenter.motion_compensation else ""
    print(f"{frames} frames of {width}x{height} at {fps:g} fps, {prior}, temporal smoothing "
          f"{config.temporal_smoothing:g}{motion}: {frames / elapsed:.1f} frames per second end to end (read, segment, "
          f"composite, write)")
    for path in paths:
        print(path)
    return paths


def run_frames(capture, segmenter: Segmenter, compositor: Compositor, writers, total: Optional[int]):
    """Read, segment, composite and write every frame (until Ctrl-C for a webcam); returns how many and
    the seconds they took."""
    # a terminal only: Keras's bar redraws itself with colour codes and backspaces
    bar = keras.utils.Progbar(total, unit_name="frame") if sys.stdout.isatty() else None
    frames, start = 0, time.perf_counter()
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            frame = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            alpha = segmenter(frame)
            mask = np.where(alpha >= 0.5, 255, 0).astype(np.uint8)
            writers[0].write(cv2.cvtColor(mask, cv2.COLOR_GRAY2BGR))
            writers[1].write(cv2.cvtColor(compositor(frame, alpha), cv2.COLOR_RGB2BGR))
            frames += 1
            if bar and (frames % 10 == 0 or frames == total):
                bar.update(frames)
    except KeyboardInterrupt:
        print(f"\nstopped after {frames} frames")
    return frames, max(time.perf_counter() - start, 1e-9)
