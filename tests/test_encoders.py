"""Named encoders: the contract (strides, channels), ImageNet weights from a file, one-line errors,
checkpoints that rebuild them without any download, freezing, and exports on the GPU delegate."""
import os

import keras
import numpy as np
import pytest

import models
from config import TrainConfig
from convert import tflite
from convert.gpu import gpu_problems
from engine.train import checkpoint_model
from models import encoders
from models.checkpoint import load_checkpoint, make_spec, mask_model, save_checkpoint
from utils import UserError

SIZE = 64
WEIGHTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "weights")
V2_035 = os.path.join(WEIGHTS, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5")
V2_050 = os.path.join(WEIGHTS, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.5_224_no_top.h5")
needs_weights = pytest.mark.shared_data("weights", os.path.basename(V2_035))
APPLICATIONS = [name for name in encoders.names() if name != encoders.OWN]  # every --encoder choice
QUICK = ("mobilenetv2_035", "mobilenetv3small_100")  # the rest of the registry runs with the slow tests


@pytest.mark.parametrize("name", [n if n in QUICK else pytest.param(n, marks=pytest.mark.slow) for n in APPLICATIONS])
def test_features_at_strides_4_to_32(name):
    nested = encoders.feature_model(name, SIZE)
    assert [SIZE // f.shape[1] for f in nested.outputs] == [4, 8, 16, 32]
    model = models.create("lightnet", SIZE, encoder=name)
    out = model(np.random.default_rng(0).random((2, SIZE, SIZE, 3), np.float32))["mask"].numpy()
    assert out.shape == (2, SIZE, SIZE, 2) and np.allclose(out.sum(-1), 1, atol=1e-5)
    assert model.get_layer(encoders.ENCODER_LAYER) in encoders.encoder_layers(model)


def test_checkpoint_rebuilds_the_encoder_at_another_size(tmp_path):
    spec = make_spec("lightnet", SIZE, encoder="mobilenetv3small_100")
    model = models.create("lightnet", SIZE, encoder="mobilenetv3small_100")
    path = str(tmp_path / "m.h5")
    save_checkpoint(model, spec, path)
    bigger, loaded = load_checkpoint(path, input_shape=96)
    assert loaded["kwargs"]["encoder"] == "mobilenetv3small_100" and mask_model(bigger).output_shape[1] == 96
    for a, b in zip(bigger.get_weights(), model.get_weights()):
        assert np.array_equal(a, b)


@needs_weights
def test_imagenet_file_gives_keras_own_weights():
    model = models.create("lightnet", SIZE, encoder="mobilenetv2_035")
    encoders.load_encoder_weights(model, "mobilenetv2_035", V2_035)
    reference = keras.applications.MobileNetV2(input_shape=(224, 224, 3), alpha=0.35, include_top=False,
                                               weights=V2_035)
    first_conv = model.get_layer(encoders.ENCODER_LAYER).get_layer("Conv1")
    assert np.array_equal(first_conv.get_weights()[0], reference.get_layer("Conv1").get_weights()[0])


@needs_weights
def test_a_file_for_another_width_is_one_line():
    model = models.create("lightnet", SIZE, encoder="mobilenetv2_035")
    with pytest.raises(UserError, match=r"--encoder_weights=.*0\.5_224.* does not fit --encoder=mobilenetv2_035"):
        encoders.load_encoder_weights(model, "mobilenetv2_035", V2_050)


def test_imagenet_offline_names_the_file_and_the_path_flag(monkeypatch):
    def offline(fname, *args, **kwargs):
        raise Exception(f"URL fetch failure on https://example.invalid/{fname}: None -- no network")
    monkeypatch.setattr("keras.src.utils.file_utils.get_file", offline)
    model = models.create("lightnet", SIZE, encoder="mobilenetv2_035")
    with pytest.raises(UserError) as err:
        encoders.load_encoder_weights(model, "mobilenetv2_035", "imagenet")
    message = str(err.value)
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5" in message
    assert "--encoder_weights=PATH" in message and "\n" not in message


def test_keras_file_names():
    assert encoders.lookup("mobilenetv3large_minimal_100").keras_file() == \
        "weights_mobilenet_v3_large_minimalistic_224_1.0_float_no_top_v2.h5"
    assert encoders.lookup("mobilenetv2_100").keras_file() == \
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"


def test_frozen_encoder_keeps_its_weights():
    model = models.create("lightnet", SIZE, encoder="mobilenetv2_035")
    for layer in encoders.encoder_layers(model):
        layer.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss={"mask": "binary_crossentropy"})
    before = [w.copy() for w in model.get_layer(encoders.ENCODER_LAYER).get_weights()]
    decoder_before = model.get_layer("head").get_weights()[0].copy()
    x = np.random.default_rng(0).random((4, SIZE, SIZE, 3), np.float32)
    y = np.concatenate([np.zeros((4, SIZE, SIZE, 1)), np.ones((4, SIZE, SIZE, 1))], -1).astype(np.float32)
    model.fit(x, {"mask": y}, epochs=2, verbose=0)
    after = model.get_layer(encoders.ENCODER_LAYER).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))  # batch-norm statistics included
    assert not np.array_equal(decoder_before, model.get_layer("head").get_weights()[0])


@pytest.mark.slow
@pytest.mark.parametrize("name", APPLICATIONS)
def test_every_encoder_runs_on_the_gpu_delegate(name):
    spec = make_spec("lightnet", SIZE, encoder=name)
    static = tflite.static_copy(models.create("lightnet", SIZE, encoder=name), spec, SIZE)
    assert gpu_problems(tflite.to_tflite(tflite.without_softmax(static), "float16")) == []


def test_activation_of_a_checkpoint_cannot_be_changed(tmp_path):
    path = str(tmp_path / "m.h5")
    save_checkpoint(models.create("lightnet", SIZE), make_spec("lightnet", SIZE), path)
    with pytest.raises(UserError, match="--activation=sigmoid but .* was built with activation softmax"):
        checkpoint_model(TrainConfig(weight_dir=path, activation="sigmoid"))
    assert checkpoint_model(TrainConfig(weight_dir=path, activation="softmax"))[1]["model"] == "lightnet"
