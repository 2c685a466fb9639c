"""--refine, --trimap_band and --background through the real CLI, with the shipped model."""
import os
import re
import shutil

import cv2
import numpy as np
import pytest

from tests.conftest import REPO, SEED_INFER_IMAGE, error_lines, run_cli

SHIPPED = os.path.join(REPO, "trained_models", "initial.h5")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.isfile(SHIPPED), reason="no shipped model")]
INFER = ["--infer_single_img=True", f"--img_path={SEED_INFER_IMAGE}", f"--weight_dir={SHIPPED}"]


def read(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


@pytest.fixture(scope="module")
def photo(workdir):
    """A landscape picture of another size and aspect ratio, for --background=photo.jpg."""
    picture = np.zeros((60, 200, 3), np.uint8)
    picture[:] = (40, 90, 200)  # BGR
    cv2.imwrite(str(workdir / "photo.jpg"), picture)
    return "photo.jpg"


@pytest.mark.parametrize("background,expected_bgr", [("#00FF00", (0, 255, 0)), ("blur", None),
                                                     ("photo.jpg", (40, 90, 200))])
def test_background_writes_a_full_size_composite(workdir, photo, background, expected_bgr):
    out = f"./out_bg_{background.strip('#.')}"
    result = run_cli(INFER + [f"--background={background}", f"--output_dir={out}"], cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"^1 photo done, 0 skipped, \d+ ms per photo \(refine=guided", result.stdout, re.M)
    height, width = read(workdir / SEED_INFER_IMAGE).shape[:2]
    composite, alpha = read(workdir / out / "00694_composite.jpg"), read(workdir / out / "00694_alpha.png")
    assert composite.shape == (height, width, 3) and f"{out[2:]}/00694_composite.jpg" in result.stdout
    scene = alpha == 0
    assert scene.mean() > 0.2
    if expected_bgr is None:  # the photo's own background, blurred
        photo_scene = read(workdir / SEED_INFER_IMAGE)[scene].astype(float)
        assert np.abs(composite[scene].astype(float) - photo_scene).mean() > 2
    else:
        assert np.abs(composite[scene].astype(float) - expected_bgr).mean() < 8


@pytest.mark.parametrize("background,needle", [("#12345", "#12345"), ("./no_such.jpg", "no_such.jpg")])
def test_bad_background_is_one_line(workdir, background, needle):
    result = run_cli(INFER + [f"--background={background}", "--output_dir=./out_bad_bg"], cwd=workdir)
    lines = error_lines(result.stderr)
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "--background" in lines[0] and needle in lines[0]
    assert not (workdir / "out_bad_bg").exists()


def test_refine_none_writes_the_upsampled_probability(workdir):
    from data.images import read_image
    from engine.segmenter import Segmenter

    result = run_cli(INFER + ["--refine=none", "--output_dir=./out_none"], cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    expected = np.round(Segmenter(SHIPPED, refine="none")(read_image(str(workdir / SEED_INFER_IMAGE))) * 255)
    assert np.array_equal(read(workdir / "out_none" / "00694_alpha.png"), expected.astype(np.uint8))


@pytest.fixture(scope="module")
def soft_set(workdir):
    """The synthetic test split with its mattes blurred to soft alpha."""
    root = workdir / "soft"
    shutil.copytree(workdir / "dataset" / "selfie" / "testing", root / "testing")
    for matte in (root / "testing").glob("*_matte.png"):
        cv2.imwrite(str(matte), cv2.GaussianBlur(read(matte), (0, 0), 2))
    return root


def figures(stdout):
    line = next(line for line in stdout.splitlines() if line.startswith("images="))
    return dict(item.split("=") for item in line.split())


def test_evaluate_prints_alpha_errors_on_soft_mattes_only(workdir, soft_set):
    soft = run_cli(["--evaluate=True", f"--weight_dir={SHIPPED}", "--dataset_dir=./soft", "--refine=cf",
                    "--trimap_band=4", "--output_dir=./eval_soft"], cwd=workdir)
    assert soft.returncode == 0, soft.stderr[-3000:]
    found = figures(soft.stdout)
    assert found["refine"] == "cf" and float(found["refine_ms"]) > 0
    for key in ("sad", "mse", "grad", "conn", "sad_unknown", "mse_unknown", "grad_unknown", "conn_unknown"):
        assert float(found[key]) >= 0, key
    binary = run_cli(["--evaluate=True", f"--weight_dir={SHIPPED}", "--output_dir=./eval_binary"], cwd=workdir)
    assert binary.returncode == 0, binary.stderr[-3000:]
    assert "sad" not in figures(binary.stdout) and figures(binary.stdout)["refine"] == "guided"
