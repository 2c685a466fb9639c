"""--infer_video's output files and progress (issue 29): a run that fails leaves no partial video and
no open capture or writer; a finished one renames its files into place; a piped log gets no terminal codes."""
import os
import subprocess
import sys

import numpy as np
import pytest

import engine.video
from config import VideoConfig
from data.clips import make_clip, write_video
from data.synthetic import portrait
from engine.video import FrameModel, infer_video
from tests.conftest import MAIN, REPO

FRAMES = 12


@pytest.fixture
def clip_path(tmp_path):
    image, matte = portrait(np.random.default_rng(5), 64, 48)
    path = str(tmp_path / "clip.mp4")
    write_video(path, make_clip(image, matte / 255.0, frames=FRAMES, size=(48, 64)).frames, fps=10)
    return path


@pytest.fixture
def opened(monkeypatch):
    """Every capture and writer infer_video opens, to check afterwards that each was released."""
    handles = []

    def recorded(make):
        def wrapper(*args):
            handles.append(make(*args))
            return handles[-1]
        return wrapper
    monkeypatch.setattr(engine.video, "open_video", recorded(engine.video.open_video))
    monkeypatch.setattr(engine.video, "video_writer", recorded(engine.video.video_writer))
    return handles


def model_failing_at(frame, error, monkeypatch):
    """infer_video's model: an empty mask for each frame before ``frame`` (counted from 1), ``error`` on it."""
    seen = []

    def predict(batch):
        seen.append(1)
        if len(seen) == frame:
            raise error
        return np.zeros(batch.shape[1:3], np.float32)
    monkeypatch.setattr(engine.video, "load_frame_model", lambda weights, size: FrameModel(predict, 16, 3))


def run(clip_path, out):
    return infer_video("model.tflite", VideoConfig(video_path=clip_path, output_dir=str(out)))


@pytest.mark.parametrize("error", [RuntimeError("frame 5 broke"), SystemExit(1)])
def test_a_run_failing_mid_way_leaves_no_video_and_releases_everything(clip_path, tmp_path, opened, monkeypatch,
                                                                       error):
    model_failing_at(5, error, monkeypatch)
    with pytest.raises(type(error)):
        run(clip_path, tmp_path / "out")
    assert os.listdir(tmp_path / "out") == []  # neither a .part.mp4 nor a half-written video
    assert len(opened) == 3 and not any(handle.isOpened() for handle in opened)


def test_ctrl_c_keeps_the_frames_written_so_far_as_finished_videos(clip_path, tmp_path, opened, monkeypatch):
    model_failing_at(5, KeyboardInterrupt(), monkeypatch)
    paths = run(clip_path, tmp_path / "out")
    assert sorted(os.listdir(tmp_path / "out")) == ["clip_composite.mp4", "clip_mask.mp4"]
    assert [engine.video.cv2.VideoCapture(path).get(engine.video.cv2.CAP_PROP_FRAME_COUNT) for path in paths] \
        == [4, 4]
    assert len(opened) == 3 and not any(handle.isOpened() for handle in opened)


def test_a_video_with_no_readable_frame_leaves_nothing(clip_path, tmp_path, opened, monkeypatch):
    model_failing_at(1, KeyboardInterrupt(), monkeypatch)  # stopped before the first frame was written
    with pytest.raises(engine.video.UserError, match="no frame could be read"):
        run(clip_path, tmp_path / "out")
    assert os.listdir(tmp_path / "out") == []
    assert len(opened) == 3 and not any(handle.isOpened() for handle in opened)


@pytest.mark.slow
def test_a_piped_log_gets_no_terminal_codes(clip_path, tmp_path):
    result = subprocess.run(  # as run_cli, but in bytes: text mode would turn a carriage return into a newline
        [sys.executable, MAIN, "--infer_video=True", f"--video_path={clip_path}", f"--output_dir={tmp_path / 'out'}",
         f"--weight_dir={os.path.join(REPO, 'trained_models', 'initial.tflite')}"],
        cwd=tmp_path, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}, capture_output=True,
        timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{FRAMES} frames of 48x64".encode() in result.stdout
    log = result.stdout + result.stderr
    assert b"\x1b" not in log and b"\r" not in log and b"\b" not in log, log
