"""The phone refiner (convert/refiner.py): postprocess/refine.py's guided refinement as GPU-delegate ops."""
import json
import os

import cv2
import keras
import numpy as np
import pytest

from config import ExportConfig
from convert import refiner, tflite
from convert.metadata import metadata_buffer
from data.synthetic import portrait
from postprocess.refine import GUIDED_EPS, default_band, trimap
from models.predictors import read_sidecar
from tests.conftest import error_lines, run_cli
from utils import UserError

WIDTH, HEIGHT, SIZE = 64, 48, 32
# float32 rounding alone: the band and the borders are cv2's exactly, so what differs is the order of the sums
# and Cramer's rule against LAPACK's LU in the 3x3 solve (condition number up to about 3 / eps = 3000);
# measured: 1e-5 here, 1e-4 at most on eg1800 photos at 600x800.
TOLERANCE = 1e-4


def photo_and_probability(seed=3):
    """A synthetic portrait at WIDTH x HEIGHT and a soft, coarse person probability for it at SIZE x SIZE."""
    image, matte = portrait(np.random.default_rng(seed), HEIGHT, WIDTH)
    soft = cv2.GaussianBlur(cv2.resize(matte.astype(np.float32) / 255, (SIZE, SIZE), interpolation=cv2.INTER_AREA),
                            (0, 0), 1.5)
    return image, np.roll(soft, 1, axis=1)[None, ..., None].astype(np.float32)  # soft, and a pixel off


def test_keras_refiner_matches_engine_refine():
    band = default_band((HEIGHT, WIDTH)) + 2
    model = refiner.build_refiner(HEIGHT, WIDTH, SIZE, band)
    for seed in (3, 4):
        image, low = photo_and_probability(seed)
        ours = model([image[None] / np.float32(255), low]).numpy()[0, ..., 0]
        expected = refiner.python_refined(image, low, band)
        soft = (expected > 0) & (expected < 1)
        assert soft[-1].any() and soft.sum() > 100  # refined pixels, some on the border (the shoulders)
        assert np.abs(ours - expected).max() <= TOLERANCE


@pytest.mark.parametrize("band", [1, 3, 7])
def test_band_is_cv2s_trimap_pixel_for_pixel(band):
    rng = np.random.default_rng(band)
    alpha = cv2.resize(rng.uniform(0, 1, (6, 8)).astype(np.float32), (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    alpha[5, :3] = [0.5, np.nextafter(np.float32(0.5), np.float32(0)), 0.5]  # the threshold itself
    x = keras.Input((HEIGHT, WIDTH, 1), batch_size=1)
    model = keras.Model(x, refiner.band_mask(refiner.step(x), band))
    ours = model(alpha[None, ..., None]).numpy()[0, ..., 0]
    np.testing.assert_array_equal(ours, (trimap(alpha, band) == 0.5).astype(np.float32))


def test_chamfer_rectangles_cover_cv2s_ball():
    for band in range(1, 16):
        seed = np.ones((2 * band + 3,) * 2, np.uint8)
        seed[band + 1, band + 1] = 0
        ball = cv2.distanceTransform(seed, cv2.DIST_L2, 3) <= band
        union = np.zeros_like(ball)
        for dy, dx in refiner.chamfer_rectangles(band):
            union[band + 1 - dy:band + 2 + dy, band + 1 - dx:band + 2 + dx] = True
            union[band + 1 - dx:band + 2 + dx, band + 1 - dy:band + 2 + dy] = True
        np.testing.assert_array_equal(union, ball)


@pytest.fixture(scope="module")
def exported(workdir):
    """A refiner exported for a tiny two-class softmax model, as --convert does, checked on workdir's photos."""
    keras.utils.set_random_seed(1)  # the untrained model's probabilities near 0.5: whether one flips depends on the draw
    x = keras.Input((SIZE, SIZE, 3), batch_size=1)
    model = keras.Model(x, keras.layers.Softmax()(keras.layers.Conv2D(2, 3, padding="same")(x)))
    return refiner.export(str(workdir / "lite" / "tiny"), WIDTH, HEIGHT, None, model,
                          str(workdir / "dataset" / "selfie"), "tiny.h5")


def test_export_passes_parity_and_the_gpu_check(exported):
    assert exported.gpu == [] and exported.check["passed"]
    assert exported.check["max_abs_diff"] <= TOLERANCE and exported.check["pixels_off"] == 0
    assert exported.check["mask_iou"] == 1.0
    assert exported.check["images"].startswith("4 photos from") and exported.path.endswith("tiny_refiner.tflite")
    assert metadata_buffer(exported.content) is not None


def test_sidecar_says_what_the_inputs_are(exported, workdir):
    side = exported.sidecar
    by_name = {entry["name"]: entry for entry in side["inputs"]}
    assert sorted(entry["index"] for entry in side["inputs"]) == [0, 1]
    assert by_name["image"]["shape"] == [1, HEIGHT, WIDTH, 3] and by_name["image"]["channel_order"] == "RGB"
    assert by_name["image"]["scale"] == pytest.approx(1 / 255) and by_name["alpha"]["shape"] == [1, SIZE, SIZE, 1]
    assert "tiny.tflite" in by_name["alpha"]["meaning"] and side["pairs_with"] == "tiny.tflite"
    assert side["output"]["shape"] == [1, HEIGHT, WIDTH, 1]
    assert side["refiner"]["band_px"] == default_band((HEIGHT, WIDTH)) and side["refiner"]["eps"] == GUIDED_EPS
    assert side["gpu_delegate"]["runs_on_gpu_delegate"]
    os.makedirs(workdir / "lite", exist_ok=True)
    refiner.write(exported)
    assert json.loads((workdir / "lite" / "tiny_refiner.json").read_text()) == json.loads(json.dumps(side))
    with pytest.raises(UserError, match="is a guided refiner"):
        read_sidecar(exported.path)


def test_the_sidecar_names_the_file_it_pairs_with():
    assert refiner.paired_file("out/p", ["out/p.tflite", "out/p_without_softmax.tflite"]) == "p.tflite"
    assert refiner.paired_file("out/p", ["out/p_android.tflite"]) == "p_android.tflite"
    assert refiner.paired_file("out/p", []) == "p.tflite"


def test_a_refiner_off_the_python_one_or_the_gpu_fails():
    bad = refiner.RefinerExport("x/p_refiner.tflite", check={"passed": False, "mask_iou": 0.9, "pixels_off": 50,
                                                              "pixels": 100}, gpu=["op LOG is not run by the GPU delegate"])
    first, second = refiner.failures([bad])
    assert "disagrees with postprocess/refine.py" in first and "50 of 100 pixels" in first and "LOG" in second


def test_convert_prints_the_refiner_in_its_table(workdir, capsys):
    weights = os.path.join(os.path.dirname(os.path.dirname(__file__)), "trained_models", "initial.h5")
    export = ExportConfig(quantize=(), input_shape=32, tflite_name=str(workdir / "both" / "p"),
                          dataset_dir=str(workdir / "dataset" / "selfie"), refiner_size=(WIDTH, HEIGHT), trimap_band=3)
    written = tflite.convert(weights, export)
    assert written == [str(workdir / "both" / "p_refiner.tflite")]
    table = capsys.readouterr().out
    assert "p_refiner.tflite against postprocess/refine.py on 4 photos" in table and "FAILED" not in table
    assert json.loads((workdir / "both" / "p_refiner.json").read_text())["refiner"]["band_px"] == 3


@pytest.mark.parametrize("value", ["600", "600x8", "602x800", "axb"])
def test_bad_refiner_size_is_one_line(value, workdir):
    result = run_cli(["--convert=True", f"--refiner_size={value}"], cwd=workdir)
    lines = error_lines(result.stderr)
    assert result.returncode == 2 and len(lines) == 1 and "--refiner_size" in lines[0] and value in lines[0]


def test_refiner_size_needs_an_export(workdir):
    result = run_cli(["--evaluate=True", "--refiner_size=600x800"], cwd=workdir)
    lines = error_lines(result.stderr)
    assert result.returncode == 2 and len(lines) == 1 and "--refiner_size" in lines[0] and "--convert" in lines[0]
