"""Dataset discovery, the seeded split and the streaming pipeline."""
import os

import cv2
import numpy as np
import pytest
from PIL import Image

import main
from data.dataset import dataset_dirs, find_pairs, make_dataset, oversampled, split_pairs, weighted_dirs
from data.synthetic import make_dataset as make_synthetic
from utils import UserError


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    root = make_synthetic(str(tmp_path_factory.mktemp("syn")), train=20, test=2, size=64)
    return find_pairs(os.path.join(root, "training"))


def test_find_pairs_sorted_and_complete(pairs):
    assert len(pairs) == 20
    assert pairs == sorted(pairs)
    assert all(m == i[: -len(".jpg")] + "_matte.png" for i, m in pairs)


def named(count, start=0):
    return [(f"/set/training/{i:05d}.jpg", f"/set/training/{i:05d}_matte.png") for i in range(start, start + count)]


def test_split_is_deterministic_complete_and_seeded(pairs):
    train, val = split_pairs(pairs, 0.8, seed=3)
    assert (train, val) == split_pairs(pairs, 0.8, seed=3)
    assert sorted(train + val) == pairs and train and val
    assert split_pairs(pairs, 0.8, seed=4) != (train, val)


def test_split_share_follows_val_ratio():
    for ratio in (0.5, 0.8):
        train, _ = split_pairs(named(2000), ratio, seed=0)
        assert len(train) / 2000 == pytest.approx(ratio, abs=0.035)  # 3.5 binomial standard deviations


def test_adding_files_moves_no_other_pair():
    train, val = split_pairs(named(100), 0.8, seed=1)
    more_train, more_val = split_pairs(named(100) + named(7, start=500), 0.8, seed=1)
    assert set(train) <= set(more_train) and set(val) <= set(more_val)


def test_the_shuffle_split_of_earlier_runs_is_kept(pairs):
    """Runs recorded before the hash split resume with the seeded shuffle they were split by."""
    train, val = split_pairs(pairs, 0.8, seed=3, method="shuffle")
    assert (len(train), len(val)) == (16, 4) and sorted(train + val) == pairs
    assert train[:3] == [pairs[i] for i in (8, 3, 6)]


def test_check_data_splits_as_training_does_with_split_seed(tmp_path, capsys):
    root = make_synthetic(str(tmp_path / "set"), train=10, test=2, size=32)
    pairs = find_pairs(os.path.join(root, "training"))
    validation = {seed: len(split_pairs(pairs, 0.8, seed)[1]) for seed in (42, 3)}
    assert validation[42] != validation[3]  # --seed=42 (the default) and --split_seed=3 split differently
    assert main.main(["--check_data=True", f"--dataset_dir={root}", "--split_seed=3"]) == 0
    assert f"training {10 - validation[3]}, validation {validation[3]}, testing 2 usable" in capsys.readouterr().out


def test_split_refuses_empty_validation(pairs):
    with pytest.raises(UserError, match="validation set empty"):
        split_pairs(pairs[:2], 0.9, seed=0)


def test_orphans_are_listed(tmp_path):
    cv2.imwrite(str(tmp_path / "a.jpg"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(UserError, match="a.jpg"):
        find_pairs(str(tmp_path))
    os.remove(tmp_path / "a.jpg")
    cv2.imwrite(str(tmp_path / "b_matte.png"), np.zeros((8, 8), np.uint8))
    with pytest.raises(UserError, match="b_matte.png"):
        find_pairs(str(tmp_path))


def test_missing_folder_and_wrong_layout(tmp_path):
    with pytest.raises(UserError, match="not found"):
        find_pairs(str(tmp_path / "nope"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="expected NAME"):
        find_pairs(str(tmp_path))


def test_pipeline_shapes_and_ranges(pairs):
    ds = make_dataset(pairs, 32, batch_size=8, training=True, seed=0)
    images, mattes = next(iter(ds))
    assert images.shape == (8, 32, 32, 3) and mattes.shape == (8, 32, 32, 1)
    assert 0.0 <= float(images.numpy().min()) and float(images.numpy().max()) <= 1.0
    assert set(np.unique(mattes.numpy())) - {0.0, 1.0}  # resized edges are soft
    assert 0.0 <= float(mattes.numpy().min()) and float(mattes.numpy().max()) <= 1.0


@pytest.mark.parametrize("mode", ["L", "RGBA", "P"])
def test_image_modes_load_as_rgb(tmp_path, mode):
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8))
    rgb.convert(mode).save(tmp_path / "x.png")
    Image.fromarray(np.full((40, 30), 128, np.uint8)).save(tmp_path / "x_matte.png")
    images, mattes = next(iter(make_dataset(find_pairs(str(tmp_path)), 32, 1, training=False)))
    assert images.shape == (1, 32, 32, 3)
    assert np.allclose(mattes.numpy(), 128 / 255, atol=1e-3)  # soft alpha kept


def test_two_images_for_one_matte_are_named(tmp_path, capsys):
    image = np.zeros((8, 8, 3), np.uint8)
    Image.fromarray(image).save(tmp_path / "a.jpg")
    Image.fromarray(image).save(tmp_path / "a.png")
    Image.fromarray(image[..., 0]).save(tmp_path / "a_matte.png")
    pairs = find_pairs(str(tmp_path))
    assert [os.path.basename(i) for i, _ in pairs] == ["a.png"]
    assert "holds both a.jpg and a.png for a_matte.png: using a.png" in capsys.readouterr().err


def test_dataset_dir_list_with_sampling_weights():
    assert weighted_dirs("a, b@3,c@0.5") == [("a", 1.0), ("b", 3.0), ("c", 0.5)]
    assert dataset_dirs("a,b@3") == ["a", "b"]
    with pytest.raises(UserError, match="'b@x' has a sampling weight"):
        weighted_dirs("a,b@x")
    pairs = [(str(i), str(i)) for i in range(10)]
    drawn = oversampled(pairs, 2.5, seed=0)
    assert len(drawn) == 25 and all(drawn.count(p) in (2, 3) for p in pairs)
