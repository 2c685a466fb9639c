"""TFLite variants, their parity checks and sidecars, the GPU-delegate check, and running a .tflite."""
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from config import ExportConfig
from convert import tflite
from convert.gpu import analysis, gpu_problems, ops
from convert.metadata import check_metadata
from models.predictors import LiteRTModel, foreground, read_sidecar
from models.checkpoint import make_spec
from tests.conftest import REPO, error_lines, run_cli
from utils import RunStopped, UserError

SIZE = 64  # for the small models built here
EG1800 = os.path.join(REPO, "..", "shared", "datasets", "eg1800")
SHIPPED_SIZE = 224  # the shipped model's own input size, used when --input_shape is not given


@pytest.fixture(scope="module")
def confident(workdir):
    """The shipped model: a trained network's masks are decisive, where an untrained one's hover
    near 0.5 and flip under any rounding, so quantisation is judged on real decisions."""
    return os.path.join(REPO, "trained_models", "initial.h5")


def test_foreground_decodes_every_output_kind():
    logits = np.array([[[[0.0, 2.0], [3.0, -1.0]]]], np.float32)
    probs = tf.nn.softmax(logits).numpy()
    np.testing.assert_allclose(foreground(logits, "logits"), probs[..., 1], rtol=1e-6)
    np.testing.assert_allclose(foreground(probs, "softmax"), probs[..., 1])
    np.testing.assert_allclose(foreground(np.array([[[[0.0]]]]), "logit"), [[[0.5]]])


@pytest.mark.slow
@pytest.mark.shared_data("datasets", "eg1800")
def test_every_variant_with_sidecars_and_android(confident, workdir):
    """Real photos: the int8 variant is calibrated on them (a synthetic set's ranges do not fit the shipped
    model's features, and its int8 file then fails the parity check, as it should)."""
    result = run_cli(["--convert=True", "--android=True", "--quantize=all", f"--weight_dir={confident}",
                      f"--dataset_dir={EG1800}", "--tflite_name=./variants/portrait"], cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = workdir / "variants"
    names = sorted(p for p in os.listdir(folder) if p.endswith(".tflite"))
    assert names == sorted(["portrait.tflite", "portrait_without_softmax.tflite", "portrait_android.tflite"] +
                           [f"portrait_{v}{s}.tflite" for v in ("float16", "dynamic_int8", "int8")
                            for s in ("", "_without_softmax")])
    for name in names:
        side = json.loads((folder / name.replace(".tflite", ".json")).read_text())
        assert side["input"]["shape"] == [1, SHIPPED_SIZE, SHIPPED_SIZE, 3] and side["input"]["channel_order"] == "RGB"
        assert side["input"]["scale"] == pytest.approx(1 / 255) and side["parity"]["passed"]
        assert side["output"]["kind"] == ("softmax" if "without" not in name and "android" not in name else "logits")
        check_metadata(str(folder / name), "--convert")  # the metadata MediaPipe reads, as the sidecar describes
    android = read_sidecar(str(folder / "portrait_android.tflite"))
    assert android["variant"] == "android" and android["gpu_delegate"]["runs_on_gpu_delegate"]
    assert json.loads((folder / "portrait.json").read_text())["parity"]["max_abs_diff"] <= 1e-4
    assert "mask IoU" in result.stdout and "FAILED" not in result.stdout
    int8 = json.loads((folder / "portrait_int8.json").read_text())["parity"]
    assert int8["calibration"] == f"64 images from {os.path.join(EG1800, 'training')}"
    assert "calibrated on" not in result.stderr


def test_a_short_calibration_set_is_named_in_a_warning(workdir, capsys):
    batches, source = tflite.calibration_images(str(workdir / "dataset" / "selfie"), 32)
    training = workdir / "dataset" / "selfie" / "training"
    assert len(batches) == len(list(training.glob("*_matte.png"))) < tflite.CALIBRATION_IMAGES
    assert source == f"{len(batches)} images from {training}"
    assert f"--quantize=int8 is calibrated on {source}" in capsys.readouterr().err


def test_softmax_is_exported_as_two_sigmoids_with_the_same_probabilities():
    model = keras.Sequential([keras.Input((8, 8, 3), batch_size=1), keras.layers.Conv2D(4, 3, padding="same"),
                              keras.layers.Conv2D(2, 1, name="head"),
                              keras.layers.UpSampling2D(4, interpolation="bilinear", name="logits"),
                              keras.layers.Softmax(name="probs")])
    model = keras.Model(model.inputs, model.outputs)
    model.get_layer("head").set_weights([np.random.default_rng(0).normal(0, 3, (1, 1, 4, 2)).astype(np.float32),
                                         np.array([0.5, -1.0], np.float32)])
    batch = np.random.default_rng(1).uniform(-1, 1, (1, 8, 8, 3)).astype(np.float32)
    content = tflite.to_tflite(tflite.two_sigmoids(model))
    found = ops(analysis(content))
    assert "LOGISTIC" in found and "SOFTMAX" not in found
    np.testing.assert_allclose(LiteRTModel(model_content=content)(batch), model(batch).numpy(), atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", models.names())
def test_every_network_runs_on_the_gpu_delegate(name):
    spec = make_spec(name, SIZE)
    static = tflite.static_copy(models.create(name, SIZE), spec, SIZE)
    assert gpu_problems(tflite.to_tflite(tflite.without_softmax(static), "float16")) == []


def test_a_failing_variant_stops_before_anything_is_written(confident, workdir, monkeypatch):
    other = keras.Sequential([keras.Input((SIZE, SIZE, 3), batch_size=1), keras.layers.Conv2D(2, 1)])
    real = tflite.to_tflite
    monkeypatch.setattr(tflite, "to_tflite", lambda model, variant="float32", calibration=(): real(other))
    with pytest.raises(RunStopped, match="disagrees with the Keras model"):
        tflite.convert(str(confident), ExportConfig(input_shape=SIZE, tflite_name=str(workdir / "broken" / "p"),
                                                    dataset_dir=str(workdir / "dataset" / "selfie")))
    assert not (workdir / "broken").exists() or not os.listdir(workdir / "broken")


def test_gpu_check_names_the_op_and_dynamic_shapes():
    x = keras.Input((8, 8, 2), batch_size=1)
    logged = keras.Model(x, keras.layers.Lambda(lambda t: tf.math.log(t + 1.0))(x))
    assert any("LOG" in p for p in gpu_problems(tflite.to_tflite(logged)))
    dynamic = keras.Input((8, 8, 2))
    relu = keras.Model(dynamic, keras.layers.ReLU()(dynamic))
    assert any("dynamic" in p for p in gpu_problems(tflite.to_tflite(relu)))
    conv = keras.Model(x, keras.layers.Conv2D(2, 3, padding="same", activation="relu")(x))
    assert gpu_problems(tflite.to_tflite(conv, "float16")) == []


@pytest.mark.slow
def test_unknown_variant_is_one_line(workdir, confident):
    result = run_cli(["--convert=True", "--quantize=int4", f"--weight_dir={confident}"], cwd=workdir)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "--quantize" in lines[0] and "int4" in lines[0]


@pytest.mark.slow
def test_tflite_runs_like_the_checkpoint_in_evaluate_and_infer(confident, workdir):
    export = ["--convert=True", f"--weight_dir={confident}", "--tflite_name=./lite/p"]
    assert run_cli(export, cwd=workdir).returncode == 0
    figures = {}
    for weights in (str(confident), "./lite/p_without_softmax.tflite"):  # both at their own size
        result = run_cli(["--evaluate=True", f"--weight_dir={weights}", "--output_dir=./lite_eval"], cwd=workdir)
        assert result.returncode == 0, result.stderr[-3000:]
        line = next(l for l in result.stdout.splitlines() if l.startswith("images="))
        figures[weights] = dict(item.split("=") for item in line.split())
    assert [f["input"] for f in figures.values()] == [str(SHIPPED_SIZE)] * 2
    keras_iou, lite_iou = (float(f["mean_fg_iou"]) for f in figures.values())
    assert abs(keras_iou - lite_iou) <= 0.002
    result = run_cli(["--infer_single_img=True", "--weight_dir=./lite/p.tflite", "--output_dir=./lite_out",
                      "--img_path=./dataset/selfie/testing/00001.jpg"], cwd=workdir)
    assert result.returncode == 0 and (workdir / "lite_out" / "00001_mask.png").is_file()


@pytest.mark.slow
def test_tflite_without_sidecar_is_one_line(workdir, tmp_path):
    orphan = tmp_path / "orphan.tflite"
    orphan.write_bytes(b"not really")
    result = run_cli(["--infer_single_img=True", f"--weight_dir={orphan}", "--img_path=./dataset/selfie/testing/00001.jpg"],
                     cwd=workdir)
    assert result.returncode == 2 and "sidecar" in error_lines(result.stderr)[0]
    with pytest.raises(UserError, match="no such file"):
        read_sidecar(str(tmp_path / "missing.tflite"))


def near_threshold_logits(seed, margin=1e-4):
    """A 1x1 convolution to two logits that differ by about ``margin``: a barely trained network's outputs."""
    rng = np.random.default_rng(seed)
    kernel = rng.normal(size=(3, 1)).astype(np.float32)
    model = keras.Sequential([keras.Input((16, 16, 3), batch_size=1), keras.layers.Conv2D(2, 1, use_bias=False)])
    model.layers[0].set_weights([np.concatenate([kernel, kernel + margin * rng.normal(size=(3, 1))], 1)[None, None]])
    return model


def test_parity_accepts_a_float16_file_whose_masks_flip_only_at_the_threshold():
    """float16 rounds each logit by ~1e-3 here, more than the two logits differ: half the mask flips, yet the
    outputs agree to the rounding. Masks are compared only where Keras decides beyond the expected error."""
    model = near_threshold_logits(0)
    batches = [np.random.default_rng(i).uniform(size=(1, 16, 16, 3)).astype(np.float32) for i in range(2)]
    reference = {"logits": [model(b).numpy() for b in batches]}
    check = tflite.parity(tflite.to_tflite(model, "float16"), reference, batches, "logits", "float16")
    flipped = [(tflite.decision(LiteRTModel(model_content=tflite.to_tflite(model, "float16"))(b), "logits") > 0) !=
               (tflite.decision(r, "logits") > 0) for b, r in zip(batches, reference["logits"])]
    assert np.mean(flipped) > 0.01  # the old rule (mask IoU >= 0.99 on every pixel) refused this file
    assert check["passed"] and check["max_abs_diff"] <= check["max_abs_diff_allowed"], check
    assert check["compared_pixels"] < 0.01 and "max |diff|" in check["why"] and "of pixels" in check["why"]
    assert "farther than that error from the threshold" in check["rule"]


def test_parity_refuses_another_network():
    model, other = near_threshold_logits(0, margin=1.0), near_threshold_logits(1, margin=1.0)
    batches = [np.random.default_rng(i).uniform(size=(1, 16, 16, 3)).astype(np.float32) for i in range(2)]
    reference = {"logits": [model(b).numpy() for b in batches]}
    for variant in ("float32", "float16", "dynamic_int8"):
        check = tflite.parity(tflite.to_tflite(other, variant), reference, batches, "logits", variant)
        assert not check["passed"] and check["mask_iou"] < check["min_mask_iou"], (variant, check)
