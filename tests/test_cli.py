"""The seed's command lines, end to end through the real CLI, with small overrides appended."""
import glob
import json
import os
import re

import cv2
import numpy as np
import pytest

from models.checkpoint import load_checkpoint, mask_model
from models.encoders import encoder_layers
from tests.conftest import REPO, SEED_INFER_IMAGE, error_lines, run_cli

pytestmark = pytest.mark.slow

SEED_TRAIN = ("--input_shape=512 --nb_epoch=10000 --batch_size=32 --lr=0.0001 --val_ratio=0.8 --checkpoint=31 "
              "--checkpoint_path=./trained_models/lightnet --weight_dir=./trained_models/initial.h5 --tflite_name= "
              "--train=True --finetune=False --convert=False --android=False").split()
SEED_FINETUNE = ("--input_shape=256 --nb_epoch=10000 --batch_size=32 --lr=0.0001 --val_ratio=0.8 --checkpoint=31 "
                 "--checkpoint_path=./trained_models/mattingnet/ "
                 "--weight_dir=./trained_models/mattingnet/supermodel/20191222/580-0.02.h5 "
                 "--train=True --finetune=True --convert=False --android=False").split()
SEED_INFER = ("--input_shape=256 --nb_epoch=1 --batch_size=32 --lr=0.0001 --val_ratio=0.8 --checkpoint=10 "
              "--checkpoint_path=./trained_models --weight_dir=./trained_models/20191212/.h5 "
              f"--img_path={SEED_INFER_IMAGE} --infer_single_img=True").split()
CHECKPOINT_NAME = re.compile(r"^\d{2,}-\d+\.\d{2}\.h5$")


def scalar_tags(folder):
    """The scalar names in a TensorBoard run folder's event files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(folder)
    accumulator.Reload()
    return set(accumulator.Tags()["scalars"]) | set(accumulator.Tags()["tensors"])


def checkpoints(folder):
    return sorted(glob.glob(os.path.join(folder, "*.h5")))


@pytest.fixture(scope="module")
def trained(workdir):
    """The seed's training line, run once: 3 epochs at 64 px from random initialisation."""
    result = run_cli(SEED_TRAIN + ["--nb_epoch=3", "--input_shape=64", "--batch_size=4", "--weight_dir=",
                                   "--checkpoint=2"], cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_seed_train_line(trained, workdir):
    folder = workdir / "trained_models" / "lightnet"
    names = [os.path.basename(p) for p in checkpoints(folder)]
    numbered = [n for n in names if n != "last.h5"]
    assert "last.h5" in names and numbered and all(CHECKPOINT_NAME.match(n) for n in numbered), names
    assert any(n.startswith("02-") for n in names)  # --checkpoint=2 writes epoch 2 whatever its loss
    config = json.loads((folder / "run_config.json").read_text())
    assert config["val_ratio"] == 0.8 and config["input_shape"] == 64 and (config["pairs"]["training"], config["pairs"]["validation"]) == (10, 3)
    assert (config["loss"], config["focal_weight"], config["boundary_weight"], config["boundary_loss"]) == (
        "combined", 0.8, 0.1, "focal")
    assert (config["focal_gamma"], config["focal_alpha"]) == (2.0, None)
    state = json.loads((folder / "checkpoints.json").read_text())
    assert (folder / state["best"]).is_file() and state["epoch"] == 3
    terms = {"epoch_loss", "epoch_mask_focal", "epoch_mask_ce", "epoch_boundary_loss", "epoch_mask_iou",
             "epoch_mask_accuracy"}
    for split in ("train", "validation"):
        assert terms <= scalar_tags(glob.glob(str(workdir / "logs" / "lightnet-*" / split))[0]), split
    assert glob.glob(str(workdir / "logs" / "lightnet-*" / "train" / "events.out.tfevents.*"))
    assert glob.glob(str(workdir / "logs" / "lightnet-*" / "validation" / "events.out.tfevents.*"))
    assert glob.glob(str(workdir / "logs" / "lightnet-*" / "images" / "events.out.tfevents.*"))
    assert "parameters" in trained.stdout and "best checkpoint" in trained.stdout


def best_checkpoint(workdir, run="lightnet"):
    folder = workdir / "trained_models" / run
    return str(folder / json.loads((folder / "checkpoints.json").read_text())["best"])


def test_seed_finetune_line_at_another_size(trained, workdir):
    start = best_checkpoint(workdir)
    result = run_cli(SEED_FINETUNE + ["--nb_epoch=2", "--input_shape=96", "--batch_size=4", "--checkpoint=1",
                                      f"--weight_dir={start}", "--freeze_encoder=1"], cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "encoder frozen for the first 1 epoch" in result.stdout
    folder = workdir / "trained_models" / "mattingnet"
    (after_frozen,), (after_both,) = (glob.glob(str(folder / f"{n:02d}-*.h5")) for n in (1, 2))
    nets = [load_checkpoint(path)[0] for path in (start, after_frozen, after_both)]
    encoder = [[w for layer in encoder_layers(m) for w in layer.get_weights()] for m in nets]
    assert all(np.array_equal(a, b) for a, b in zip(encoder[0], encoder[1]))  # frozen: batch-norm statistics too
    assert not all(np.array_equal(a, b) for a, b in zip(encoder[1], encoder[2]))  # then it trains
    head = [m.get_layer("head").get_weights()[0] for m in nets]
    assert not np.array_equal(head[0], head[1])
    config = json.loads((folder / "run_config.json").read_text())
    assert config["finetune"] and config["model_spec"]["model"] == "lightnet" and config["input_shape"] == 96


def test_seed_infer_line(trained, workdir):
    result = run_cli(SEED_INFER + ["--input_shape=64", f"--weight_dir={best_checkpoint(workdir)}"], cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    height, width = cv2.imread(str(workdir / SEED_INFER_IMAGE)).shape[:2]
    for suffix in ("mask.png", "alpha.png", "cutout.png", "overlay.jpg"):
        path = workdir / "outputs" / f"00694_{suffix}"
        assert str(path.relative_to(workdir)) in result.stdout
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert image.shape[:2] == (height, width), suffix
    mask = cv2.imread(str(workdir / "outputs" / "00694_mask.png"), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(mask)) <= {0, 255}
    assert cv2.imread(str(workdir / "outputs" / "00694_cutout.png"), cv2.IMREAD_UNCHANGED).shape[2] == 4


def test_train_convert_infer_in_one_line(workdir):
    from models.predictors import LiteRTModel
    from data.images import read_image
    from data.preprocess import model_input
    from models.checkpoint import load_checkpoint, mask_model

    result = run_cli(["--train=True", "--convert=True", "--infer_single_img=True", "--nb_epoch=1",
                      "--activation=sigsoftmax", "--width=1.5",
                      "--input_shape=64", "--batch_size=4", "--weight_dir=", "--checkpoint_path=./trained_models/all",
                      "--tflite_name=./exports/portrait", f"--img_path={SEED_INFER_IMAGE}", "--output_dir=./out_all"],
                     cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (workdir / "out_all" / "00694_mask.png").is_file()
    model, spec = load_checkpoint(best_checkpoint(workdir, "all"))
    assert spec["kwargs"] == {"boundary": True, "activation": "sigsoftmax", "width": 1.5}
    assert model.get_layer("enc_stem_conv").filters == 24  # 16 channels x 1.5
    model = mask_model(model)
    image = read_image(str(workdir / "dataset" / "selfie" / "testing" / "00001.jpg"))
    batch = model_input(image, 64)[None]
    probs = model(batch).numpy()
    with_softmax = LiteRTModel(str(workdir / "exports" / "portrait.tflite"))(batch)
    logits = LiteRTModel(str(workdir / "exports" / "portrait_without_softmax.tflite"))(batch)
    assert np.abs(with_softmax - probs).max() <= 1e-4
    assert logits.shape == probs.shape
    assert np.array_equal(logits.argmax(-1), probs.argmax(-1))


def test_convert_derives_name_from_weights(trained, workdir):
    weights = best_checkpoint(workdir)
    result = run_cli(["--convert=True", f"--weight_dir={weights}", "--input_shape=64", "--tflite_name="], cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    stem = os.path.splitext(os.path.basename(weights))[0]
    assert (workdir / "trained_models" / f"{stem}_64.tflite").is_file()
    assert (workdir / "trained_models" / f"{stem}_64_without_softmax.tflite").is_file()


@pytest.mark.parametrize("flags,needle", [
    (["--train=True", "--weight_dir=", "--dataset_dir=./missing"], "./missing"),
    (["--train=True", "--weight_dir=./nope.h5"], "nope.h5"),
    (["--infer_single_img=True", "--img_path=./none.png", "--weight_dir=./nope.h5"], "none.png"),
])
def test_user_errors_are_one_line(workdir, flags, needle):
    result = run_cli(flags, cwd=workdir)
    lines = error_lines(result.stderr)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(lines) == 1 and needle in lines[0], result.stderr


def iou(a, b):
    union = (a | b).sum()
    return 1.0 if union == 0 else (a & b).sum() / union


def boundary_f(truth, person, tolerance=3):
    """The F-score of the masks' one-pixel inner boundaries, a boundary pixel matching when the other
    boundary lies within ``tolerance`` pixels (Euclidean)."""
    from scipy import ndimage

    edges = [mask & ~ndimage.binary_erosion(mask, np.ones((3, 3)), border_value=1) for mask in (truth, person)]
    if not any(e.any() for e in edges):
        return 1.0
    if not all(e.any() for e in edges):
        return 0.0
    near = [ndimage.distance_transform_edt(~e) <= tolerance for e in edges]
    precision, recall = (edges[1] & near[0]).mean() / edges[1].mean(), (edges[0] & near[1]).mean() / edges[0].mean()
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def expected_figures(checkpoint, folder, size):
    """The metrics worked out here: predict at ``size``, upsample bilinearly, person >= 0.5 against matte >= 128."""
    import tensorflow as tf

    net = mask_model(load_checkpoint(checkpoint, size)[0])
    fg, two_class, boundary, inter, union = [], [], [], 0, 0
    for matte_path in sorted(glob.glob(str(folder / "*_matte.png"))):
        image = cv2.imread(glob.glob(matte_path.replace("_matte.png", ".*[gG]"))[0])[..., ::-1]
        x = tf.image.resize(image[None].astype(np.float32) / 255, (size, size), antialias=True)
        person = tf.image.resize(net(x)[..., -1:], image.shape[:2], method="bilinear")[0, ..., 0].numpy() >= 0.5
        truth = cv2.imread(matte_path, cv2.IMREAD_GRAYSCALE) >= 128
        fg.append(iou(person, truth))
        two_class.append((fg[-1] + iou(~person, ~truth)) / 2)
        boundary.append(boundary_f(truth, person))
        inter, union = inter + (person & truth).sum(), union + (person | truth).sum()
    return {"mean_fg_iou": np.mean(fg), "dataset_iou": inter / union, "miou_2class": np.mean(two_class),
            "boundary_f": np.mean(boundary)}


def test_evaluate_prints_the_metrics_line(workdir):
    checkpoint = os.path.join(REPO, "trained_models", "initial.h5")  # at 128 px its masks are partly right
    result = run_cli(["--evaluate=True", f"--weight_dir={checkpoint}", "--input_shape=128", "--refine=none",
                      "--output_dir=./eval"], cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(l for l in result.stdout.splitlines() if l.startswith("images="))
    figures = dict(item.split("=") for item in line.split())
    assert figures["images"] == "4" and float(figures["img_per_s"]) > 0
    expected = expected_figures(checkpoint, workdir / "dataset" / "selfie" / "testing", 128)
    assert all(0.1 < value < 0.9 for value in expected.values()), expected  # neither all wrong nor all right
    for key, value in expected.items():
        assert float(figures[key]) == pytest.approx(value, abs=1e-3), key
    assert len(glob.glob(str(workdir / "eval" / "*_worst.jpg"))) == 1


def test_preview_augment_and_bad_spec(workdir):
    result = run_cli(["--preview_augment=4", "--input_shape=64", "--output_dir=./preview"], cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    grid = cv2.imread(str(workdir / "preview" / "augment_preview.png"))
    assert grid.shape == (64, 4 * 2 * 64, 3)
    result = run_cli(["--preview_augment=4", "--augment=Blurry(3)"], cwd=workdir)
    lines = error_lines(result.stderr)
    assert result.returncode == 2 and len(lines) == 1 and "Blurry" in lines[0] and "Fliplr" in lines[0]


def epoch_figures(folder, tag):
    """{epoch (from 1): value} of a TensorBoard scalar in a run's folder."""
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(folder)
    accumulator.Reload()
    return {event.step + 1: float(tf.make_ndarray(event.tensor_proto)) for event in accumulator.Tensors(tag)}


def test_monitor_val_iou_ranks_checkpoints_by_iou(workdir):
    folder = workdir / "trained_models" / "by_iou"
    result = run_cli(["--train=True", "--monitor=val_iou", "--nb_epoch=4", "--input_shape=64", "--batch_size=4",
                      "--lr=0.01", "--weight_dir=", "--checkpoint=0", f"--checkpoint_path={folder}", "--verbose=0"],
                     cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    log_dir = json.loads((folder / "run_config.json").read_text())["run_log_dir"]
    val_iou, val_loss = (epoch_figures(os.path.join(workdir, log_dir, "validation"), tag)
                         for tag in ("epoch_mask_iou", "epoch_loss"))
    assert sorted(val_iou) == [1, 2, 3, 4], val_iou
    # --checkpoint=0: a checkpoint only in the epochs whose val_iou beat every earlier one, the last one the best
    records = [epoch for epoch in val_iou if all(val_iou[epoch] > val_iou[e] for e in range(1, epoch))]
    by_loss = [epoch for epoch in val_loss if all(val_loss[epoch] < val_loss[e] for e in range(1, epoch))]
    assert records != by_loss, (val_iou, val_loss)  # this run tells a ranking by IoU from one by loss
    written = sorted(int(name.split("-")[0]) for name in os.listdir(folder) if CHECKPOINT_NAME.match(name))
    assert written == records, val_iou
    state = json.loads((folder / "checkpoints.json").read_text())
    assert state["monitor"] == "val_iou" and int(state["best"].split("-")[0]) == records[-1]
    assert state["best_value"] == pytest.approx(max(val_iou.values()), abs=1e-6)
    assert f"(val_iou {max(val_iou.values()):.4f})" in result.stdout
