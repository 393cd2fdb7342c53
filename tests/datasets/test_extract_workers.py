"""``miex aus extract --workers N`` and ``--ray``: the same bytes as one process, in the same
order, on a CASME II tree of 640x480 recordings of real people (plus one clip without a face)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from miex.testing import ClipSpec, write_casme2_fixture
from tests.datasets.conftest import run_cli as run

NO_FACE = "EP09_01"
CLIPS = (
    ClipSpec("sub01", "EP02_01f", "happiness", 8, 10, 12, "12"),
    ClipSpec("sub01", "EP19_05f", "disgust", 5, 7, 9, "9"),
    ClipSpec("sub02", "EP03_02f", "surprise", 20, 22, 24, "1+2"),
    ClipSpec("sub02", NO_FACE, "disgust", 30, 31, 33, "4"),
)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    from miex.testing.people import recording_source

    people = recording_source([("casme2", "sub01"), ("casme2", "sub02")])

    def source(info, n):
        if info.clip == NO_FACE:
            return [np.full((480, 640, 3), 120, np.uint8) for _ in range(n)]
        return people(info, n)

    root = tmp_path_factory.mktemp("casme2-people")
    write_casme2_fixture(root, CLIPS, frame_source=source)
    return root


def files(base: Path) -> dict[str, bytes]:
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def one_process(tree, tmp_path_factory) -> tuple[dict[str, bytes], str]:
    out = tmp_path_factory.mktemp("w1")
    rc, _, err = run("aus", "extract", "casme2", "--root", str(tree), "--out", str(out), "--quiet", "--workers", "1")
    assert rc == 0, err
    return files(out / "casme2"), err


def test_workers_write_the_same_bytes(tree, one_process, tmp_path):
    expected, err1 = one_process
    assert sum(name.endswith(".csv") for name in expected) == 4  # 3 clips + index
    assert json.loads(expected["extract.json"])["detect"] == "track"
    rc, _, err = run("aus", "extract", "casme2", "--root", str(tree), "--out", str(tmp_path), "--quiet", "--workers", "2")
    assert rc == 0, err
    assert files(tmp_path / "casme2") == expected
    lines = [line for line in err.splitlines() if NO_FACE in line]
    assert len(lines) == 1 and "no face found" in lines[0] and "neutral reference frame" in lines[0]
    assert err == err1 and "Traceback" not in err


def test_ray_writes_the_same_bytes(tree, one_process, tmp_path):
    pytest.importorskip("ray")
    rc, _, err = run("aus", "extract", "casme2", "--root", str(tree), "--out", str(tmp_path), "--quiet",
                     "--workers", "2", "--ray")
    assert rc == 0, err
    assert files(tmp_path / "casme2") == one_process[0]


def test_resume_and_detect_mode_are_settings(tree, one_process, tmp_path):
    base = tmp_path / "casme2"
    base.mkdir()
    for name, data in one_process[0].items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_bytes(data)
    rc, out, _ = run("aus", "extract", "casme2", "--root", str(tree), "--out", str(tmp_path), "--quiet", "--workers", "2")
    assert rc == 0 and "3 reused" in out
    rc, _, err = run("aus", "extract", "casme2", "--root", str(tree), "--out", str(tmp_path), "--quiet", "--detect", "every")
    assert rc != 0 and "other settings" in err and "Traceback" not in err


@pytest.mark.parametrize("bad", ["0", "-2"])
def test_bad_workers_are_one_clear_line(tree, tmp_path, bad):
    rc, _, err = run("aus", "extract", "casme2", "--root", str(tree), "--out", str(tmp_path), "--workers", bad)
    assert rc != 0 and f"--workers must be a whole number >= 1, got {bad}" in err and "Traceback" not in err
    assert not (tmp_path / "casme2").exists()
    with pytest.raises(SystemExit) as exc:  # not a number: argparse's usage error
        run("aus", "extract", "casme2", "--root", str(tree), "--out", str(tmp_path), "--workers", "two")
    assert exc.value.code == 2


def test_workers_need_the_builtin_estimator(tree, tmp_path):
    rc, _, err = run("aus", "extract", "casme2", "--root", str(tree), "--out", str(tmp_path),
                     "--openface-dir", str(tmp_path), "--workers", "2")
    assert rc != 0 and "--openface-dir" in err and "Traceback" not in err
