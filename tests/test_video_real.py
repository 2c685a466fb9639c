"""Real clips in benchmarks/video.py (--real_clips, its flicker, --json, the contact sheet) and data/davis.py,
on tiny synthetic clips; one check on the shared DAVIS clips when they are there."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from benchmarks.video import read_real_clip, real_pair, run_real_clip, summarize_real
from data import davis
from engine.video import FrameModel, Segmenter
from tests.conftest import REPO

DAVIS = os.path.join(REPO, "..", "shared", "datasets", "davis_people")


def disk_clip(frames=6, height=48, width=64, step=3):
    """A disk moving right by ``step`` pixels a frame over a textured background: frames and 0/255 truths."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 255, (height, width, 3), np.uint8)
    yy, xx = np.mgrid[:height, :width]
    video, truths = [], []
    for t in range(frames):
        person = (yy - height / 2) ** 2 + (xx - 16 - step * t) ** 2 < 10 ** 2
        frame = background.copy()
        frame[person] = (200, 160, 140)
        video.append(frame)
        truths.append(np.where(person, 255, 0).astype(np.uint8))
    return np.stack(video), np.stack(truths)


def write_clip(folder, frames, truths):
    os.makedirs(folder, exist_ok=True)
    for t, (frame, truth) in enumerate(zip(frames, truths)):
        cv2.imwrite(os.path.join(folder, f"{t:05d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        cv2.imwrite(os.path.join(folder, f"{t:05d}_matte.png"), truth)


def colour_model(size=32):
    """A 3-channel 'model' that calls the disk's colour a person: perfect on disk_clip."""
    def predict(batch):
        rgb = batch[0, ..., :3] * 255
        return (np.abs(rgb - np.array([200, 160, 140])).sum(-1) < 40).astype(np.float32)
    return FrameModel(predict, size, 3)


def test_perfect_masks_of_a_moving_person_do_not_flicker_but_a_blinking_background_does():
    frames, truths = disk_clip()
    alphas = [t.astype(np.float32) / 255 for t in truths]
    for t in range(1, len(alphas)):
        pair = real_pair(alphas[t - 1], alphas[t], alphas[t - 1], alphas[t])
        assert pair == {"flicker": 0.0, "flips": 0.0, "dtssd": 0.0}  # the truth moved, so did the masks
    blink = alphas[3].copy()
    blink[:5, :5] = 1.0  # a false person in the background of one frame
    pair = real_pair(alphas[2], alphas[3], alphas[2], blink)
    assert pair["flicker"] > 0 and pair["flips"] > 0 and pair["dtssd"] > 0
    lagging = real_pair(alphas[2], alphas[3], alphas[2], alphas[2])  # the mask stayed where the person was
    assert lagging["dtssd"] > 0 and lagging["flicker"] < pair["flicker"]  # the moved edge is not flicker


def test_a_real_clip_is_read_in_name_order_and_scored_frame_by_frame(tmp_path):
    frames, truths = disk_clip()
    write_clip(str(tmp_path / "clips" / "disk"), frames, truths)
    read_frames, read_truths = read_real_clip(str(tmp_path / "clips" / "disk"))
    assert read_frames.shape == frames.shape and np.array_equal(read_truths, truths)
    result = run_real_clip(Segmenter(colour_model()), read_frames, read_truths, keep=True)
    assert len(result["iou"]) == 6 and len(result["pairs"]) == 5 and len(result["alphas"]) == 6
    assert min(result["iou"]) > 0.8
    figures = summarize_real([result])
    assert set(figures) >= {"iou", "dtssd", "flicker", "flips", "fps"} and figures["frames"] == 6


@pytest.mark.slow
def test_cli_writes_json_per_row_and_per_clip_and_a_sheet(tmp_path):
    import keras

    import models
    from models.checkpoint import make_spec, save_checkpoint

    for name, step in (("left", 3), ("right", -2)):
        frames, truths = disk_clip(step=step)
        write_clip(str(tmp_path / "clips" / name), frames, truths)
    keras.utils.set_random_seed(0)
    weights = str(tmp_path / "tiny.h5")
    model = models.create("lightnet", 32, input_channels=4)
    save_checkpoint(model, make_spec("lightnet", 32, input_channels=4), weights)
    out, sheet = str(tmp_path / "out.json"), str(tmp_path / "sheet.png")
    done = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "video.py"), weights, "--ema", "0.5",
                           "--real_clips", str(tmp_path), "--group", "held=right", "--json", out, "--sheet", sheet,
                           "--sheet_against", f"{weights} + EMA 0.5"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.load(open(out))["real"]
    names = [r["name"] for r in rows]
    assert names[0] == weights and f"{weights}, motion compensated: no" in names and len(rows) == 4
    for row in rows:
        assert {"iou", "dtssd", "flicker", "fps"} <= set(row) and set(row["clips"]) == {"left", "right"}
        assert len(row["clips"]["left"]["frame_iou"]) == 6 and set(row["groups"]) == {"held"}
    assert "per clip" in done.stdout and os.path.isfile(sheet)


def test_zoom_box_frames_the_person_at_three_by_four_inside_the_frame():
    person = np.zeros((480, 854), bool)
    person[200:300, 400:440] = True  # 100 tall, 40 wide
    top, bottom, left, right = davis.zoom_box(person)
    assert (bottom - top, right - left) == (150, 112)
    assert top <= 200 and bottom >= 300 and left <= 400 and right >= 440
    person[:] = False
    person[0:470, 0:30] = True  # at the edge, taller than 480 / 1.5: the crop is cut by the frame and moved in
    top, bottom, left, right = davis.zoom_box(person)
    assert (top, bottom, left) == (0, 480, 0) and right == 360
    assert davis.zoom_box(np.zeros((10, 10), bool)) is None


def test_pairs_keep_every_nth_frame_whole_and_zoomed(tmp_path):
    frames, truths = disk_clip(frames=7)
    write_clip(str(tmp_path / "src" / "clips" / "disk"), frames, truths)
    davis.main(["pairs", str(tmp_path / "src"), str(tmp_path / "out"), "--clips", "disk", "--every", "3"])
    names = sorted(os.listdir(tmp_path / "out" / "training"))
    assert names == [f"disk_{t:05d}{z}{m}" for t in (0, 3, 6) for z in ("", "_zoom") for m in (".jpg", "_matte.png")]
    zoom = cv2.imread(str(tmp_path / "out" / "training" / "disk_00003_zoom_matte.png"), cv2.IMREAD_GRAYSCALE)
    assert zoom.shape[0] < 48 and (zoom >= 128).mean() > (truths[3] >= 128).mean()
    record = json.load(open(tmp_path / "out" / "davis.json"))
    assert record["every"] == 3 and len(record["pairs"]) == 6


@pytest.mark.shared_data("datasets", "davis_people")
def test_davis_clips_read_with_their_mattes():
    frames, truths = read_real_clip(os.path.join(DAVIS, "clips", "rollerblade"))
    assert frames.shape == (35, 480, 854, 3) and truths.shape == (35, 480, 854)
    assert 0.01 < (truths >= 128).mean() < 0.2


def test_flow_check_moves_a_perfect_prior_closer_to_the_next_truth():
    from benchmarks.video import flow_check

    frames, truths = disk_clip(frames=5, height=96, width=128, step=4)
    still = flow_check(frames, truths, 64, None)
    moved = flow_check(frames, truths, 64, 2)
    assert len(still) == len(moved) == 4
    assert np.mean(moved) > np.mean(still) + 0.1  # 0.79 against 0.61 when written
