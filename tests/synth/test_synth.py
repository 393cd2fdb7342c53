"""``miex synth`` end to end on real photos: layout, manifest, lists, determinism, resume, Ray, card."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from miex.au.pool import APEX_COLUMNS, ONSET_COLUMNS, read_pool
from miex.cli.main import main
from tests.synth.conftest import tree_bytes

MANIFEST_START = ["sample_id", "dir", "face_id", "face_path", "source", "label", "emotion"]


def synth(*args: str) -> int:
    return main(["synth", "--quiet", *args])


@pytest.fixture(scope="module")
def expert_set(face_folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("expert") / "set"
    assert synth("--faces", str(face_folder), "--out", str(out), "--ids", "5", "--seed", "3") == 0
    return out


def test_layout_counts_and_manifest(expert_set):
    manifest = pd.read_parquet(expert_set / "manifest.parquet")
    assert len(manifest) == 5 * 3
    assert list(manifest.columns[:7]) == MANIFEST_START
    for column in [*ONSET_COLUMNS, *APEX_COLUMNS, "au_dataset", "au_subject", "au_clip", "onset_frame",
                   "apex_frame", "generator", "seed"]:
        assert column in manifest.columns
    assert manifest["sample_id"].tolist() == list(range(15))
    assert manifest.groupby("label").size().tolist() == [5, 5, 5]
    assert set(manifest["source"]) == {"expert"}
    assert (manifest[list(ONSET_COLUMNS)].to_numpy() == 0).all()
    apex = manifest[list(APEX_COLUMNS)].to_numpy()
    assert ((apex == 0) | ((apex >= 0.1) & (apex <= 0.3))).all()
    assert manifest["face_id"].nunique() == 5
    for row in manifest.itertuples():
        assert row.dir == f"{row.face_id}_{row.source}_{row.label}"
        files = sorted(p.name for p in (expert_set / row.dir).iterdir())
        assert files == ["0.jpg", "1.jpg"]
        onset = cv2.imread(str(expert_set / row.dir / "0.jpg"))
        apex_img = cv2.imread(str(expert_set / row.dir / "1.jpg"))
        assert onset.shape == apex_img.shape == (128, 128, 3)
        # the apex differs from the onset, and only a little: a micro-expression
        diff = np.abs(onset.astype(int) - apex_img.astype(int))
        assert 0 < diff.mean() < 8
    lines = (expert_set / "lists" / "all.txt").read_text().splitlines()
    assert lines == [f"{d} {label}" for d, label in zip(manifest["dir"], manifest["label"])]
    config = json.loads((expert_set / "config.json").read_text())
    assert config["ids"] == 5 and config["seed"] == 3 and config["sources"] == ["expert"]


def test_bad_faces_are_skipped_and_counted(face_folder, tmp_path, capsys):
    out = tmp_path / "all"
    # the folder has 6 usable photos, a corrupt file and a photo without a face
    assert synth("--faces", str(face_folder), "--out", str(out), "--ids", "6", "--seed", "1") == 0
    captured = capsys.readouterr()
    assert "broken.jpg" in captured.err and "coffee.png" in captured.err
    manifest = pd.read_parquet(out / "manifest.parquet")
    assert manifest["sample_id"].tolist() == list(range(18))
    assert manifest["face_id"].nunique() == 6
    assert "broken" not in " ".join(manifest["face_id"]) and "coffee" not in " ".join(manifest["face_id"])
    # asking for more identities than usable faces is refused unless reuse is explicit
    assert synth("--faces", str(face_folder), "--out", str(tmp_path / "more"), "--ids", "8") == 2
    assert "--allow-reuse" in capsys.readouterr().err
    assert synth("--faces", str(face_folder), "--out", str(tmp_path / "more"), "--ids", "8", "--allow-reuse") == 0
    reused = pd.read_parquet(tmp_path / "more" / "manifest.parquet")
    assert reused["face_id"].nunique() == 8
    assert sorted(reused.drop_duplicates("face_id")["face_reuse"].tolist()) == [0] * 6 + [1] * 2


def test_same_seed_gives_identical_bytes(face_folder, expert_set, tmp_path):
    again = tmp_path / "again"
    assert synth("--faces", str(face_folder), "--out", str(again), "--ids", "5", "--seed", "3", "--workers", "2") == 0
    assert tree_bytes(again) == tree_bytes(expert_set)
    other = tmp_path / "other"
    assert synth("--faces", str(face_folder), "--out", str(other), "--ids", "5", "--seed", "4") == 0
    assert tree_bytes(other) != tree_bytes(expert_set)


def test_different_config_is_refused(face_folder, expert_set, capsys):
    assert synth("--faces", str(face_folder), "--out", str(expert_set), "--ids", "5", "--seed", "9") == 2
    assert "different configuration" in capsys.readouterr().err


def test_mie_source_and_leakage_free_fold_lists(face_folder, mie_pool, fold_file, tmp_path):
    out = tmp_path / "mie"
    assert synth("--faces", str(face_folder), "--out", str(out), "--ids", "4", "--mie-pool", str(mie_pool),
                 "--fold-file", str(fold_file)) == 0
    manifest = pd.read_parquet(out / "manifest.parquet")
    assert manifest.groupby("source").size().to_dict() == {"expert": 12, "mie": 12}
    mie = manifest[manifest["source"] == "mie"]
    pool = read_pool(mie_pool)
    assert set(mie["au_subject"]) <= set(pool["au_subject"])
    assert (mie["au_dataset"] == "casme2").all()
    # the MiE AUs of each sample are a real pool pair of the same class
    for row in mie.itertuples(index=False):
        same = pool[(pool["au_clip"] == row.au_clip)]
        assert (same["label"] == row.label).all()
    for fold, test_subjects in {"0": {"casme2/sub01", "casme2/sub02"}, "1": {"casme2/sub03", "casme2/sub04"}}.items():
        listed = (out / "lists" / f"fold{fold}_train.txt").read_text().splitlines()
        dirs = {line.split()[0] for line in listed}
        by_dir = manifest.set_index("dir")
        assert not (set(by_dir.loc[list(dirs), "au_subject"]) & test_subjects)
        expected = manifest[~manifest["au_subject"].isin(test_subjects)]
        assert dirs == set(expected["dir"])
        assert len(dirs) > 12  # expert samples are never excluded


def test_video_variants(face_folder, mie_pool, tmp_path):
    ten = tmp_path / "ten"
    assert synth("--faces", str(face_folder), "--out", str(ten), "--ids", "2", "--frames", "10",
                 "--mie-pool", str(mie_pool)) == 0
    manifest = pd.read_parquet(ten / "manifest.parquet")
    assert (manifest["n_frames"] == 10).all()
    for row in manifest.itertuples():
        assert sorted(int(p.stem) for p in (ten / row.dir).glob("*.jpg")) == list(range(10))
    clip = tmp_path / "clip"
    assert synth("--faces", str(face_folder), "--out", str(clip), "--ids", "2", "--frames", "clip",
                 "--fps", "100", "--duration", "0.1-0.3", "--mp4") == 0
    manifest = pd.read_parquet(clip / "manifest.parquet")
    assert manifest["n_frames"].between(11, 31).all()
    assert (manifest["apex_index"] > 0).all() and (manifest["apex_index"] < manifest["n_frames"] - 1).all()
    row = manifest.iloc[0]
    frames = [cv2.imread(str(clip / row["dir"] / f"{i}.jpg")).astype(float) for i in range(int(row["n_frames"]))]
    motion = [np.abs(f - frames[0]).mean() for f in frames]
    # onset -> apex -> offset: motion grows to the apex, then returns towards the neutral face
    assert motion[int(row["apex_index"])] > motion[-1] and motion[int(row["apex_index"])] > motion[1]
    capture = cv2.VideoCapture(str(clip / row["dir"] / "clip.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == int(row["n_frames"])
    # read back through the dataset API, the apex is the manifest's apex_index, not the last
    # (neutral again) frame
    from miex.datasets import MiexSynthetic

    ds = MiexSynthetic(clip)
    assert len(ds) == len(manifest) and not ds.validate()
    for i in range(len(ds)):
        sample = ds[i]
        apex_change = np.abs(sample["apex"].astype(float) - sample["onset"].astype(float)).mean()
        last = cv2.cvtColor(cv2.imread(str(clip / ds.samples.iloc[i]["clip"] / f"{int(manifest.iloc[i]['n_frames']) - 1}.jpg")),
                            cv2.COLOR_BGR2RGB)
        assert apex_change > 0.05
        assert apex_change > 1.5 * np.abs(last.astype(float) - sample["onset"].astype(float)).mean()
    # an incomplete sample folder is a reported problem, not a silently wrong apex
    (clip / manifest.iloc[0]["dir"] / "0.jpg").unlink()
    ds = MiexSynthetic(clip)
    assert len(ds) == len(manifest) - 1
    assert [p.kind for p in ds.validate()] == ["incomplete_clip"]


def test_ray_path_matches_local(face_folder, expert_set, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "ray"
    assert synth("--faces", str(face_folder), "--out", str(out), "--ids", "5", "--seed", "3", "--ray",
                 "--workers", "2") == 0
    assert tree_bytes(out) == tree_bytes(expert_set)


class _Checker(HTMLParser):
    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.images = 0

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images += 1
            assert dict(attrs)["src"].startswith("data:image/png;base64,")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def test_card_is_valid_html(expert_set):
    text = (expert_set / "card.html").read_text()
    assert text.startswith("<!DOCTYPE html>")
    checker = _Checker()
    checker.feed(text)
    assert checker.errors == [] and checker.stack == []
    assert checker.images == 2
    assert "miex synth" in text or "called from Python" in text


def test_card_renders_in_headless_browser(expert_set, tmp_path):
    browser = next((b for b in ("chromium", "chromium-browser", "google-chrome") if _which(b)), None)
    if browser is None:
        if os.environ.get("CI"):  # .ci/run installs Debian's chromium: CI must test in a real browser
            pytest.fail("no headless Chromium in CI although .ci/run installs it")
        pytest.skip("no headless Chromium on this machine (apt-get install chromium)")
    shot = tmp_path / "card.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
         "--window-size=1200,2400", (expert_set / "card.html").as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    image = cv2.imread(str(shot))
    assert image is not None and image.std() > 10  # not a blank page


def _which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


def test_resume_after_kill(face_folder, tmp_path):
    """Kill a run mid-way (SIGKILL), re-run: the result equals an uninterrupted run."""
    args = ["--faces", str(face_folder), "--ids", "6", "--seed", "5", "--frames", "10", "--quiet"]
    clean = tmp_path / "clean"
    assert synth(*args[:-1], "--out", str(clean)) == 0
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "miex", "synth", *args, "--out", str(killed)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if killed.exists() and sum(1 for p in killed.iterdir() if p.is_dir() and p.name != "lists") >= 3:
            break
        time.sleep(0.01)
    assert process.poll() is None, "the run finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "manifest.parquet").exists()
    done_before = {p.name for p in killed.iterdir() if p.is_dir() and not p.name.startswith(".")}
    for name in done_before:  # every sample folder that exists is complete
        assert len(list((killed / name).glob("*.jpg"))) == 10
    assert synth(*args[:-1], "--out", str(killed)) == 0
    assert tree_bytes(killed) == tree_bytes(clean)
    assert not [p for p in killed.iterdir() if p.name.startswith(".")]


def test_warm_up_leaves_errors_to_the_task_that_needs_it(tmp_path):
    from miex.errors import MiexError
    from miex.synth.config import SynthConfig
    from miex.synth.workers import probe_faces, warm_up

    config = SynthConfig(faces=str(tmp_path / "missing"), out=str(tmp_path / "out")).to_dict()
    warm_up(config, generator=True)
    with pytest.raises(MiexError, match="face pool not found"):
        probe_faces(config, ["face"])
