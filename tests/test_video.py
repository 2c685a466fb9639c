"""Video (issue 17): 4-channel models (RGB + prior), simulated priors, synthetic clips, their metrics, and
--infer_video end to end."""
import dataclasses
import json
import os

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

import engine.segmenter
import models
from benchmarks.video import frame_pair, run_clip
from convert import tflite
from data.clips import make_clip, write_video
from data.dataset import find_pairs, make_dataset, training_targets
from data.preprocess import model_input
from data.prior import PriorSettings, simulate_prior, training_pipeline
from config import ExportConfig, TrainConfig
from data.synthetic import portrait
from engine.train import checkpoint_model, fresh_model
from engine.video import Compositor, FrameModel, Segmenter, keras_frame_model, open_video
from models import channels, encoders
from models.checkpoint import load_checkpoint, make_spec, mask_model, save_checkpoint
from models.predictors import read_sidecar
from tests.conftest import REPO, error_lines, run_cli
from utils import UserError

SIZE = 64
V2_035 = os.path.join(REPO, "..", "shared", "weights", "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5")
needs_weights = pytest.mark.shared_data("weights", os.path.basename(V2_035))


def rgb_and_prior(seed=0, size=SIZE):
    rng = np.random.default_rng(seed)
    return rng.random((2, size, size, 3), np.float32), rng.random((2, size, size, 1), np.float32)


@pytest.mark.parametrize("encoder", ["lightnet", "mobilenetv2_035"])
def test_a_widened_model_computes_what_its_rgb_source_did_whatever_the_prior(encoder):
    rgb = models.create("lightnet", SIZE, encoder=encoder)
    wide = models.create("lightnet", SIZE, encoder=encoder, input_channels=4)
    channels.copy_widened(rgb, wide)
    image, prior = rgb_and_prior()
    expected = rgb(image, training=False)["mask"].numpy()
    for p in (prior, np.zeros_like(prior)):
        got = wide(np.concatenate([image, p], -1), training=False)["mask"].numpy()
        np.testing.assert_allclose(got, expected, atol=1e-5)


@needs_weights
def test_imagenet_weights_fill_rgb_and_leave_channel_4_at_zero():
    config = TrainConfig(weight_dir="", encoder="mobilenetv2_035", encoder_weights=V2_035, input_channels=4,
                         input_shape=SIZE)
    model, spec = fresh_model(config)
    assert spec["kwargs"]["input_channels"] == 4 and model.input_shape[-1] == 4
    kernel = model.get_layer(encoders.ENCODER_LAYER).get_layer("Conv1").get_weights()[0]
    reference = encoders.lookup("mobilenetv2_035").construct(224, weights=V2_035).get_layer("Conv1").get_weights()[0]
    assert kernel.shape[2] == 4 and not kernel[:, :, 3].any()
    np.testing.assert_array_equal(kernel[:, :, :3], reference)


def test_rgb_specs_stay_as_they_were():
    assert "input_channels" not in fresh_model(TrainConfig(weight_dir="", input_shape=SIZE))[1]["kwargs"]


def test_a_checkpoint_remembers_4_channels_and_a_3_channel_one_widens(tmp_path):
    rgb_path, wide_path = str(tmp_path / "rgb.h5"), str(tmp_path / "wide.h5")
    rgb = models.create("lightnet", SIZE)
    save_checkpoint(rgb, make_spec("lightnet", SIZE), rgb_path)
    wide, spec = checkpoint_model(TrainConfig(weight_dir=rgb_path, input_channels=4, input_shape=SIZE))
    assert spec["kwargs"]["input_channels"] == 4 and wide.input_shape[-1] == 4
    save_checkpoint(wide, spec, wide_path)
    loaded, loaded_spec = load_checkpoint(wide_path, input_shape=96)
    assert loaded.input_shape == (None, 96, 96, 4) and channels.spec_channels(loaded_spec) == 4
    assert checkpoint_model(TrainConfig(weight_dir=wide_path, input_shape=SIZE))[0].input_shape[-1] == 4
    with pytest.raises(UserError, match="--input_channels=3 .* input_channels 4"):
        checkpoint_model(TrainConfig(weight_dir=wide_path, input_channels=3, input_shape=SIZE))


def synthetic_matte(seed=0, size=SIZE):
    return tf.constant(portrait(np.random.default_rng(seed), size, size)[1][..., None] / 255.0, tf.float32)


def test_simulated_prior_strays_from_the_matte_within_its_settings():
    matte = synthetic_matte()
    seed = tf.constant([3, 4], tf.int64)
    same = simulate_prior(matte, seed, PriorSettings(0, 0, 0, 0, 0, 0, 0))
    np.testing.assert_array_equal(same.numpy(), matte.numpy())
    assert not simulate_prior(matte, seed, PriorSettings(empty=1.0)).numpy().any()
    priors = [simulate_prior(matte, tf.constant([3, i], tf.int64), PriorSettings(empty=0.0)).numpy()
              for i in range(6)]
    np.testing.assert_array_equal(priors[0], simulate_prior(matte, tf.constant([3, 0], tf.int64),
                                                            PriorSettings(empty=0.0)).numpy())
    for prior in priors:
        assert prior.shape == (SIZE, SIZE, 1) and prior.min() >= 0 and prior.max() <= 1
        truth, guess = matte.numpy()[..., 0] >= 0.5, prior[..., 0] >= 0.5
        assert 0.5 < (truth & guess).sum() / (truth | guess).sum() < 1.0  # near the truth, not the truth
    assert len({p.tobytes() for p in priors}) == len(priors)


def test_pipelines_of_a_4_channel_model_carry_a_prior_from_the_augmented_matte(tmp_path):
    from data.augment import build_augmenter
    from data.synthetic import make_dataset as synthetic_set

    pairs = find_pairs(os.path.join(synthetic_set(str(tmp_path), train=4, test=1, size=SIZE), "training"))
    targets = training_targets(boundary=True, matting=False)
    config = TrainConfig(weight_dir="", prior_empty=0.0)
    assert training_pipeline(None, targets, 3, config) == (None, targets)
    augment, shaped = training_pipeline(build_augmenter("Fliplr(1)"), targets, 4, config)
    train = make_dataset(pairs, SIZE, 4, training=True, augment=augment, targets=shaped)
    val = make_dataset(pairs, SIZE, 4, training=False, targets=shaped)
    for ds in (train, val):
        images, target = next(iter(ds))
        assert images.shape == (4, SIZE, SIZE, 4)
        truth, prior = target["mask"].numpy()[..., 0] >= 0.5, images.numpy()[..., 3] >= 0.5
        assert (truth & prior).sum() / (truth | prior).sum() > 0.6  # the prior follows the (flipped) matte
    first, again = next(iter(val))[0].numpy(), next(iter(val))[0].numpy()
    np.testing.assert_array_equal(first, again)  # validation priors are the same every epoch
    with pytest.raises(UserError, match="--teacher"):
        training_pipeline(None, targets, 4, dataclasses.replace(config, teacher="t.h5"))


class Recorder:
    """A frame model that records its inputs and answers a probability it is told."""

    def __init__(self, size=8, channels=4):
        self.inputs, self.answers, self.size, self.channels = [], [], size, channels

    def model(self):
        def predict(batch):
            self.inputs.append(batch.copy())
            return self.answers[len(self.inputs) - 1]
        return FrameModel(predict, self.size, self.channels)


def test_segmenter_feeds_the_previous_output_back_and_smooths():
    recorder = Recorder()
    recorder.answers = [np.full((8, 8), v, np.float32) for v in (0.5, 1.0, 0.0, 0.0, 1.0, 1.0)]
    segmenter = Segmenter(recorder.model(), smoothing=0.25)
    frame = np.zeros((16, 12, 3), np.uint8)
    outputs = [segmenter(frame) for _ in range(3)]
    assert outputs[0].shape == (16, 12) and len(recorder.inputs) == 4
    assert not recorder.inputs[0][..., 3].any()  # first frame: an empty prior, then its own output as the prior
    assert (recorder.inputs[1][..., 3] == 0.5).all()
    assert (recorder.inputs[2][..., 3] == 1.0).all() and (recorder.inputs[3][..., 3] == 0.0).all()  # raw output
    np.testing.assert_allclose([o.mean() for o in outputs], [1.0, 0.25, 0.0625], atol=1e-6)
    segmenter.reset()
    segmenter(frame)
    assert not recorder.inputs[4][..., 3].any()


def test_motion_compensation_moves_the_prior_and_the_smoothed_probability_with_the_frame():
    rng = np.random.default_rng(4)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (64, 64, 3)).astype(np.uint8), (0, 0), 1.5)
    person = np.zeros((64, 64), np.float32)
    person[16:48, 20:40] = 1.0
    moved = np.roll(person, 5, axis=1)
    for motion, expected in ((True, moved), (False, person)):
        recorder = Recorder(size=64)
        recorder.answers = [person, person, moved]
        segmenter = Segmenter(recorder.model(), smoothing=0.5, motion_compensation=motion)
        segmenter(texture)
        output = segmenter(np.roll(texture, 5, axis=1))  # the camera pans 5 pixels
        prior = recorder.inputs[2][0, ..., 3]
        inner = (slice(8, 56), slice(8, 56))  # away from the borders the flow cannot see past
        assert np.abs(prior - expected)[inner].mean() < 0.02
        smoothed = cv2.resize(output, (64, 64), interpolation=cv2.INTER_AREA)
        assert np.abs(smoothed - (0.5 * expected + 0.5 * moved))[inner].mean() < 0.02


def test_clips_move_the_truth_with_the_photo_and_perfect_masks_do_not_flicker():
    image, matte = portrait(np.random.default_rng(2), 120, 90)
    clip = make_clip(image, matte / 255.0, frames=12, size=(60, 80), seed=1)
    assert clip.frames.shape == (12, 80, 60, 3) and clip.mattes.shape == (12, 80, 60)
    assert not np.array_equal(clip.mattes[2], clip.mattes[-1])  # the camera moved
    alphas = list(clip.mattes)
    for t in range(1, 12):
        pair = frame_pair(clip, t, alphas)
        assert pair["dtssd"] == 0 and pair["flips"] < 0.002 and pair["flicker"] < 0.01
    noisy = [a if t % 2 else 1 - a for t, a in enumerate(alphas)]
    assert frame_pair(clip, 5, noisy)["flicker"] > 0.5


def test_benchmark_runs_a_keras_model_frame_by_frame():
    image, matte = portrait(np.random.default_rng(3), 96, 96)
    clip = make_clip(image, matte / 255.0, frames=6, size=(64, 64))
    model = mask_model(models.create("lightnet", 32, input_channels=4))
    result = run_clip(Segmenter(keras_frame_model(model)), clip)
    assert len(result["iou"]) == 6 and len(result["pairs"]) == 5 and result["seconds"] > 0


def test_composite_puts_the_person_over_a_colour():
    frame = np.full((4, 6, 3), 200, np.uint8)
    alpha = np.zeros((4, 6), np.float32)
    alpha[:, :3] = 1.0
    out = Compositor("#0000ff", 6, 4)(frame, alpha)
    assert (out[:, :3] == 200).all() and (out[:, 3:] == [0, 0, 255]).all()
    assert Compositor("blur", 6, 4)(frame, alpha).shape == (4, 6, 3)
    with pytest.raises(UserError, match="--background"):
        Compositor("#12", 6, 4)


def test_missing_or_unreadable_videos_are_one_line(tmp_path):
    with pytest.raises(UserError, match="--video_path: no such file"):
        open_video(str(tmp_path / "missing.mp4"))
    (tmp_path / "bad.mp4").write_text("not a video")
    with pytest.raises(UserError, match="--video_path: .*bad.mp4 is not a video OpenCV can read"):
        open_video(str(tmp_path / "bad.mp4"))


def test_still_photos_get_an_empty_prior(tmp_path, capsys):
    wide = models.create("lightnet", SIZE, input_channels=4)
    path = str(tmp_path / "wide.h5")
    save_checkpoint(wide, make_spec("lightnet", SIZE, input_channels=4), path)
    segmenter = engine.segmenter.Segmenter(path, refine="none")
    assert "empty prior" in capsys.readouterr().out
    photo = np.random.default_rng(0).integers(0, 256, (48, 40, 3), np.uint8)
    batch = model_input(photo, SIZE)[None]
    expected = mask_model(wide)(np.concatenate([batch, np.zeros(batch.shape[:-1] + (1,), np.float32)], -1))
    np.testing.assert_allclose(segmenter.probability(photo), expected.numpy()[0, ..., -1], atol=1e-6)


def test_a_4_channel_export_checks_parity_with_priors_and_documents_channel_4(tmp_path):
    keras.utils.set_random_seed(4)  # an untrained network's outputs sit near 0.5: its float16 mask depends on the draw
    wide = models.create("lightnet", SIZE, input_channels=4)
    path = str(tmp_path / "wide.h5")
    save_checkpoint(wide, make_spec("lightnet", SIZE, input_channels=4), path)
    written = tflite.convert(path, ExportConfig(quantize=(), android=True, tflite_name=str(tmp_path / "wide"),
                                                dataset_dir=str(tmp_path / "no_data")))
    side = read_sidecar(written[0])
    assert side["input"]["shape"] == [1, SIZE, SIZE, 4] and side["input"]["prior"]["channel"] == 3
    assert side["gpu_delegate"]["runs_on_gpu_delegate"] and side["parity"]["passed"]
    assert "empty prior" in side["parity"]["images"]


def read_back(path):
    capture = cv2.VideoCapture(path)
    frames = 0
    while capture.read()[0]:
        frames += 1
    return frames, (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))), \
        capture.get(cv2.CAP_PROP_FPS)


@pytest.mark.slow
def test_cli_trains_a_4_channel_model_and_runs_it_on_a_video(workdir, tmp_path):
    image, matte = portrait(np.random.default_rng(4), 120, 160)
    clip = make_clip(image, matte / 255.0, frames=14, size=(160, 120))
    write_video(str(tmp_path / "walk.mp4"), clip.frames, fps=24)
    result = run_cli(["--train=True", "--weight_dir=", "--input_channels=4", "--nb_epoch=1", "--input_shape=64",
                      "--batch_size=4", "--verbose=0", "--checkpoint_path=./video4", "--infer_video=True",
                      f"--video_path={tmp_path / 'walk.mp4'}", "--temporal_smoothing=0.3", "--background=blur",
                      f"--output_dir={tmp_path / 'out'}"], cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "prior fed back" in result.stdout and "motion compensated" in result.stdout
    assert "frames per second end to end" in result.stdout
    for kind in ("mask", "composite"):
        frames, size, fps = read_back(str(tmp_path / "out" / f"walk_{kind}.mp4"))
        assert (frames, size) == (14, (160, 120)) and fps == pytest.approx(24)
    config = json.loads((workdir / "video4" / "run_config.json").read_text())
    assert config["model_spec"]["kwargs"]["input_channels"] == 4 and config["prior_empty"] == 0.15


@pytest.mark.slow
@pytest.mark.parametrize("content,needle", [(None, "no such file"), ("not a video", "is not a video OpenCV can read")])
def test_cli_bad_video_is_one_line(tmp_path, content, needle):
    video = tmp_path / "clip.mp4"
    if content:
        video.write_text(content)
    result = run_cli(["--infer_video=True", f"--video_path={video}",
                      f"--weight_dir={os.path.join(REPO, 'trained_models', 'initial.h5')}"], cwd=tmp_path)
    lines = error_lines(result.stderr)
    assert result.returncode == 2 and len(lines) == 1 and "--video_path" in lines[0] and needle in lines[0], \
        result.stderr
