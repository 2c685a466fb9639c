import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from data.synthetic import make_dataset, portrait

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAIN = os.path.join(REPO, "main.py")
SEED_INFER_IMAGE = "./dataset/selfie/training/00694.png"
SHARED = os.path.join(REPO, "..", "shared")


def pytest_runtest_setup(item):
    """``@pytest.mark.shared_data("datasets", "eg1800")``: the test needs ../shared/datasets/eg1800 and is
    skipped, saying so, when it is absent."""
    for marker in item.iter_markers("shared_data"):
        if not os.path.exists(os.path.join(SHARED, *marker.args)):
            pytest.skip(f"{os.path.join('..', 'shared', *marker.args)} is absent")


def run_cli(args, cwd, timeout=600, env=None):
    """Run main.py as a user would (``env``: variables added to the environment); returns the
    CompletedProcess (text output)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([sys.executable, MAIN, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def error_lines(stderr):
    """The non-blank lines of stderr (TensorFlow's start-up chatter is muted by main.py)."""
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    """A working folder laid out like the seed's: ./dataset/selfie with training/ and testing/.

    It also holds the image the seed's inference line names, as a non-square PNG.
    """
    root = tmp_path_factory.mktemp("work")
    make_dataset(str(root / "dataset" / "selfie"), train=12, test=4, size=96, seed=1)
    image, matte = portrait(np.random.default_rng(7), 150, 110)
    cv2.imwrite(str(root / SEED_INFER_IMAGE), image[..., ::-1])
    cv2.imwrite(str(root / SEED_INFER_IMAGE).replace(".png", "_matte.png"), matte)
    return root
