"""``miex render --generator ganimation --weights W`` end to end."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from miex.cli.main import main
from miex.generators.ganimation import GANimationNet, save_network
from tests.generators.ganimation_reference import randomise

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "30_net_gen.pth"
    save_network(randomise(GANimationNet(ngf=8, n_blocks=1), seed=2), path)
    return path


def test_render_with_ganimation(astronaut_path, weights, tmp_path, capsys):
    out = tmp_path / "x.png"
    rc = main(["render", str(astronaut_path), "--generator", "ganimation", "--weights", str(weights),
               "--au", "AU12=0.5", "--out", str(out), "--save-frames", str(tmp_path / "f")])
    assert rc == 0, capsys.readouterr().err
    assert cv2.imread(str(out)) is not None
    onset = cv2.imread(str(tmp_path / "f" / "onset.png"))
    apex = cv2.imread(str(tmp_path / "f" / "apex.png"))
    assert onset.shape == apex.shape == (128, 128, 3)
    assert np.abs(onset.astype(int) - apex.astype(int)).max() > 0


def test_render_bad_weights_is_one_line(astronaut_path, tmp_path, capsys):
    bad = tmp_path / "bad.pth"
    torch.save({"model.0.weight": torch.zeros(3)}, bad)
    out = tmp_path / "y.png"
    rc = main(["render", str(astronaut_path), "--generator", "ganimation", "--weights", str(bad),
               "--au", "AU12=0.5", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and not out.exists()
    assert err.startswith("miex: error:") and str(bad) in err and len(err.splitlines()) == 1
    assert main(["render", str(astronaut_path), "--weights", str(bad), "--au", "AU12=0.5", "--out", str(out)]) == 2
    assert "--weights is used by --generator ganimation" in capsys.readouterr().err
