"""``miex render`` end to end on the astronaut photo."""

from __future__ import annotations

import numpy as np
import pytest

from miex.cli.main import main


def _read(path):
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, path
    return img


def test_render_au_writes_png_and_frames(astronaut_path, tmp_path, capsys):
    out = tmp_path / "out.png"
    frames = tmp_path / "frames"
    rc = main(["render", str(astronaut_path), "--au", "AU12=0.3", "--au", "AU6=0.2", "--out", str(out), "--save-frames", str(frames)])
    assert rc == 0
    panel = _read(out)
    onset, apex = _read(frames / "onset.png"), _read(frames / "apex.png")
    assert onset.shape == apex.shape == (128, 128, 3)
    assert panel.shape[1] > 3 * 256 and panel.shape[0] > 256  # three upscaled, labelled panels
    diff = np.abs(apex.astype(int) - onset.astype(int))
    assert diff.max() > 0 and (diff.sum(axis=2) == 0).mean() > 0.1  # the face moved, not the corners
    assert "AU12=0.30" in capsys.readouterr().out


def test_render_emotion_is_reproducible(astronaut_path, tmp_path, capsys):
    args = ["render", str(astronaut_path), "--emotion", "happiness", "--intensity", "0.25", "--seed", "0"]
    assert main(args + ["--out", str(tmp_path / "a.png"), "--save-frames", str(tmp_path / "a")]) == 0
    assert main(args + ["--out", str(tmp_path / "b.png"), "--save-frames", str(tmp_path / "b")]) == 0
    assert (tmp_path / "a" / "apex.png").read_bytes() == (tmp_path / "b" / "apex.png").read_bytes()
    assert "AU12=0.25" in capsys.readouterr().out  # happiness always has AU12


def test_render_macro_and_size(astronaut_path, tmp_path):
    rc = main(["render", str(astronaut_path), "--emotion", "surprise", "--macro", "--size", "96", "--out", str(tmp_path / "m.png"), "--save-frames", str(tmp_path / "m")])
    assert rc == 0 and _read(tmp_path / "m" / "apex.png").shape == (96, 96, 3)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--au", "AU12:0.3"], "bad --au"),
        (["--au", "AU99=0.3"], "bad --au"),
        (["--au", "AU12=2"], "bad --au"),
        ([], "nothing to render"),
        (["--emotion", "boredom"], "unknown emotion"),
    ],
)
def test_render_bad_arguments(astronaut_path, tmp_path, capsys, extra, message):
    assert main(["render", str(astronaut_path), *extra, "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("miex: error:") and message in err and "\n" not in err


def test_render_unreadable_and_faceless_images(tmp_path, capsys):
    import cv2

    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((160, 160, 3), 127, np.uint8))
    for path, message in ((bad, "unreadable image"), (blank, "no face found")):
        assert main(["render", str(path), "--au", "AU12=0.3", "--out", str(tmp_path / "x.png")]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and str(path) in err and "\n" not in err
