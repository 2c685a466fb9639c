"""Flag parsing and refusal of bad values: one line on stderr, exit status 2, no traceback."""
import pytest

import main
from tests.conftest import error_lines, run_cli


@pytest.mark.parametrize("text,value", [("True", True), ("true", True), ("1", True), ("yes", True),
                                        ("False", False), ("false", False), ("0", False), ("no", False)])
def test_boolean_spellings(text, value):
    args = main.build_parser().parse_args([f"--train={text}"])
    assert args.train is value


def test_seed_line_parses_with_seed_defaults():
    line = ("--input_shape=512 --nb_epoch=10000 --batch_size=32 --lr=0.0001 --val_ratio=0.8 --checkpoint=31 "
            "--checkpoint_path=./trained_models/lightnet --weight_dir=./trained_models/initial.h5 --tflite_name= "
            "--train=True --finetune=False --convert=False --android=False").split()
    args = main.build_parser().parse_args(line)
    assert (args.input_shape, args.nb_epoch, args.batch_size, args.lr) == (512, 10000, 32, 1e-4)
    assert (args.val_ratio, args.checkpoint, args.tflite_name) == (0.8, 31, "")
    assert args.train and not (args.finetune or args.convert or args.android or args.infer_single_img)


def test_model_choices_are_the_registry():
    import models  # main.py keeps its own list so that --help need not import TensorFlow
    assert main.MODELS == tuple(models.names())


def test_last_value_wins():
    args = main.build_parser().parse_args(["--nb_epoch=10000", "--nb_epoch=2", "--weight_dir=x", "--weight_dir="])
    assert args.nb_epoch == 2 and args.weight_dir == ""


@pytest.mark.parametrize("flags,needle", [
    (["--train=maybe"], "--train"),
    (["--convert=yesplease"], "--convert"),
    (["--input_shape=100", "--train=True"], "--input_shape"),
    (["--input_shape=abc", "--train=True"], "--input_shape"),
    (["--val_ratio=1.5", "--train=True"], "--val_ratio"),
    (["--val_ratio=0", "--train=True"], "--val_ratio"),
    (["--nb_epoch=0", "--train=True"], "--nb_epoch"),
    (["--lr=-1", "--train=True"], "--lr"),
    (["--model=resnet", "--train=True"], "--model"),
    ([], "nothing to do"),
    (["--finetune=True", "--weight_dir="], "--finetune"),
    (["--infer_single_img=True"], "--img_path"),
    (["--convert=True", "--weight_dir="], "--weight_dir"),
])
def test_bad_flags_exit_2_with_one_line(flags, needle, tmp_path):
    result = run_cli(flags, cwd=tmp_path)
    lines = error_lines(result.stderr)
    assert result.returncode == 2
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written
