"""Bad input through main.main in this process (no subprocess, so it stays in the quick loop): one line
on stderr naming the flag or file, exit status 2, no traceback, nothing written."""
import json
import os
import shutil

import h5py
import numpy as np
import pytest

import main
import models
from config import TrainConfig
from data.dataset import find_pairs, split_pairs
from data.synthetic import make_dataset
from models.checkpoint import make_spec, save_checkpoint
from models.predictors import SIDECAR_FORMAT

TINY = ["--input_shape=64", "--batch_size=4", "--verbose=2"]


def listing(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A synthetic set, a lightnet checkpoint, and odd files."""
    root = tmp_path_factory.mktemp("bad")
    make_dataset(str(root / "good"), train=10, test=2, size=64, seed=3)
    (root / "empty" / "training").mkdir(parents=True)
    lonely = root / "lonely" / "training"
    lonely.mkdir(parents=True)
    shutil.copy(root / "good" / "training" / "00000.jpg", lonely / "a.jpg")
    shutil.copy(root / "good" / "training" / "00001_matte.png", lonely / "b_matte.png")
    broken = root / "broken" / "training"
    broken.mkdir(parents=True)
    for i in range(20):
        (broken / f"{i}.jpg").write_bytes(b"not a jpeg")
        (broken / f"{i}_matte.png").write_bytes(b"not a png")
    # the split (by name) puts pairs on both sides, so what refuses them is the scan of their contents
    split_pairs(find_pairs(str(broken)), TrainConfig.val_ratio, TrainConfig.seed)
    make_dataset(str(root / "two"), train=2, test=1, size=64, seed=4)
    (root / "notes.h5").write_text("plain text")
    (root / "notes.tflite").write_text("plain text")
    (root / "broken.tflite").write_text("plain text")
    sidecar = {"format": SIDECAR_FORMAT, "input": {"shape": [1, 64, 64, 3]}, "output": {"kind": "softmax"}}
    (root / "broken.json").write_text(json.dumps(sidecar))
    with h5py.File(root / "foreign.h5", "w") as f:
        f["x"] = np.zeros(3)
    (root / "afile").write_text("a file, not a folder")
    (root / "ckpt").mkdir()
    save_checkpoint(models.create("lightnet", 64), make_spec("lightnet", 64), str(root / "ckpt" / "last.h5"))
    return root


def run_main(argv):
    try:
        return main.main(argv)
    except SystemExit as stop:  # argparse's usage errors
        return stop.code


BAD_INPUTS = [
    (["--train=True", "--weight_dir=", "--dataset_dir=missing"], "missing/training"),
    (["--train=True", "--weight_dir=", "--dataset_dir=empty"], "expected NAME"),
    (["--train=True", "--weight_dir=", "--dataset_dir=lonely"], "a.jpg"),
    (["--train=True", "--weight_dir=", "--dataset_dir=broken"], "no usable training pairs"),
    (["--train=True", "--weight_dir=nowhere.h5", "--dataset_dir=good"], "nowhere.h5"),
    (["--train=True", "--weight_dir=notes.h5", "--dataset_dir=good"], "notes.h5"),
    (["--train=True", "--weight_dir=foreign.h5", "--dataset_dir=good"], "no portrait-segmentation model spec"),
    (["--train=True", "--weight_dir=ckpt/last.h5", "--model=mattingnet", "--dataset_dir=good"], "'lightnet'"),
    (["--train=True", "--weight_dir=ckpt/last.h5", "--width=2", "--dataset_dir=good"], "built with width 1.0"),
    (["--train=True", "--weight_dir=", "--input_shape=100"], "--input_shape"),
    (["--train=True", "--weight_dir=", "--val_ratio=1.5"], "--val_ratio"),
    (["--train=True", "--weight_dir=", "--dataset_dir=two", "--val_ratio=0.9"], "validation set empty"),
    (["--train=True", "--weight_dir=", "--dataset_dir=good", "--checkpoint_path=afile/run"], "--checkpoint_path"),
    (["--infer_single_img=True", "--weight_dir=ckpt/last.h5", "--img_path=good/testing/00000.jpg",
      "--output_dir=afile/out"], "--output_dir"),
    (["--infer_single_img=True", "--weight_dir=ckpt/last.h5", "--img_path=nothing.png"], "nothing.png"),
    (["--infer_single_img=True", "--weight_dir=ckpt/last.h5", "--img_path=notes.h5"], "notes.h5"),
    (["--resume=True", "--dataset_dir=good", "--checkpoint_path=elsewhere"], "elsewhere"),
    (["--train=True", "--weight_dir=", "--dataset_dir=good", "--teacher=nope.h5"], "--teacher: no such file: nope.h5"),
    (["--train=True", "--weight_dir=", "--dataset_dir=good", "--teacher=notes.h5"], "--teacher: notes.h5"),
    (["--train=True", "--weight_dir=", "--dataset_dir=good", "--teacher=foreign.h5"], "--teacher: foreign.h5"),
    (["--train=True", "--weight_dir=", "--dataset_dir=good", "--teacher=notes.tflite"], "--teacher: notes.tflite"),
    (["--train=True", "--weight_dir=", "--dataset_dir=good", "--teacher=good/testing/00000.jpg"], "neither a .h5"),
    (["--train=True", "--weight_dir=", "--dataset_dir=good", "--teacher=broken.tflite"], "not a model LiteRT can run"),
    (["--train=True", "--weight_dir=", "--dataset_dir=good", "--unlabeled_dir=good/testing"], "give --teacher"),
    (["--train=True", "--weight_dir=", "--dataset_dir=good", "--teacher=ckpt/last.h5", "--unlabeled_dir=missing"],
     "--unlabeled_dir: folder not found: missing"),
]



@pytest.mark.parametrize("flags,needle", BAD_INPUTS, ids=[n for _, n in BAD_INPUTS])
def test_bad_input_is_one_line_and_writes_nothing(data, flags, needle, monkeypatch, capsys):
    monkeypatch.chdir(data)
    before = listing(data)
    status = run_main(flags + TINY)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2, err[-2000:]
    assert len(lines) == 1 and needle in lines[0], err[-2000:]
    assert "Traceback" not in err
    assert listing(data) == before
