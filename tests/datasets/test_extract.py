"""``miex aus extract`` / ``miex aus pools`` on fixture trees rendered with a known AU motion:
the estimator recovers it, OpenFace CSVs are mapped to native frame numbers, fold pools leave out
their test subjects, and a CASME II pool drives ``miex synth --mie-pool``."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from miex.au.pool import read_pool
from miex.au.space import AU_NAMES
from miex.datasets import load_dataset
from miex.datasets.extract import INDEX_COLUMNS, openface_frame_order, openface_table
from miex.testing import (
    ClipSpec,
    has_warp_generator,
    warp_frames,
    write_casme2_fixture,
    write_ckplus_fixture,
)
from miex.testing.frames import EMOTION_AUS
from tests.au.conftest import write_openface_csv
from tests.datasets.conftest import run_cli as run

FACE = 96
HEIGHT, WIDTH = 180, 240
NO_FACE = "EP07_01"
#: Three subjects with all three classes (for fold pools), a clip name shared by two subjects
#: (CASME II does this), frames crossing 9 -> 10, a faceless clip and the "/" apex quirk.
CLIPS = (
    ClipSpec("sub01", "EP02_01f", "happiness", 8, 10, 12, "12"),
    ClipSpec("sub01", "EP19_05f", "disgust", 5, 7, 9, "9+17"),
    ClipSpec("sub01", "EP03_01", "surprise", 20, 22, 24, "1+2"),
    ClipSpec("sub02", "EP02_01f", "surprise", 40, 42, 44, "1+2"),
    ClipSpec("sub02", "EP05_02", "happiness", 30, 32, 34, "6+12"),
    ClipSpec("sub02", "EP08_01", "repression", 50, 52, 54, "14"),
    ClipSpec("sub03", "EP11_01", "disgust", 60, 62, 64, "9"),
    ClipSpec("sub03", "EP12_02", "happiness", 70, 72, 74, "12"),
    ClipSpec("sub03", "EP13_03", "surprise", 80, 82, 84, "1+2+5"),
    ClipSpec("sub04", NO_FACE, "disgust", 5, 6, 8, "4"),
    ClipSpec("sub04", "EP12_01f", "disgust", 30, "/", 34, "9"),
)
EXTRACTED = {(c.subject, c.clip) for c in CLIPS if c.clip not in (NO_FACE, "EP12_01f")}


def canvas_source():
    """Astronaut frames from the warp generator (known AU motion per emotion) inside a larger
    grey frame; the faceless clip gets plain grey frames."""
    warp = warp_frames(FACE)

    def source(info, n):
        if info.clip == NO_FACE:
            return [np.full((HEIGHT, WIDTH, 3), 120, np.uint8) for _ in range(n)]
        out = []
        for frame in warp(info, n):
            canvas = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
            canvas[40 : 40 + FACE, 100 : 100 + FACE] = frame
            out.append(canvas)
        return out

    return source


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def trees_with_motion(tmp_path_factory) -> dict[str, Path]:
    if not has_warp_generator(FACE):
        pytest.skip("the warp generator is not available")
    root = tmp_path_factory.mktemp("extract-trees")
    source = canvas_source()
    write_casme2_fixture(root / "casme2", CLIPS, frame_source=source)
    # frames before the onset that show the apex: an extractor that took the folder's first
    # frame as neutral would see the expression *fall* from there to the apex
    clip = root / "casme2" / "CASME2_RAW_selected" / "sub03" / "EP12_02"
    for n in (68, 69):
        shutil.copy(clip / "img72.jpg", clip / f"img{n}.jpg")
    write_ckplus_fixture(root / "ckplus", frame_source=source)
    return {"casme2": root / "casme2", "ckplus": root / "ckplus"}


@pytest.fixture(scope="session")
def estimated(trees_with_motion, tmp_path_factory) -> dict:
    """``miex aus extract casme2`` with the landmark estimator, run once."""
    out = tmp_path_factory.mktemp("aus")
    rc, stdout, stderr = run("aus", "extract", "casme2", "--root", str(trees_with_motion["casme2"]),
                             "--out", str(out), "--quiet")
    return {"rc": rc, "out": out, "stdout": stdout, "stderr": stderr, "base": out / "casme2"}


def test_estimator_tables_and_index(estimated):
    assert estimated["rc"] == 0, estimated["stderr"]
    base = estimated["base"]
    index = pd.read_csv(base / "index.csv", dtype=str, keep_default_na=False)
    assert list(index.columns) == list(INDEX_COLUMNS)
    assert set(zip(index["subject"], index["clip"])) == EXTRACTED
    assert set(index["dataset"]) == {"casme2"}
    specs = {(c.subject, c.clip): c for c in CLIPS}
    for row in index.itertuples():
        spec = specs[(row.subject, row.clip)]
        assert row.csv == f"{row.subject}/{row.clip}.csv"
        assert row.label == spec.emotion  # emotion words that mean one class everywhere
        assert (int(row.onset), int(row.apex), int(row.offset)) == (spec.onset, spec.apex, spec.offset)
        table = pd.read_csv(base / row.csv)
        assert list(table.columns) == ["frame", *AU_NAMES, "confidence", "success"]
        # native frame numbers, onset..offset only (sub03/EP12_02 has frames 68, 69 before its onset)
        assert table["frame"].tolist() == list(range(spec.onset, spec.offset + 1))
        z = table[list(AU_NAMES)].to_numpy()
        assert (z >= 0).all() and (z <= 1).all()


def test_estimator_recovers_the_rendered_motion(estimated):
    base = estimated["base"]
    for spec in CLIPS:
        if (spec.subject, spec.clip) not in EXTRACTED:
            continue
        table = pd.read_csv(base / spec.subject / f"{spec.clip}.csv").set_index("frame")
        moved = list(EMOTION_AUS[spec.emotion])
        still = [a for a in AU_NAMES if a not in moved]
        onset, apex = table.loc[spec.onset], table.loc[spec.apex]
        rise = apex[moved].mean() - onset[moved].mean()
        assert rise > 0.15, f"{spec.subject}/{spec.clip}: {moved} rose only {rise:.3f}"
        assert apex[moved].mean() > 2 * apex[still].mean(), f"{spec.subject}/{spec.clip}: {apex.round(2).to_dict()}"
        # and falls back towards the offset
        assert table.loc[spec.offset, moved].mean() < apex[moved].mean()


def test_bad_clips_are_reported_once_and_skipped(estimated, trees_with_motion):
    err = estimated["stderr"]
    lines = [line for line in err.splitlines() if NO_FACE in line]
    assert len(lines) == 1 and lines[0].startswith("miex: skipped casme2/sub04/EP07_01")
    assert "no face found" in lines[0] and "img5.jpg" in lines[0]
    assert "skipped 1 input(s)" in err
    assert "annotation problem" in err  # the "/" apex, reported by the loader
    assert "Traceback" not in err
    assert "AU tables of 9 of 10 clips" in estimated["stdout"]


def test_second_run_reuses_and_other_settings_need_overwrite(estimated, trees_with_motion, tmp_path):
    root = str(trees_with_motion["casme2"])
    out = tmp_path / "aus"
    shutil.copytree(estimated["out"], out)
    before = {p: sha(p) for p in (out / "casme2").rglob("*.csv")}
    rc, stdout, _ = run("aus", "extract", "casme2", "--root", root, "--out", str(out), "--quiet")
    assert rc == 0 and "9 reused" in stdout
    assert {p: sha(p) for p in (out / "casme2").rglob("*.csv")} == before
    rc, _, err = run("aus", "extract", "casme2", "--root", root, "--out", str(out), "--quiet", "--upsample", "0")
    assert rc == 2 and "--overwrite" in err


def test_index_is_accepted_by_aus_sample(estimated, tmp_path):
    base = estimated["base"]
    pool_path = tmp_path / "sampled.parquet"
    rc, stdout, err = run("aus", "sample", "--source", "mie", "--csv-dir", str(base), "--index",
                          str(base / "index.csv"), "--per-class", "6", "--reuse", "1", "--out", str(pool_path))
    assert rc == 0, err
    assert "9 usable" in err  # both EP02_01f clips (sub01 and sub02) are kept
    pool = read_pool(pool_path)
    index = pd.read_csv(base / "index.csv", dtype=str).set_index(["subject", "clip"])
    for row in pool.itertuples():
        local = row.au_subject.split("/", 1)[1]
        ann = index.loc[(local, row.au_clip)]
        assert row.au_dataset == "casme2"
        assert (row.onset_frame, row.apex_frame) == (ann["onset"], ann["apex"])
        assert row.emotion == ann["label"]
        assert row.label == {"happiness": 1, "surprise": 2}.get(ann["label"], 0)
    # 6 per class, each pair once before the next: all 9 clips, both EP02_01f among them
    assert {(s.split("/")[1], c) for s, c in zip(pool["au_subject"], pool["au_clip"])} == EXTRACTED


# ------------------------------------------------------------------------------------------ OpenFace


def _openface_dir(tree: Path, tmp_path: Path) -> Path:
    """OpenFace 2.2 CSVs for the fixture clips, named in every supported way; AU01 encodes the
    native frame number of each row (z = n / 100) in OpenFace's lexical frame order."""
    ds = load_dataset("casme2", tree)
    folder = tmp_path / "openface"
    names = {
        ("sub01", "EP02_01f"): "sub01_EP02_01f.csv",
        ("sub02", "EP02_01f"): "sub02/EP02_01f.csv",
        ("sub01", "EP19_05f"): "EP19_05f.csv",  # unique name: the bare clip name is enough
        ("sub03", "EP13_03"): "EP13_03.csv",
    }
    for row in ds.samples.itertuples():
        local = row.subject.split("/", 1)[1]
        name = names.get((local, row.clip), f"{local}/{row.clip}.csv")
        ordered = openface_frame_order(row.frames, "lexical")
        numbers = np.array([int(Path(p).stem[3:]) for p in ordered])
        z = np.zeros((len(ordered), len(AU_NAMES)))
        z[:, 0] = numbers / 100.0
        success = [1] * len(ordered)
        success[1] = 0  # OpenFace lost the face here: the row is dropped
        if row.clip == NO_FACE:
            success = [0] * len(ordered)  # no face anywhere: OpenFace writes rows with success 0
        write_openface_csv(folder / name, z, variant="2.2", success=success)
    # a clip whose CSV exists only under its ambiguous bare name; one unreadable CSV
    (folder / "sub02" / "EP02_01f.csv").rename(folder / "EP02_01f.csv")
    (folder / "sub03" / "EP11_01.csv").write_text("frame, face_id, timestamp\n1, 0, \x00\x01garbage")
    return folder


def test_openface_csvs_are_mapped_to_native_frames(trees_with_motion, tmp_path):
    tree = trees_with_motion["casme2"]
    openface = _openface_dir(tree, tmp_path)
    out = tmp_path / "aus"
    rc, stdout, err = run("aus", "extract", "casme2", "--root", str(tree), "--openface-dir", str(openface),
                          "--out", str(out), "--quiet")
    assert rc == 0, err
    index = pd.read_csv(out / "casme2" / "index.csv", dtype=str)
    got = set(zip(index["subject"], index["clip"]))
    assert got == EXTRACTED - {("sub02", "EP02_01f"), ("sub03", "EP11_01")}
    assert "ambiguous" in err and "sub02_EP02_01f.csv" in err  # tells how to name it
    assert "EP11_01.csv" in err and "Traceback" not in err
    assert "skipped casme2/sub04/EP07_01" in err and "skipped 3 input(s)" in err
    ds = load_dataset("casme2", tree)
    frames = {(r.subject.split("/")[1], r.clip): r.frames for r in ds.samples.itertuples()}
    for row in index.itertuples():
        table = pd.read_csv(out / "casme2" / row.csv)
        numbers = sorted(int(Path(p).stem[3:]) for p in frames[(row.subject, row.clip)])
        lexical = sorted(frames[(row.subject, row.clip)], key=lambda p: Path(p).name)
        dropped = int(Path(lexical[1]).stem[3:])  # OpenFace frame 2 had success 0
        assert table["frame"].tolist() == [n for n in numbers if n != dropped]
        # every row carries the AUs OpenFace computed for that very frame file
        assert np.allclose(table["AU01"] * 100, table["frame"])


def test_openface_frame_order_matters(trees_with_motion, tmp_path):
    clip = trees_with_motion["casme2"] / "CASME2_RAW_selected" / "sub01" / "EP02_01f"  # img8 ... img12
    paths = sorted(str(p) for p in clip.glob("*.jpg"))
    lexical = [Path(p).name for p in openface_frame_order(paths, "lexical")]
    assert lexical == ["img10.jpg", "img11.jpg", "img12.jpg", "img8.jpg", "img9.jpg"]
    numeric = [Path(p).name for p in openface_frame_order(paths, "numeric")]
    assert numeric == ["img8.jpg", "img9.jpg", "img10.jpg", "img11.jpg", "img12.jpg"]
    z = np.zeros((5, len(AU_NAMES)))
    z[:, 0] = np.arange(1, 6) / 10  # OpenFace frame k -> AU01 = k / 10
    csv = tmp_path / "EP02_01f.csv"
    write_openface_csv(csv, z)
    by_lexical = openface_table(csv, paths, order="lexical").set_index("frame")["AU01"]
    by_numeric = openface_table(csv, paths, order="numeric").set_index("frame")["AU01"]
    assert by_lexical.loc[10] == pytest.approx(0.1) and by_lexical.loc[8] == pytest.approx(0.4)
    assert by_numeric.loc[8] == pytest.approx(0.1) and by_numeric.loc[10] == pytest.approx(0.3)
    short = tmp_path / "short.csv"
    write_openface_csv(short, z[:3])
    from miex.errors import InputError

    with pytest.raises(InputError, match="was OpenFace run on this clip folder"):
        openface_table(short, paths)


# ------------------------------------------------------------------------------------------ pools


def test_fold_pools_leave_out_test_subjects(estimated, trees_with_motion, tmp_path):
    folds = tmp_path / "folds.csv"
    folds.write_text("subject,fold\ncasme2/sub01,0\ncasme2/sub02,1\ncasme2/sub03,2\ncasme2/sub04,2\n")
    out = tmp_path / "aus"
    shutil.copytree(estimated["out"], out)
    pools = tmp_path / "pools"
    args = ["aus", "extract", "casme2", "--root", str(trees_with_motion["casme2"]), "--out", str(out), "--quiet",
            "--pool", "mie", "--per-class", "6", "--reuse", "1", "--seed", "4", "--fold-file", str(folds),
            "--pool-out", str(pools)]
    rc, stdout, err = run(*args)
    assert rc == 0, err
    everyone = {"casme2/sub01", "casme2/sub02", "casme2/sub03"}
    for fold, test in enumerate(["casme2/sub01", "casme2/sub02", "casme2/sub03"]):
        path = pools / f"pool_fold{fold}.parquet"
        assert f"fold {fold}" in stdout and str(path) in stdout
        pool = read_pool(path)
        assert len(pool) == 18 and pool.groupby("label").size().tolist() == [6, 6, 6]
        assert set(pool["source"]) == {"mie"} and set(pool["au_dataset"]) == {"casme2"}
        assert set(pool["au_subject"]) == everyone - {test}
    # the same command again: byte-identical pools (the AU tables are reused)
    first = {p.name: sha(p) for p in pools.glob("*.parquet")}
    assert run(*args)[0] == 0
    assert {p.name: sha(p) for p in pools.glob("*.parquet")} == first

    # `miex aus pools` builds the same pools from the extraction's index
    again = tmp_path / "again"
    rc, _, err = run("aus", "pools", "--index", str(out / "casme2" / "index.csv"), "--pool", "mie", "--per-class",
                     "6", "--reuse", "1", "--seed", "4", "--fold-file", str(folds), "--out", str(again))
    assert rc == 0, err
    assert {p.name: sha(p) for p in again.glob("*.parquet")} == first

    # --exclude-subjects: one pool without them
    rc, _, err = run("aus", "pools", "--index", str(out / "casme2" / "index.csv"), "--pool", "mie", "--per-class",
                     "6", "--reuse", "1", "--exclude-subjects", "casme2/sub02", "--out", str(tmp_path / "ex"))
    assert rc == 0, err
    assert set(read_pool(tmp_path / "ex" / "pool.parquet")["au_subject"]) == everyone - {"casme2/sub02"}

    # a fold that leaves no training clip of a class is an error naming the fold
    bad = tmp_path / "bad.csv"
    bad.write_text("subject,fold\ncasme2/sub01,0\ncasme2/sub02,0\ncasme2/sub03,0\n")
    rc, _, err = run("aus", "pools", "--index", str(out / "casme2" / "index.csv"), "--pool", "mie",
                     "--fold-file", str(bad), "--out", str(tmp_path / "bad"))
    assert rc == 2 and "fold 0" in err and "no usable clips" in err and "Traceback" not in err
    # fold files must name the clips' subjects
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("subject,fold\nsamm/006,0\n")
    rc, _, err = run("aus", "pools", "--index", str(out / "casme2" / "index.csv"), "--pool", "mie",
                     "--fold-file", str(wrong), "--out", str(tmp_path / "wrong"))
    assert rc == 2 and "casme2/sub01" in err


def test_mae_pool_from_ckplus_uses_the_alpha_beta_rule(trees_with_motion, tmp_path):
    out, pools = tmp_path / "aus", tmp_path / "pools"
    rc, stdout, err = run("aus", "extract", "ckplus", "--root", str(trees_with_motion["ckplus"]), "--out", str(out),
                          "--quiet", "--pool", "mae", "--per-class", "10", "--seed", "1", "--pool-out", str(pools))
    assert rc == 0, err
    index = pd.read_csv(out / "ckplus" / "index.csv", dtype=str)
    assert len(index) == 5  # the labelled sequences
    assert dict(zip(index["clip"], index["label"]))["S010_006"] == "sadness"  # negative, not the MiE-X bug
    pool = read_pool(pools / "pool.parquet")
    assert set(pool["source"]) == {"mae"} and set(pool["au_dataset"]) == {"ckplus"}
    assert pool.groupby("label").size().tolist() == [10, 10, 10]
    for row in pool.itertuples():
        table = pd.read_csv(out / "ckplus" / row.au_subject.split("/")[1] / f"{row.au_clip}.csv")
        frames = table["frame"].tolist()
        assert row.onset_frame == str(frames[0]) == "1"  # the first frame is the MaE onset
        n = len(frames)
        window = frames[min(int(0.3 * n), n - 1) : min(int(0.5 * n), n - 1) + 1]  # [floor(.3 n), floor(.5 n)]
        assert int(row.apex_frame) in window
    # the estimator saw the expression grow from the neutral first frame in every sequence
    for row in index.itertuples():
        table = pd.read_csv(out / "ckplus" / row.csv)
        z = table[list(AU_NAMES)].to_numpy()
        # > 0.1: the 3d estimator reads the 3-frame contempt clip's AU14 (the dimpler, the
        # weakest AU on landmarks) at 0.15 and names it first; the 2d one read 0.39, as AU23
        assert z[0].max() == 0 and z[-1].max() > 0.1

    rc, _, err = run("aus", "extract", "ckplus", "--root", str(trees_with_motion["ckplus"]), "--out", str(out),
                     "--quiet", "--pool", "mie", "--pool-out", str(pools))
    assert rc == 2 and "--pool mae" in err


def test_extract_needs_a_root(tmp_path):
    rc, _, err = run("aus", "extract", "casme2", "--out", str(tmp_path))
    assert rc == 2 and "casme2" in err and "Traceback" not in err


# ------------------------------------------------------------------------------------------ done when


def test_casme2_pool_drives_miex_synth(estimated, tmp_path, monkeypatch):
    """The issue's "Done when": a z^MiE pool from fixture CASME II clips drives `miex synth --mie-pool`."""
    from miex.faces import builtin_face_paths

    monkeypatch.setenv("MIEX_CACHE_DIR", str(tmp_path / "cache"))
    faces = tmp_path / "faces"
    faces.mkdir()
    for path in builtin_face_paths():  # the astronaut and Grace Hopper photos
        shutil.copy(path, faces / path.name)
    folds = tmp_path / "folds.csv"
    folds.write_text("subject,fold\ncasme2/sub01,0\ncasme2/sub02,1\ncasme2/sub03,2\n")
    rc, _, err = run("aus", "pools", "--index", str(estimated["base"] / "index.csv"), "--pool", "mie",
                     "--per-class", "4", "--fold-file", str(folds), "--out", str(tmp_path / "pools"))
    assert rc == 0, err
    pool = tmp_path / "pools" / "pool_fold0.parquet"
    out = tmp_path / "synth"
    rc, _, err = run("synth", "--quiet", "--faces", str(faces), "--out", str(out), "--mie-pool", str(pool),
                     "--ids", "2", "--seed", "0")
    assert rc == 0, err
    manifest = pd.read_parquet(out / "manifest.parquet")
    mie = manifest[manifest["source"] == "mie"]
    assert len(mie) == 2 * 3
    assert set(mie["au_dataset"]) == {"casme2"}
    assert set(mie["au_subject"]) <= {"casme2/sub02", "casme2/sub03"}  # fold 0's test subject never
    assert set(mie["au_clip"]) <= {c.clip for c in CLIPS}
    for row in mie.itertuples():
        assert (out / row.dir / "0.jpg").is_file() and (out / row.dir / "1.jpg").is_file()
