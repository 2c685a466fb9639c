"""Bad files, diverging runs and interrupted training through the real CLI: one clear line, nothing lost,
--resume."""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import pytest

from data.synthetic import make_dataset
from models.checkpoint import saved_epoch
from tests.conftest import MAIN, error_lines, run_cli

pytestmark = pytest.mark.slow

TINY = ["--input_shape=64", "--batch_size=4", "--verbose=2"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A synthetic set (the bad-input matrix is in tests/test_bad_input.py)."""
    root = tmp_path_factory.mktemp("robust")
    make_dataset(str(root / "good"), train=10, test=2, size=64, seed=3)
    return root


def test_check_data_reports_bad_files_and_counts(data, tmp_path):
    shutil.copytree(data / "good", tmp_path / "set")
    jpeg = tmp_path / "set" / "training" / "00002.jpg"
    jpeg.write_bytes(jpeg.read_bytes()[:200])
    result = run_cli(["--check_data=True", "--dataset_dir=set"], cwd=tmp_path)
    assert result.returncode == 1
    assert "00002.jpg" in result.stdout and "testing 2 usable" in result.stdout and "1 bad" in result.stdout


def test_truncated_jpeg_is_skipped_and_named(data, tmp_path):
    shutil.copytree(data / "good", tmp_path / "set")
    jpeg = tmp_path / "set" / "training" / "00004.jpg"
    jpeg.write_bytes(jpeg.read_bytes()[: len(jpeg.read_bytes()) // 2])
    result = run_cli(["--train=True", "--weight_dir=", "--nb_epoch=2", "--dataset_dir=set",
                      "--checkpoint_path=run", *TINY], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "00004.jpg" in result.stderr and "skipping" in result.stderr
    assert "skipped: 1" in result.stdout
    assert json.loads((tmp_path / "run" / "checkpoints.json").read_text())["epoch"] == 2


def test_non_finite_loss_stops_clearly(data, tmp_path):
    result = run_cli(["--train=True", "--weight_dir=", "--nb_epoch=3", f"--dataset_dir={data / 'good'}",
                      "--checkpoint_path=run", "--lr=1e30", *TINY], cwd=tmp_path)
    assert result.returncode == 1
    assert "NaN or infinite" in error_lines(result.stderr)[-1]
    assert not glob.glob(str(tmp_path / "run" / "*.h5"))  # nothing saved from a diverged model


def all_checkpoints_load(folder):
    from models.checkpoint import load_checkpoint

    paths = glob.glob(os.path.join(folder, "*.h5"))
    for path in paths:
        load_checkpoint(path)
    return paths


def completed_epochs(folder):
    """The last epoch checkpoints.json records (written after last.h5 each epoch), 0 before the first."""
    try:
        return json.loads((folder / "checkpoints.json").read_text())["epoch"]
    except (FileNotFoundError, ValueError):
        return 0


def optimizer_steps(path):
    with h5py.File(path, "r") as f:
        return int(f["optimizer_weights"]["adam/iteration"][()])


def test_sigkill_then_resume_completes(data, tmp_path):
    """Killed right after epoch 1's and then epoch 3's checkpoint write (seen on disk, not guessed by
    sleeping), the run resumes from where it was, optimizer state included."""
    epochs, steps_per_epoch = 6, 2  # 8 training pairs in batches of 4
    run = tmp_path / "run"
    flags = [f"--nb_epoch={epochs}", f"--dataset_dir={data / 'good'}", "--checkpoint_path=run", "--checkpoint=1",
             "--weight_dir=", *TINY]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    for kill_after in (1, 3):
        mode = "--resume=True" if (run / "last.h5").exists() else "--train=True"
        process = subprocess.Popen([sys.executable, MAIN, mode, *flags], cwd=tmp_path, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while completed_epochs(run) < kill_after and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL  # killed mid-run, not finished
        assert kill_after <= completed_epochs(run) < epochs
        all_checkpoints_load(str(run))
    done = saved_epoch(str(run / "last.h5"))  # checkpoints.json may lag it by one if killed between the two
    assert optimizer_steps(str(run / "last.h5")) == done * steps_per_epoch
    result = run_cli(["--resume=True", *flags], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"resuming after epoch {done}" in result.stdout and "optimizer state" not in result.stderr
    assert completed_epochs(run) == epochs and optimizer_steps(str(run / "last.h5")) == epochs * steps_per_epoch
    assert glob.glob(str(run / f"{epochs:02d}-*.h5"))
    assert len(all_checkpoints_load(str(run))) >= epochs
