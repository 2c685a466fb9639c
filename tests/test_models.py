"""Every registered model: forward pass, bad sizes refused, checkpoint round trip across sizes."""
import json

import h5py
import numpy as np
import pytest

import models
from losses import ForegroundIoU, cross_entropy
from losses.metrics import foreground_iou_per_image
from models.checkpoint import SPEC_ATTR, load_checkpoint, make_spec, mask_model, save_checkpoint
from utils import UserError


@pytest.mark.parametrize("name", models.names())
def test_forward_shapes_and_probabilities(name):
    model = models.create(name, 64)
    out = model(np.random.default_rng(0).random((2, 64, 64, 3), np.float32))["mask"].numpy()
    assert out.shape[:3] == (2, 64, 64) and out.shape[3] in (1, 2)
    assert out.min() >= 0 and out.max() <= 1
    if out.shape[3] == 2:
        assert np.allclose(out.sum(-1), 1, atol=1e-5)


@pytest.mark.parametrize("name", models.names())
def test_boundary_head_is_dropped_for_inference(name):
    model = models.create(name, 64, boundary=True)
    outputs = model(np.zeros((1, 64, 64, 3), np.float32))
    assert set(outputs) == {"mask", "person_logit", "boundary"} and outputs["boundary"].shape == (1, 64, 64, 1)
    plain = mask_model(model)
    assert np.allclose(plain(np.zeros((1, 64, 64, 3), np.float32)), outputs["mask"], atol=1e-6)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="lightnet"):
        models.create("resnet", 64)


def test_size_not_multiple_of_32_refused():
    with pytest.raises(ValueError, match="multiple of 32"):
        models.create("lightnet", 100)


def test_checkpoint_loads_at_another_size(tmp_path):
    spec = make_spec("lightnet", 64, activation="sigmoid")
    model = models.create("lightnet", 64, activation="sigmoid")
    path = str(tmp_path / "01-0.50.h5")
    save_checkpoint(model, spec, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01-0.50.h5"]  # no temporary left
    with h5py.File(path) as f:
        assert json.loads(f.attrs[SPEC_ATTR])["kwargs"] == {"activation": "sigmoid"}
    same, _ = load_checkpoint(path)
    x = np.random.default_rng(1).random((1, 64, 64, 3), np.float32)
    assert np.allclose(same(x)["mask"], model(x)["mask"], atol=1e-6)
    bigger, loaded_spec = load_checkpoint(path, input_shape=96)
    assert mask_model(bigger).output_shape == (None, 96, 96, 1) and loaded_spec["model"] == "lightnet"
    for a, b in zip(bigger.get_weights(), model.get_weights()):
        assert np.array_equal(a, b)


def test_foreign_and_missing_files_refused(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_checkpoint(str(tmp_path / "none.h5"))
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(UserError, match="not a readable"):
        load_checkpoint(str(tmp_path / "junk.h5"))


def test_cross_entropy_by_hand():
    y = np.array([1.0, 0.0, 0.5, 1.0], np.float32).reshape(1, 2, 2, 1)
    p = np.array([0.9, 0.2, 0.5, 0.6], np.float32).reshape(1, 2, 2, 1)
    expected = -np.mean([np.log(0.9), np.log(0.8), np.log(0.5), np.log(0.6)])
    assert np.isclose(float(cross_entropy(y, np.log(p / (1 - p)))[0]), expected, atol=1e-5)


def test_iou_does_not_depend_on_batch_size():
    rng = np.random.default_rng(0)
    truth = (rng.random((6, 8, 8, 1)) > 0.5).astype(np.float32)
    pred = rng.random((6, 8, 8, 1)).astype(np.float32)
    per_image = foreground_iou_per_image(truth, pred).numpy()
    scores = []
    for batch in (1, 2, 6):
        metric = ForegroundIoU()
        for i in range(0, 6, batch):
            metric.update_state(truth[i:i + batch], pred[i:i + batch])
        scores.append(float(metric.result()))
    assert np.allclose(scores, per_image.mean(), atol=1e-6)
