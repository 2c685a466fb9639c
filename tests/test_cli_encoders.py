"""Pretrained encoders and several datasets through the real CLI, as a user runs them."""
import json
import os

import pytest

import models
from data.dataset import find_pairs, split_pairs
from data.synthetic import make_dataset
from models.checkpoint import make_spec, save_checkpoint
from tests.conftest import error_lines, run_cli
from tests.test_encoders import V2_035, needs_weights

pytestmark = pytest.mark.slow

FRESH = ["--train=True", "--nb_epoch=1", "--input_shape=64", "--batch_size=4", "--weight_dir=", "--verbose=2",
         "--loss=ce", "--boundary_weight=0"]


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("sets")
    for name, seed in (("alpha", 3), ("beta", 4)):
        make_dataset(str(root / name), train=8, test=3, size=96, seed=seed)
    return root


def one_error_line(result):
    lines = error_lines(result.stderr)
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    return lines[0]


@needs_weights
def test_imagenet_file_trains_one_epoch(workdir):
    result = run_cli(FRESH + ["--encoder=mobilenetv2_035", f"--encoder_weights={V2_035}",
                              "--checkpoint_path=./runs/v2"], cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"weights from {V2_035}" in result.stdout
    config = json.loads((workdir / "runs" / "v2" / "run_config.json").read_text())
    assert config["model_spec"]["kwargs"]["encoder"] == "mobilenetv2_035"


def test_random_mobilenetv3_on_two_sets_then_evaluate_each(two_sets):
    data = f"{two_sets / 'alpha'},{two_sets / 'beta'}"
    result = run_cli(FRESH + ["--encoder=mobilenetv3small_100", "--encoder_weights=none", "--val_ratio=0.75",
                              f"--dataset_dir={data}", "--checkpoint_path=./run"], cwd=two_sets)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "val_alpha_iou" in result.stdout and "val_beta_iou" in result.stdout
    config = json.loads((two_sets / "run" / "run_config.json").read_text())
    expected = {}
    for name in ("alpha", "beta"):
        training, validation = split_pairs(find_pairs(str(two_sets / name / "training")), 0.75, 42)
        expected[name] = {"training": len(training), "validation": len(validation)}
    assert config["pairs"]["per_set"] == expected
    result = run_cli(["--evaluate=True", "--weight_dir=./run/last.h5", f"--dataset_dir={data}",
                      "--output_dir=./out"], cwd=two_sets)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    per_set = [line for line in lines if line.startswith("set=")]
    assert [line.split()[0] for line in per_set] == ["set=alpha", "set=beta"]
    ious = [float(line.split("mean_fg_iou=")[1].split()[0]) for line in per_set]
    mean = next(line for line in lines if line.startswith("mean over 2 sets"))
    assert abs(float(mean.split("mean_fg_iou=")[1].split()[0]) - sum(ious) / 2) < 1e-4
    assert os.path.isfile(two_sets / "out" / "last_alpha_worst.jpg")


def test_imagenet_offline_is_one_line(workdir, tmp_path):
    env_home = tmp_path / "keras_home"
    result = run_cli(FRESH + ["--encoder=mobilenetv2_035", "--encoder_weights=imagenet",
                              "--checkpoint_path=./runs/offline"], cwd=workdir,
                     env={"KERAS_HOME": str(env_home), "https_proxy": "http://127.0.0.1:9",
                          "HTTPS_PROXY": "http://127.0.0.1:9"})
    line = one_error_line(result)
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5" in line
    assert "--encoder_weights=PATH" in line


def test_missing_weights_file_and_encoder_mismatch_are_one_line(workdir):
    line = one_error_line(run_cli(FRESH + ["--encoder=mobilenetv2_035", "--encoder_weights=./nope.h5",
                                           "--checkpoint_path=./runs/nope"], cwd=workdir))
    assert "--encoder_weights: no such file: ./nope.h5" in line
    save_checkpoint(models.create("lightnet", 64), make_spec("lightnet", 64), str(workdir / "lightnet.h5"))
    line = one_error_line(run_cli(FRESH[:-4] + ["--weight_dir=./lightnet.h5", "--encoder=mobilenetv2_035",
                                                "--checkpoint_path=./runs/mismatch"], cwd=workdir))
    assert "--encoder=mobilenetv2_035" in line and "encoder lightnet" in line
