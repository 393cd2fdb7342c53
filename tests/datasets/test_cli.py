"""``miex datasets check`` / ``show`` on fixture trees, in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

from miex.cli.main import main


def _config(path: Path, roots: dict[str, Path]) -> Path:
    lines = ["[roots]"] + [f'{name} = "{root}"' for name, root in roots.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _table(out: str) -> dict[str, list[str]]:
    rows = {}
    for line in out.splitlines():
        fields = line.split()
        if fields and fields[0] in ("casme2", "samm", "smic", "mmew", "ckplus", "oulu", "megc2019") and len(fields) >= 6:
            rows.setdefault(fields[0], fields)
    return rows


def test_check_all_fixture_trees(trees, tmp_path, capsys):
    cfg = _config(tmp_path / "d.toml", {n: trees[n].root for n in ("casme2", "samm", "smic", "mmew", "ckplus", "oulu")})
    assert main(["datasets", "check", "--config", str(cfg)]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    rows = _table(out)
    assert set(rows) == {"casme2", "samm", "smic", "mmew", "ckplus", "oulu", "megc2019"}
    # dataset root found clips 3class subjects problems
    # the official sheet's "/" apex is a documented quirk: a note, not a problem of the copy
    assert rows["casme2"][2:] == ["yes", "8", "5", "3", "0"]
    assert "casme2: note: sub04/EP12_01f: missing_apex" in out and "MEGC2019 list leaves this clip out" in out
    assert rows["samm"][2:] == ["yes", "10", "9", "5", "0"]
    assert rows["ckplus"][2:] == ["yes", "5", "5", "5", "0"]
    # the composite row: the tiny fixtures hold few of the 442 listed clips
    assert rows["megc2019"][2] == "partial" and rows["megc2019"][3].endswith("/442")
    assert main(["datasets", "check", "--config", str(cfg), "--strict", "--no-decode"]) == 1


def test_check_megc_fixture_is_complete(megc_roots, tmp_path, capsys):
    cfg = _config(tmp_path / "m.toml", megc_roots)
    assert main(["datasets", "check", "--config", str(cfg), "--no-decode"]) == 0
    out = capsys.readouterr().out
    rows = _table(out)
    assert rows["megc2019"][2:] == ["yes", "442/442", "442", "68", "0"]
    assert rows["mmew"][2] == "not"  # "not configured"
    # a complete, correct copy passes --strict (the "/" apex of sub04/EP12_01f is only a note)
    assert main(["datasets", "check", "--config", str(cfg), "--no-decode", "--strict"]) == 0
    assert "note: sub04/EP12_01f" in capsys.readouterr().out


def test_check_reports_missing_roots_and_broken_trees(tiny_tree, tmp_path, capsys):
    fx = tiny_tree("casme2")
    shutil.rmtree(fx.root / "CASME2_RAW_selected" / "sub02")
    smic = tmp_path / "empty-smic"
    smic.mkdir()
    cfg = _config(tmp_path / "c.toml", {"casme2": fx.root, "samm": tmp_path / "nowhere", "smic": smic})
    assert main(["datasets", "check", "--config", str(cfg)]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    rows = _table(out)
    assert rows["samm"][2] == "missing"
    assert rows["smic"][2] == "error"
    assert rows["casme2"][2:4] == ["yes", "6"]
    assert "missing_clip: sub02/EP01_11f" in out and "missing_clip: sub02/EP03_02f" in out
    assert "does not exist" in out and "no HS folder" in out


def test_check_without_config(capsys):
    assert main(["datasets", "check"]) == 0
    out = capsys.readouterr().out
    assert "No dataset root configured" in out and "MIEX_CASME2_ROOT" in out


def test_check_env_override_and_bad_config(trees, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MIEX_OULU_ROOT", str(trees["oulu"].root))
    assert main(["datasets", "check"]) == 0
    assert _table(capsys.readouterr().out)["oulu"][2:4] == ["yes", "6"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[roots\n")
    assert main(["datasets", "check", "--config", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("miex: error:") and "bad.toml" in err and "Traceback" not in err


def test_show(trees, capsys):
    assert main(["datasets", "show", "ckplus", "--root", str(trees["ckplus"].root), "-n", "3"]) == 0
    out = capsys.readouterr().out
    assert "negative=3" in out and "S005_001" in out
    assert main(["datasets", "show", "samm", "--root", str(trees["samm"].root), "--native"]) == 0
    out = capsys.readouterr().out
    assert "other=1" in out
    assert main(["datasets", "show", "casme9"]) == 2
    assert "unknown dataset" in capsys.readouterr().err


def test_crop_fills_the_cache_and_reuses_it(trees, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MIEX_CACHE_DIR", str(tmp_path / "cache"))
    root = str(trees["casme2"].root)
    assert main(["datasets", "crop", "casme2", "--root", root, "--method", "meb", "--size", "64"]) == 0
    first = capsys.readouterr().out
    cached = sorted((tmp_path / "cache" / "crops").rglob("*.npz"))
    assert cached and "clip(s) cropped (meb, 64 px)" in first
    stamps = [p.stat().st_mtime_ns for p in cached]
    assert main(["datasets", "crop", "casme2", "--root", root, "--method", "meb", "--size", "64"]) == 0
    assert capsys.readouterr().out.split(" into ")[0] == first.split(" into ")[0]
    assert [p.stat().st_mtime_ns for p in sorted((tmp_path / "cache" / "crops").rglob("*.npz"))] == stamps
