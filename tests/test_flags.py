"""Flag parsing from config.py's schema, refusal of bad values (one line on stderr, exit status 2, no
traceback), the records' own checks, and docs/FLAGS.md as the schema generates it."""
import os
import re

import pytest

import config
import losses
import main
from config import ExportConfig, OutputConfig, ServeConfig, TrainConfig
from postprocess.refine import refine
from tests.conftest import REPO, error_lines, run_cli
from utils import UserError

FLAGS_PAGE = os.path.join(REPO, "docs", "FLAGS.md")


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


def test_defaults_and_parsed_values_have_the_records_types():
    args = main.build_parser().parse_args(["--quantize=float16,int8", "--refiner_size=600x800", "--port=8080"])
    assert (args.quantize, args.refiner_size, args.port) == (("float16", "int8"), (600, 800), 8080)
    defaults = main.build_parser().parse_args([])
    assert (defaults.quantize, defaults.refiner_size, defaults.input_shape) == (("float32",), None, None)
    assert config.from_flags(ExportConfig, defaults) == ExportConfig()
    assert config.from_flags(ServeConfig, defaults) == ServeConfig()


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
    (["--nb_epoch=1.5", "--train=True"], "--nb_epoch"),
    (["--lr=-1", "--train=True"], "--lr"),
    (["--copy_paste=1.5", "--train=True"], "--copy_paste"),
    (["--model=resnet", "--train=True"], "--model"),
    (["--quantize=float8", "--convert=True"], "--quantize"),
    (["--port=-1", "--train=True"], "--port"),
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


def test_ranges_are_closed_or_open_as_written():
    parse = main.build_parser().parse_args
    assert parse(["--copy_paste=1"]).copy_paste == 1.0 and parse(["--port=65535"]).port == 65535
    with pytest.raises(SystemExit):
        parse(["--boundary_weight=1"])  # [0, 1)


@pytest.mark.parametrize("record,values,flag", [
    (TrainConfig, {"loss": "hinge"}, "--loss"), (TrainConfig, {"model": "resnet"}, "--model"),
    (TrainConfig, {"val_ratio": 1.0}, "--val_ratio"), (OutputConfig, {"refine": "sharp"}, "--refine"),
    (ServeConfig, {"port": 70000}, "--port")])
def test_records_refuse_what_the_command_line_refuses(record, values, flag):
    with pytest.raises(UserError, match=f"^{flag}="):
        record(**values)


def test_the_engine_checks_the_same_choices():
    with pytest.raises(ValueError, match="combined, ce, focal, dice"):
        losses.SegmentationLoss("hinge")
    with pytest.raises(ValueError, match=", ".join(config.REFINERS)):
        refine(None, None, "sharp", 2)


def test_every_flag_has_one_home():
    names = [f.name for f in config.flags()]
    assert len(names) == len(set(names))
    assert set(config.GROUPS) == {f.metadata["group"] for f in config.flags()}


def test_flags_page_is_what_the_schema_generates():
    with open(FLAGS_PAGE) as f:
        assert f.read() == config.markdown(), "run: python -m config --markdown > docs/FLAGS.md"


def page_rows():
    """docs/FLAGS.md's table rows: flag -> (default, values)."""
    with open(FLAGS_PAGE) as f:
        rows = [re.split(r"(?<!\\)\|", line)[1:-1] for line in f if line.startswith("| `--")]
    return {cells[0].strip().strip("`"): tuple(c.strip().replace("\\|", "|") for c in cells[1:3]) for cells in rows}


def test_flags_page_shows_every_flag_default_and_choice_of_help():
    parser = main.build_parser()
    actions = {a.option_strings[0]: a for a in parser._actions if a.dest != "help"}
    rows = page_rows()
    assert set(rows) == set(actions)
    for name, action in actions.items():
        default, values = rows[name]
        assert action.help.replace("%%", "%").endswith(f"default: {default})"), name
        assert name in parser.format_help()
        if action.choices:
            assert values == ", ".join(f"`{choice}`" for choice in action.choices), name
