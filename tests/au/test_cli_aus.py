from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from miex.au.pool import APEX_COLUMNS, POOL_COLUMNS, read_pool
from miex.cli.main import build_parser, main


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sample_expert_and_show(tmp_path, capsys):
    out = tmp_path / "pool.parquet"
    assert main(["aus", "sample", "--source", "expert", "--per-class", "2000", "--seed", "0", "--out", str(out)]) == 0
    assert "wrote 6000" in capsys.readouterr().out
    pool = read_pool(out)
    assert len(pool) == 6000
    assert list(pool.columns) == list(POOL_COLUMNS)
    assert pool["label"].value_counts().to_dict() == {0: 2000, 1: 2000, 2: 2000}

    again = tmp_path / "again.parquet"
    other = tmp_path / "other.parquet"
    main(["aus", "sample", "--source", "expert", "--per-class", "2000", "--seed", "0", "--out", str(again)])
    main(["aus", "sample", "--source", "expert", "--per-class", "2000", "--seed", "1", "--out", str(other)])
    assert _sha(out) == _sha(again)
    assert _sha(out) != _sha(other)

    capsys.readouterr()
    assert main(["aus", "show", str(out)]) == 0
    printed = capsys.readouterr().out
    png = tmp_path / "pool_profile.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot: {png}" in printed
    assert "6000 AU triplets" in printed
    assert "AU12 Lip Corner Puller" in printed
    counts_line = next(line for line in printed.splitlines() if line.startswith("expert "))
    assert counts_line.split() == ["expert", "2000", "2000", "2000", "6000"]

    custom = tmp_path / "plots" / "p.png"
    assert main(["aus", "show", str(out), "--plot", str(custom)]) == 0
    assert custom.is_file()


def test_sample_expert_options(tmp_path):
    out = tmp_path / "du.parquet"
    args = ["aus", "sample", "--source", "expert", "--per-class", "50", "--table", "du2014",
            "--mu", "0.5", "--nu", "0.6", "--frames", "10", "--out", str(out)]
    assert main(args) == 0
    pool = read_pool(out)
    apex = pool[list(APEX_COLUMNS)].to_numpy()
    assert apex[apex > 0].min() >= 0.5 and apex.max() <= 0.6
    assert "contempt" not in set(pool["emotion"])
    assert all(np.array(s).shape == (10, 17) for s in pool["sequence"])


def test_usage_errors(tmp_path, capsys):
    out = tmp_path / "x.parquet"
    assert main(["aus", "sample", "--source", "mae", "--out", str(out)]) == 2
    assert "miex: error: --source mae needs --csv-dir" in capsys.readouterr().err
    assert main(["aus", "sample", "--source", "expert", "--reuse", "3", "--out", str(out)]) == 2
    assert "--reuse does not apply to --source expert" in capsys.readouterr().err
    assert main(["aus", "sample", "--source", "mie", "--mu", "0.2", "--csv-dir", ".", "--index", "i.csv",
                 "--out", str(out)]) == 2
    assert "--mu does not apply" in capsys.readouterr().err
    assert main(["aus", "show", str(tmp_path / "missing.parquet")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("miex: error:") and "missing.parquet" in err
    assert not out.exists()


# ------------------------------------------------------------------------------------------ mae / mie


def _write_clips(tmp_path, openface_csv):
    csv_dir = tmp_path / "openface"
    gen = np.random.default_rng(0)
    specs = {
        # clip: (n frames, first frame, variant)
        "EP02_01f": (30, 1, "2.2"),
        "EP03_02f": (25, 1, "2.0"),
        "EP04_01": (20, 1, "no_c"),
        "006_1_2": (18, 1, "2.2"),
        "s1_ne_01": (15, 1, "2.2"),
        "s2_po_01": (12, 1, "2.0"),
        "s3_sur_01": (2, 1, "2.2"),
        "one_frame": (1, 1, "2.2"),
    }
    for clip, (n, first, variant) in specs.items():
        openface_csv(csv_dir / f"{clip}.csv", gen.uniform(0, 1, size=(n, 17)), variant=variant,
                     frames=list(range(first, first + n)))
    openface_csv(csv_dir / "renamed_output.csv", gen.uniform(0, 1, size=(10, 17)))
    (csv_dir / "broken.csv").write_text("")
    index = tmp_path / "index.csv"
    index.write_text(
        "clip,subject,label,dataset,onset,apex,offset,csv\n"
        "EP02_01f,sub01,happiness,casme2,3,12,20,\n"
        "EP03_02f,sub02,disgust,casme2,2,9,,\n"
        "EP04_01,sub03,2,casme2,1,5,,\n"
        "006_1_2,006,anger,samm,2,7,15,\n"
        "s1_ne_01,s1,negative,smic,,,,\n"
        "s2_po_01,s2,1,smic,,,,\n"
        "s3_sur_01,s3,surprise,smic,,,,\n"
        "one_frame,s4,surprise,smic,,,,\n"
        "X_other,s5,renamed,smic,,,,renamed_output.csv\n"   # row 10: unknown label
        "gone,s6,0,smic,,,,\n"                            # row 11: no CSV
        "bad_csv,s7,0,smic,,,,broken.csv\n"               # row 12: empty CSV
        "late_apex,s8,1,smic,1,99,,renamed_output.csv\n"  # row 13: apex not in CSV (mie only)
    )
    return csv_dir, index


def test_sample_mie_from_csv_folder(tmp_path, openface_csv, capsys):
    csv_dir, index = _write_clips(tmp_path, openface_csv)
    out = tmp_path / "mie.parquet"
    args = ["aus", "sample", "--source", "mie", "--csv-dir", str(csv_dir), "--index", str(index),
            "--per-class", "12", "--seed", "3", "--out", str(out)]
    assert main(args) == 0
    err = capsys.readouterr().err
    for line in ("line 10 (clip X_other)", "line 11 (clip gone)", "line 12 (clip bad_csv)", "late_apex"):
        assert line in err
    assert "skipped 4 input(s)" in err
    pool = read_pool(out)
    assert len(pool) == 36 and pool.columns[-1] == "sequence"
    first = pool[pool["au_clip"] == "EP02_01f"].iloc[0]
    assert (first["onset_frame"], first["apex_frame"], first["au_subject"]) == ("3", "12", "casme2/sub01")
    assert len(first["sequence"]) == 10
    smic = pool[pool["au_clip"] == "s1_ne_01"].iloc[0]
    assert (smic["onset_frame"], smic["apex_frame"]) == ("1", "8")  # middle of frames 1..15
    # reuse 5: runs of 5 identical clips within each class
    neg = pool.loc[pool["label"] == 0, "au_clip"].tolist()
    assert neg[:5] == [neg[0]] * 5

    again = tmp_path / "mie2.parquet"
    main([*args[:-1], str(again)])
    assert _sha(out) == _sha(again)

    excl = tmp_path / "excl.parquet"
    assert main([*args[:-1], str(excl), "--exclude-subjects", "casme2/sub02,smic/s1"]) == 0
    subjects = set(read_pool(excl)["au_subject"])
    assert not subjects & {"casme2/sub02", "smic/s1"}
    capsys.readouterr()
    assert main([*args[:-1], str(excl), "--exclude-subjects", "casme2/sub01,smic/s2"]) == 2
    assert "no usable clips of class 1 (positive)" in capsys.readouterr().err
    # a bare id is no identity: without --dataset it is refused, not matched against every dataset
    assert main([*args[:-1], str(excl), "--exclude-subjects", "sub01"]) == 2
    err = capsys.readouterr().err
    assert "subject 'sub01' has no dataset" in err and "--dataset" in err and "Traceback" not in err


def test_bare_subject_pool_is_refused(tmp_path, openface_csv, capsys):
    """An index without a dataset column gives no traceable subjects: refused in one line;
    --dataset qualifies every subject."""
    csv_dir = tmp_path / "openface"
    gen = np.random.default_rng(1)
    rows = []
    for i, (subject, label) in enumerate([("sub01", 0), ("sub02", 1), ("sub03", 2)] * 2):
        openface_csv(csv_dir / f"c{i}.csv", gen.uniform(0, 1, size=(8, 17)))
        rows.append(f"c{i},{subject},{label},1,5,")
    index = tmp_path / "index.csv"
    index.write_text("clip,subject,label,onset,apex,offset\n" + "\n".join(rows) + "\n")
    out = tmp_path / "pool.parquet"
    base = ["aus", "sample", "--source", "mie", "--csv-dir", str(csv_dir), "--index", str(index),
            "--per-class", "4", "--out", str(out)]
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "subject 'sub01' has no dataset" in err and "dataset column" in err
    assert not out.exists()
    assert main([*base, "--dataset", "casme2"]) == 0
    assert set(read_pool(out)["au_subject"]) == {"casme2/sub01", "casme2/sub02", "casme2/sub03"}


def test_sample_mae_from_csv_folder(tmp_path, openface_csv, capsys):
    csv_dir, index = _write_clips(tmp_path, openface_csv)
    out = tmp_path / "mae.parquet"
    args = ["aus", "sample", "--source", "mae", "--csv-dir", str(csv_dir), "--index", str(index),
            "--per-class", "40", "--seed", "0", "--alpha", "0.25", "--beta", "0.5", "--out", str(out)]
    assert main(args) == 0
    pool = read_pool(out)
    assert len(pool) == 120 and set(pool["source"]) == {"mae"}
    # EP02_01f trimmed to its onset..offset (frames 3..20, n = 18): apex row in [4, 9]
    ep = pool[pool["au_clip"] == "EP02_01f"]
    assert set(ep["onset_frame"]) == {"3"}
    assert all(3 + 4 <= int(f) <= 3 + 9 for f in ep["apex_frame"])
    assert set(pool.loc[pool["au_clip"] == "one_frame", "apex_frame"]) <= {"1"}
    assert set(pool.loc[pool["au_clip"] == "s3_sur_01", "apex_frame"]) <= {"1", "2"}
    assert main(["aus", "show", str(out)]) == 0
    assert (tmp_path / "mae_profile.png").is_file()


# ------------------------------------------------------------------------------------------ extensions, script


def test_extension_hook(tmp_path, monkeypatch):
    import miex.cli

    (tmp_path / "aus_zzprobe.py").write_text(
        "def register_aus(aus_subparsers):\n"
        "    p = aus_subparsers.add_parser('zzprobe')\n"
        "    p.add_argument('--value', type=int, default=1)\n"
        "    p.set_defaults(func=lambda args: 40 + args.value)\n"
    )
    monkeypatch.setattr(miex.cli, "__path__", [*miex.cli.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "miex.cli.aus_zzprobe", raising=False)
    try:
        args = build_parser().parse_args(["aus", "zzprobe", "--value", "2"])
        assert args.func(args) == 42
    finally:
        sys.modules.pop("miex.cli.aus_zzprobe", None)


def test_aus_without_subcommand_prints_help(capsys):
    assert main(["aus"]) == 2
    out = capsys.readouterr().out
    assert "sample" in out and "show" in out


def test_console_script(tmp_path):
    script = Path(sys.executable).with_name("miex")
    if not script.exists():
        pytest.skip("console script not installed in this environment")
    out = tmp_path / "tiny.parquet"
    run = subprocess.run(
        [str(script), "aus", "sample", "--source", "expert", "--per-class", "5", "--seed", "4", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert len(read_pool(out)) == 15
    help_text = subprocess.run([str(script), "aus", "sample", "--help"], capture_output=True, text=True, timeout=120)
    assert "clip index (--index)" in help_text.stdout
