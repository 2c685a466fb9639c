"""The Python API (engine/segmenter.py) and --infer_single_img on files, folders and globs."""
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from data.images import read_image
from data.synthetic import portrait
from engine.segmenter import Segmenter
from tests.conftest import REPO, error_lines, run_cli

SHIPPED_TFLITE = os.path.join(REPO, "trained_models", "initial.tflite")
SHIPPED_H5 = os.path.join(REPO, "trained_models", "initial.h5")


def photo(seed, height=120, width=90):
    image, _ = portrait(np.random.default_rng(seed), height, width)
    return image


@pytest.mark.parametrize("weights", [SHIPPED_TFLITE, SHIPPED_H5])
def test_the_api_gives_an_alpha_at_the_photo_size_for_both_formats(weights):
    segmenter = Segmenter(weights)
    alpha = segmenter(photo(3))
    assert alpha.shape == (120, 90) and alpha.dtype == np.float32 and 0 <= alpha.min() and alpha.max() <= 1
    assert segmenter.probability(photo(3)).shape == (segmenter.size, segmenter.size)


def test_h5_and_tflite_agree_through_the_api():
    image = read_image(os.path.join(REPO, "docs", "images", "astronaut.jpg"))
    h5, lite = Segmenter(SHIPPED_H5, refine="none")(image), Segmenter(SHIPPED_TFLITE, refine="none")(image)
    assert np.abs(h5 - lite).max() < 1e-3


def test_the_readme_snippet_runs(tmp_path):
    with open(os.path.join(REPO, "README.md")) as f:
        section = f.read().split("## Use it from Python", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    result = subprocess.run([sys.executable, "-c", snippet], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.slow
def test_a_tflite_runs_photos_without_importing_tensorflow(tmp_path):
    cv2.imwrite(str(tmp_path / "one.jpg"), photo(1)[..., ::-1])
    code = ("import sys, main; status = main.main(['--infer_single_img=True', '--weight_dir=%s', '--img_path=%s', "
            "'--output_dir=%s']); print('tensorflow' in sys.modules, status)"
            % (SHIPPED_TFLITE, tmp_path / "one.jpg", tmp_path / "out"))
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.stdout.strip().splitlines()[-1] == "False 0", result.stderr[-2000:]
    assert sorted(os.listdir(tmp_path / "out")) == ["one_alpha.png", "one_cutout.png", "one_mask.png",
                                                   "one_overlay.jpg"]


@pytest.mark.slow
def test_a_folder_runs_once_skips_a_bad_file_and_sums_up(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(3):
        cv2.imwrite(str(folder / f"p{index}.jpg"), photo(index)[..., ::-1])
    (folder / "broken.jpg").write_bytes(b"not a photo")
    (folder / "p0_matte.png").write_bytes(b"a matte is not a photo to segment")
    (folder / "notes.txt").write_text("not a photo either")
    result = run_cli(["--infer_single_img=True", f"--weight_dir={SHIPPED_TFLITE}", f"--img_path={folder}",
                      f"--output_dir={tmp_path / 'out'}", "--background=#00A0FF"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert error_lines(result.stderr) == [f"warning: skipped: --img_path: {folder / 'broken.jpg'} is not a readable "
                                          f"image (cannot identify image file '{folder / 'broken.jpg'}')"]
    assert re.search(r"^3 photos done, 1 skipped, \d+ ms per photo", result.stdout, re.M)
    written = sorted(os.listdir(tmp_path / "out"))
    assert len(written) == 15 and all(name.startswith(("p0_", "p1_", "p2_")) for name in written)
    assert "\x1b" not in result.stdout + result.stderr  # no progress bar in a pipe


@pytest.mark.slow
def test_a_glob_and_a_missing_path(tmp_path):
    for name in ("a.png", "b.jpg"):
        cv2.imwrite(str(tmp_path / name), photo(5)[..., ::-1])
    result = run_cli(["--infer_single_img=True", f"--weight_dir={SHIPPED_TFLITE}", f"--img_path={tmp_path}/*.png",
                      f"--output_dir={tmp_path / 'out'}"], cwd=tmp_path)
    assert result.returncode == 0 and sorted(os.listdir(tmp_path / "out"))[0] == "a_alpha.png"
    assert len(os.listdir(tmp_path / "out")) == 4
    missing = run_cli(["--infer_single_img=True", f"--weight_dir={SHIPPED_TFLITE}", "--img_path=./nowhere",
                       f"--output_dir={tmp_path / 'out2'}"], cwd=tmp_path)
    assert missing.returncode == 2 and error_lines(missing.stderr) == [
        "main.py: error: --img_path: no such file or folder: ./nowhere"]


@pytest.mark.slow
def test_an_exif_rotated_photo_comes_out_upright(tmp_path):
    upright = photo(9, 160, 120)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned 90 degrees anticlockwise; a viewer turns it back
    Image.fromarray(np.ascontiguousarray(np.rot90(upright, 1))).save(tmp_path / "phone.jpg", quality=95, exif=exif)
    Image.fromarray(upright).save(tmp_path / "plain.jpg", quality=95)
    result = run_cli(["--infer_single_img=True", f"--weight_dir={SHIPPED_TFLITE}", f"--img_path={tmp_path}",
                      f"--output_dir={tmp_path / 'out'}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    phone, plain = (cv2.imread(str(tmp_path / "out" / f"{n}_mask.png"), cv2.IMREAD_GRAYSCALE) >= 128
                    for n in ("phone", "plain"))
    assert phone.shape == plain.shape == (160, 120)
    assert (phone & plain).sum() / (phone | plain).sum() > 0.98
