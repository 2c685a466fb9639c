"""models/soup.py: the mean of several checkpoints of one network."""
import subprocess
import sys

import numpy as np
import pytest

from models.checkpoint import build, load_checkpoint, make_spec, save_checkpoint
from models.soup import soup
from utils import UserError


def checkpoint(path, size=32, seed=0, width=0.25):
    spec = make_spec("lightnet", size, width=width, boundary=False)
    model = build(spec)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=w.shape).astype(w.dtype) for w in model.get_weights()])
    save_checkpoint(model, spec, str(path), include_optimizer=False)
    return model.get_weights()


def test_soup_is_the_mean_of_its_checkpoints_at_the_first_ones_size(tmp_path):
    a = checkpoint(tmp_path / "a.h5", size=32, seed=1)
    b = checkpoint(tmp_path / "b.h5", size=64, seed=2)  # weights trained at another size fit the same network
    model, spec = soup([str(tmp_path / "a.h5"), str(tmp_path / "b.h5")])
    assert spec["input_shape"] == 32
    for mixed, x, y in zip(model.get_weights(), a, b):
        np.testing.assert_allclose(mixed, (x + y) / 2, rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_another_network_is_refused_and_the_cli_writes_a_loadable_soup(tmp_path):
    checkpoint(tmp_path / "a.h5", seed=1)
    checkpoint(tmp_path / "wide.h5", width=0.5)
    with pytest.raises(UserError, match="wide.h5 is another network"):
        soup([str(tmp_path / "a.h5"), str(tmp_path / "wide.h5")])
    checkpoint(tmp_path / "b.h5", seed=2)
    out = subprocess.run([sys.executable, "-m", "models.soup", str(tmp_path / "s.h5"), str(tmp_path / "a.h5"),
                          str(tmp_path / "b.h5")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert load_checkpoint(str(tmp_path / "s.h5"))[1]["input_shape"] == 32
    bad = subprocess.run([sys.executable, "-m", "models.soup", str(tmp_path / "t.h5"), str(tmp_path / "a.h5")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].endswith("at least two checkpoints, got 1")
    assert not (tmp_path / "t.h5").exists()
