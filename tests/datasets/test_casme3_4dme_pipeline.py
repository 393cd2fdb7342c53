"""CAS(ME)^3 and 4DME through miex's commands, on 640x480 frames with the face a part of the frame:
``miex datasets check`` lists both, ``show`` prints their schemes, ``crop`` crops their clips, and
``miex aus extract`` recovers the rendered motion and builds z^MiE (and CAS(ME)^3 z^MaE) pools
with dataset-qualified subjects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from miex.au.pool import read_pool
from miex.au.space import AU_NAMES
from miex.testing import Casme3Row, ClipSpec, has_warp_generator, warp_frames, write_casme3_fixture, write_fourdme_fixture
from miex.testing.frames import EMOTION_AUS
from tests.datasets.conftest import run_cli as run

FACE = 150
HEIGHT, WIDTH = 480, 640
#: one ME per video, all three classes for two subjects; one macro-expression per class
ROWS = (
    Casme3Row("spNO.1", "a", 20, 23, 26, "12", "I", "happy"),
    Casme3Row("spNO.1", "b", 40, 43, 46, "1+2", "II", "surprise"),
    Casme3Row("spNO.1", "c", 60, 63, 66, "4+9", "III", "disgust"),
    Casme3Row("spNO.2", "a", 10, 13, 16, "12", "I", "happy"),
    Casme3Row("spNO.2", "d", 30, 33, 36, "1+2", "II", "surprise"),
    Casme3Row("spNO.2", "e", 50, 53, 56, "4", "III", "anger"),
)
MAE = (
    Casme3Row("spNO.1", "f", 5, 9, 12, "6+12", "", "happiness"),
    Casme3Row("spNO.2", "g", 5, 9, 12, "1+2", "", "surprise"),
    Casme3Row("spNO.2", "h", 5, 9, 12, "9", "", "disgust"),
)
FOURD = (
    ClipSpec("S01", "S01_1st_001_01_1", "Positive", 100, 103, 106, "AU6+AU12"),
    ClipSpec("S02", "S02_1st_002_01_1", "Negative", 10, 13, 16, "AU4+AU7"),
    ClipSpec("S02", "S02_1st_003_01_1", "Surprise+Positive", 30, 32, 34, "AU1+AU2+AU12"),
)


def canvas_source():
    """Warp-generator astronaut frames (known AU motion) off-centre in a 640x480 grey frame."""
    warp = warp_frames(FACE)

    def source(info, n):
        out = []
        for frame in warp(info, n):
            canvas = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
            canvas[120 : 120 + FACE, 330 : 330 + FACE] = frame
            out.append(canvas)
        return out

    return source


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    if not has_warp_generator(FACE):
        pytest.skip("the warp generator is not available")
    base = tmp_path_factory.mktemp("real-scale")
    source = canvas_source()
    c3 = write_casme3_fixture(base / "CASME3", ROWS, mae_rows=MAE, frame_source=source, depth=False)
    fd = write_fourdme_fixture(base / "4DME", FOURD, frame_source=source)
    return {"casme3": c3.root, "4dme": fd.root}


def test_check_lists_both_and_show_prints_schemes(roots, tmp_path):
    cfg = tmp_path / "d.toml"
    cfg.write_text(f'[roots]\ncasme3 = "{roots["casme3"]}"\n4dme = "{roots["4dme"]}"\n')
    rc, out, err = run("datasets", "check", "--config", str(cfg), "--no-decode")
    assert rc == 0 and "Traceback" not in out + err
    table = {line.split()[0]: line.split() for line in out.splitlines() if line.split()[:1] in (["casme3"], ["4dme"])}
    # dataset root found clips 3class subjects problems
    assert table["casme3"][2:] == ["yes", str(len(ROWS)), str(len(ROWS)), "2", "0"]
    assert table["4dme"][2:] == ["yes", "3", "2", "2", "0"]  # Surprise+Positive is outside 3-class
    rc, out, _ = run("datasets", "show", "casme3", "--config", str(cfg), "--scheme", "7class")
    assert rc == 0 and "happy=2" in out and "anger=1" in out and "a_20" in out
    rc, out, _ = run("datasets", "show", "4dme", "--config", str(cfg), "--native")
    assert rc == 0 and "positive=1" in out and "negative=1" in out


def test_crop_both(roots, tmp_path, monkeypatch):
    monkeypatch.setenv("MIEX_CACHE_DIR", str(tmp_path / "cache"))
    for name, n in (("casme3", len(ROWS)), ("4dme", 2)):
        rc, out, err = run("datasets", "crop", name, "--root", str(roots[name]), "--size", "64", "--frames", "pair",
                           "--upsample", "0")
        assert rc == 0, err
        assert f"{name}: {n} clip(s) cropped" in out and "nothing skipped" in out


def test_aus_extract_and_pools(roots, tmp_path):
    out, pools = tmp_path / "aus", tmp_path / "pools"
    rc, stdout, err = run("aus", "extract", "casme3", "--root", str(roots["casme3"]), "--out", str(out), "--quiet",
                          "--upsample", "0", "--pool", "mie", "--per-class", "4", "--reuse", "1", "--seed", "2",
                          "--pool-out", str(pools / "mie"))
    assert rc == 0, err
    index = pd.read_csv(out / "casme3" / "index.csv", dtype=str)
    assert sorted(index["clip"]) == sorted(f"{r.video}_{r.onset}" for r in ROWS)
    for row in index.itertuples():  # the rendered motion grows from the onset to the apex
        z = pd.read_csv(out / "casme3" / row.csv).set_index("frame")[list(AU_NAMES)]
        assert z.loc[int(row.onset)].max() == 0 and z.loc[int(row.apex)].max() > 0.15
        assert z.loc[int(row.apex)].idxmax() in EMOTION_AUS[row.label]  # the AUs of the clip's emotion
    pool = read_pool(pools / "mie" / "pool.parquet")
    assert pool.groupby("label").size().tolist() == [4, 4, 4]
    assert set(pool["au_subject"]) == {"casme3/spNO.1", "casme3/spNO.2"} and set(pool["au_dataset"]) == {"casme3"}

    rc, _, err = run("aus", "extract", "casme3", "--part", "macro", "--root", str(roots["casme3"]), "--out",
                     str(tmp_path / "mae"), "--quiet", "--upsample", "0", "--pool", "mae", "--per-class", "3",
                     "--seed", "2", "--pool-out", str(pools / "mae"))
    assert rc == 0, err
    mae = read_pool(pools / "mae" / "pool.parquet")
    assert set(mae["source"]) == {"mae"} and mae.groupby("label").size().tolist() == [3, 3, 3]
    assert set(mae["onset_frame"]) == {"5"}  # the first frame of each MaE clip

    rc, _, err = run("aus", "extract", "4dme", "--root", str(roots["4dme"]), "--out", str(tmp_path / "4d"),
                     "--quiet", "--upsample", "0")
    assert rc == 0, err
    index = pd.read_csv(tmp_path / "4d" / "4dme" / "index.csv", dtype=str)
    assert sorted(index["subject"]) == ["S01", "S02"] and set(index["dataset"]) == {"4dme"}
    for row in index.itertuples():  # grey frames: the motion is still recovered
        z = pd.read_csv(tmp_path / "4d" / "4dme" / row.csv).set_index("frame")[list(AU_NAMES)]
        assert z.loc[int(row.onset)].max() == 0 and z.loc[int(row.apex)].max() > 0.15
        assert z.loc[int(row.apex)].idxmax() in EMOTION_AUS[row.label]
