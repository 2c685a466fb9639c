"""A resumed run trusts its own record, and sees the images an uninterrupted run would."""
import json
import os
import types

import numpy as np
import pytest

import main
from config import TrainConfig, from_flags
from data.augment import DEFAULT_SPEC, build_augmenter
from data.dataset import SPLIT, find_pairs, make_dataset
from data.synthetic import make_dataset as make_synthetic
from engine.train import RUN_CONFIG, adopt_record, split_method
from models.checkpoint import saved_epoch
from tests.conftest import error_lines, run_cli
from utils import UserError


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = make_synthetic(str(tmp_path_factory.mktemp("resume")), train=10, test=2, size=64, seed=5)
    return root


def parsed(argv):
    args = main.build_parser().parse_args(argv)
    args.given = frozenset(main.given_flags(argv))
    return from_flags(TrainConfig, args)


def test_given_flags_are_the_named_ones():
    assert main.given_flags(["--resume=True", "--nb_epoch=3", "--val_ratio", "0.5"]) == {"resume", "nb_epoch",
                                                                                        "val_ratio"}


def test_record_fills_defaults_and_refuses_conflicts(tmp_path):
    record = {"input_shape": 160, "val_ratio": 0.95, "seed": 7, "finetune": True, "lr_schedule": "cosine"}
    (tmp_path / RUN_CONFIG).write_text(json.dumps(record))
    config = adopt_record(parsed(["--resume=True", f"--checkpoint_path={tmp_path}", "--nb_epoch=50", "--seed=7"]))
    assert (config.input_shape, config.val_ratio, config.finetune, config.lr_schedule, config.nb_epoch) == (
        160, 0.95, True, "cosine", 50)
    with pytest.raises(UserError, match=r"--val_ratio=0.8 but the run in .* used --val_ratio=0.95"):
        adopt_record(parsed(["--resume=True", f"--checkpoint_path={tmp_path}", "--val_ratio=0.8"]))


def test_resume_keeps_the_runs_nb_epoch_unless_given(tmp_path):
    (tmp_path / RUN_CONFIG).write_text(json.dumps({"nb_epoch": 2, "input_shape": 64}))
    assert adopt_record(parsed(["--resume=True", f"--checkpoint_path={tmp_path}"])).nb_epoch == 2
    assert adopt_record(parsed(["--resume=True", f"--checkpoint_path={tmp_path}", "--nb_epoch=5"])).nb_epoch == 5


def test_epoch_e_is_the_same_whether_resumed_or_not(synthetic):
    pairs = find_pairs(os.path.join(synthetic, "training"))
    stream = lambda first: make_dataset(pairs, 32, 4, training=True, seed=3, augment=build_augmenter(DEFAULT_SPEC),  # noqa: E731
                                        first_epoch=first)
    per_epoch = 3  # 10 pairs in batches of 4
    uninterrupted = [b[0].numpy() for b, _ in zip(stream(0), range(3 * per_epoch))]
    resumed = [b[0].numpy() for b, _ in zip(stream(2), range(per_epoch))]
    assert all(np.array_equal(a, b) for a, b in zip(uninterrupted[2 * per_epoch:], resumed))
    assert not np.array_equal(uninterrupted[0], uninterrupted[per_epoch])  # epochs differ from each other


@pytest.mark.slow
def test_resume_continues_at_its_own_size_and_refuses_another_split(synthetic, tmp_path):
    flags = [f"--dataset_dir={synthetic}", "--checkpoint_path=run", "--weight_dir=", "--batch_size=4", "--verbose=2"]
    result = run_cli(["--train=True", "--nb_epoch=1", "--input_shape=64", "--val_ratio=0.7", *flags], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    result = run_cli(["--resume=True", "--nb_epoch=2", "--evaluate=True", "--refine=none", *flags], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "input 64x64" in result.stdout and "resuming after epoch 1" in result.stdout
    assert " input=64 " in next(line for line in result.stdout.splitlines() if line.startswith("images="))
    config = json.loads((tmp_path / "run" / RUN_CONFIG).read_text())
    assert (config["input_shape"], config["val_ratio"], config["resumed_at_epoch"], config["split"]) == (64, 0.7, 1,
                                                                                                    "hash")
    assert saved_epoch(str(tmp_path / "run" / "last.h5")) == 2
    result = run_cli(["--resume=True", "--nb_epoch=3", "--val_ratio=0.5", *flags], cwd=tmp_path)
    lines = error_lines(result.stderr)
    assert result.returncode == 2 and len(lines) == 1 and "--val_ratio=0.5" in lines[0] and "0.7" in lines[0]
    assert saved_epoch(str(tmp_path / "run" / "last.h5")) == 2


def test_a_resumed_run_keeps_its_own_split(tmp_path):
    """Runs recorded before the hash split name none: they were split by the seeded shuffle."""
    resumed = types.SimpleNamespace(resume=True, checkpoint_path=str(tmp_path))
    (tmp_path / RUN_CONFIG).write_text(json.dumps({"val_ratio": 0.8, "seed": 42}))
    assert split_method(resumed) == "shuffle"
    (tmp_path / RUN_CONFIG).write_text(json.dumps({"val_ratio": 0.8, "seed": 42, "split": "hash"}))
    assert split_method(resumed) == "hash"
    assert split_method(types.SimpleNamespace(resume=False, checkpoint_path=str(tmp_path))) == SPLIT == "hash"


def test_split_seed_defaults_to_seed():
    assert TrainConfig(seed=3).data_split_seed == 3 and TrainConfig(seed=3, split_seed=9).data_split_seed == 9


@pytest.mark.slow
def test_a_resumed_run_stops_at_its_own_last_epoch(synthetic, tmp_path):
    """A run of --nb_epoch=2 stopped after epoch 1 (its record says 2, its last.h5 holds epoch 1), resumed
    without --nb_epoch, trains epoch 2 and stops there."""
    flags = [f"--dataset_dir={synthetic}", "--checkpoint_path=run", "--weight_dir=", "--batch_size=4", "--verbose=2"]
    result = run_cli(["--train=True", "--nb_epoch=1", "--input_shape=64", *flags], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    record_path = tmp_path / "run" / RUN_CONFIG
    record = json.loads(record_path.read_text())
    record_path.write_text(json.dumps({**record, "nb_epoch": 2}))  # as the interrupted --nb_epoch=2 run left it
    result = run_cli(["--resume=True", *flags], cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resuming after epoch 1" in result.stdout and "Epoch 2/2" in result.stdout, result.stdout[-2000:]
    assert saved_epoch(str(tmp_path / "run" / "last.h5")) == 2
    assert json.loads(record_path.read_text())["nb_epoch"] == 2
