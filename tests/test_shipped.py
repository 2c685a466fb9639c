"""The shipped model: the README's first command works, and the files are what the README says."""
import json
import os

import cv2
import pytest

from convert.gpu import analysis, ops
from tests.conftest import REPO, run_cli

SHIPPED = os.path.join(REPO, "trained_models")
FILES = ("initial.h5", "initial.tflite", "initial.json", "initial_android.tflite", "initial_android.json",
         "teacher_float16.tflite", "teacher_float16.json")

pytestmark = pytest.mark.skipif(not os.path.isfile(os.path.join(SHIPPED, "initial.h5")), reason="no shipped model")


def test_shipped_files_fit_in_ten_megabytes():
    assert sum(os.path.getsize(os.path.join(SHIPPED, name)) for name in FILES) <= 10 * 1024 * 1024


def test_shipped_sidecars_describe_their_files():
    android = json.load(open(os.path.join(SHIPPED, "initial_android.json")))
    assert android["output"]["kind"] == "logits" and android["gpu_delegate"]["runs_on_gpu_delegate"]
    assert android["input"]["shape"] == [1, 224, 224, 3] and android["parity"]["passed"]
    assert json.load(open(os.path.join(SHIPPED, "initial.json")))["output"]["kind"] == "softmax"
    teacher = json.load(open(os.path.join(SHIPPED, "teacher_float16.json")))
    assert teacher["variant"] == "float16" and teacher["model"]["kwargs"]["encoder"] == "mobilenetv2_100"
    assert teacher["parity"]["passed"] and teacher["input"]["shape"] == [1, 224, 224, 3]


def test_shipped_float32_file_computes_its_softmax_with_sigmoids():
    with open(os.path.join(SHIPPED, "initial.tflite"), "rb") as f:
        found = set(ops(analysis(f.read())))
    assert "LOGISTIC" in found and "SOFTMAX" not in found


@pytest.mark.slow
def test_readme_first_command_segments_the_astronaut(tmp_path):
    result = run_cli(["--infer_single_img=True", "--img_path=./docs/images/astronaut.jpg",
                      f"--output_dir={tmp_path}"], cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    mask = cv2.imread(str(tmp_path / "astronaut_mask.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (512, 512)
    person = (mask > 127).mean()
    assert 0.25 < person < 0.75  # the astronaut fills about half of the photo
    assert mask[60:120, 200:260].mean() > 200 and mask[10:60, 0:40].mean() < 50  # her face; the flag
