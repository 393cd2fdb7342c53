"""evaluate_run: metrics.json, report.md/html, confusion PNG, MEGC log, folds.csv, errors."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score

from miex.errors import MiexError
from miex.evaluate.report import evaluate_run, megc_log

from .conftest import assign_folds, make_predictions, make_samples, write_run


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> tuple[Path, dict]:
    from .conftest import make_history

    samples = make_samples()
    folds = assign_folds(samples, "kfold", n_repeats=3)
    run = write_run(tmp_path_factory.mktemp("r") / "run", make_predictions(samples, folds), folds,
                    history=make_history(folds))
    return run, evaluate_run(run)


def test_files_written_and_metrics_match_sklearn(evaluated):
    run, m = evaluated
    for name in ("metrics.json", "report.md", "report.html", "megc_log.txt", "folds.csv", "learning_curve.png",
                 "confusion_last.png", "confusion_val_best.png", "confusion_test_best.png"):
        assert (run / name).is_file(), name
    on_disk = json.loads((run / "metrics.json").read_text())
    preds = pd.read_parquet(run / "predictions.parquet")
    for sel in ("last", "val_best", "test_best"):
        g = preds[preds["selection"] == sel]
        per_rep = [f1_score(r["label"], r["pred"], average="macro") for _, r in g.groupby("repeat")]
        uar_rep = [balanced_accuracy_score(r["label"], r["pred"]) for _, r in g.groupby("repeat")]
        a = on_disk["selections"][sel]["parts"]["all"]
        assert a["uf1"]["per_repeat"] == pytest.approx(per_rep)
        assert a["uf1"]["mean"] == pytest.approx(np.mean(per_rep))
        assert a["uf1"]["std"] == pytest.approx(np.std(per_rep, ddof=1))
        assert a["uar"]["mean"] == pytest.approx(np.mean(uar_rep))
        assert set(on_disk["selections"][sel]["parts"]) == {"all", "smic", "casme2", "samm"}
    assert on_disk["selections"]["test_best"]["optimistic"] is True
    assert on_disk["selections"]["last"]["optimistic"] is False
    assert on_disk["protocol"]["kind"] == "k-fold" and on_disk["protocol"]["n_folds"] == 3
    # folds.csv: one row per selection x repeat x fold, UF1 as sklearn on that fold
    fcsv = pd.read_csv(run / "folds.csv")
    assert len(fcsv) == 3 * 3 * 3
    row = fcsv[(fcsv["selection"] == "last") & (fcsv["repeat"] == 1) & (fcsv["fold"] == 2)].iloc[0]
    g = preds[(preds["selection"] == "last") & (preds["repeat"] == 1) & (preds["fold"] == 2)]
    assert row["uf1"] == pytest.approx(f1_score(g["label"], g["pred"], labels=sorted(g["label"].unique()), average="macro"), abs=1e-6)


def test_report_labels_optimistic_and_shows_leaderboard(evaluated):
    run, m = evaluated
    md = (run / "report.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| ") and "±" in line]
    assert len(rows) == 3 * 4  # 3 selections x (all + 3 parts)
    assert sum("optimistic (test-set epoch selection)" in r for r in rows) == 4
    assert all(("optimistic" in r) == ("test-set" in r) for r in rows)
    for method, num in (("LBP-TOP", "0.588"), ("HTNet", "0.860"), ("STSTNet", "0.735"), ("Branches, real data only", "0.436")):
        line = next(line for line in md.splitlines() if line.startswith(f"| {method}"))
        assert num in line
    assert "HTNet — optimistic" in md
    assert "LOSO" in md and "3-fold" in md
    # a 3-fold run on a 60-sample composite matches no published table: context only, not placed
    assert "**this run (last epoch)**" not in md and "not placed in them" in md
    assert not m["leaderboard"]["run_placed"]
    html = (run / "report.html").read_text()
    assert "<table>" in html and "confusion_last.png" in html
    assert html.count("class='optimistic'") + html.count("class='run optimistic'") >= 4 + 1
    assert "optimistic (test-set epoch selection)" in html


def test_confusion_png_and_counts(evaluated):
    import matplotlib.image as mpimg

    run, m = evaluated
    preds = pd.read_parquet(run / "predictions.parquet")
    for sel in ("last", "test_best"):
        g = preds[preds["selection"] == sel]
        counts = np.array(json.loads((run / "metrics.json").read_text())["confusion"][sel]["counts"])
        assert counts.shape == (3, 3)
        assert (counts == confusion_matrix(g["label"], g["pred"], labels=[0, 1, 2])).all()  # summed over repeats
        img = mpimg.imread(run / f"confusion_{sel}.png")
        assert img.ndim == 3 and img.shape[2] in (3, 4)
        assert img.shape[1] > 2 * img.shape[0]  # 4 panels side by side: all + 3 parts
        assert img.std() > 0.05  # not blank


def test_megc_log_exact_format():
    df = pd.DataFrame({
        "repeat": 0, "fold": [0, 0, 1, 1, 1, 2, 2],
        "selection": "last", "epoch": 9,
        "dataset": ["casme2", "casme2", "samm", "samm", "smic", "casme2", "smic"],
        "part": ["casme2", "casme2", "samm", "samm", "smic", "casme2", "smic"],
        "subject": ["casme2/sub01", "casme2/sub01", "samm/006", "samm/006", "smic/s3", "casme2/sub10", "smic/s20"],
        "clip": ["EP19_05f", "EP02_01f", "006_1_2", "006_1_10", "s3_ne_01", "EP13_01", "s20_po_02"],
        "label": [0, 1, 2, 0, 0, 2, 1], "pred": [0, 2, 2, 1, 0, 2, 1],
    })
    assert megc_log(df) == (
        "casme2 sub01\n"
        "EP02_01f 1 2\n"
        "EP19_05f 0 0\n"
        "samm 006\n"          # k-fold: one block per test subject of the fold
        "006_1_2 2 2\n"
        "006_1_10 0 1\n"      # natural clip order
        "smic s3\n"
        "s3_ne_01 0 0\n"
        "casme2 sub10\n"
        "EP13_01 2 2\n"
        "smic s20\n"
        "s20_po_02 1 1\n"
    )


def test_megc_log_of_a_loso_run(tmp_path, samples):
    folds = assign_folds(samples, "loso", n_repeats=2)
    preds = make_predictions(samples, folds, selections=("last", "test_best"))
    run = write_run(tmp_path / "loso", preds, folds)
    evaluate_run(run, selections="last")
    lines = (run / "megc_log.txt").read_text().splitlines()
    headers = [line for line in lines if re.fullmatch(r"(casme2|samm|smic) \S+", line)]
    assert len(headers) == samples["subject"].nunique()  # one block per fold = subject
    body = [line for line in lines if line not in headers]
    assert all(re.fullmatch(r"\S+ [012] [012]", line) for line in body)
    r0 = preds[(preds["selection"] == "last") & (preds["repeat"] == 0)]
    assert sorted(body) == sorted(f"{c} {t} {p}" for c, t, p in zip(r0["clip"], r0["label"], r0["pred"]))
    first = r0[r0["fold"] == 0]
    assert lines[0] == first["subject"].iloc[0].replace("/", " ")
    assert not (run / "confusion_test_best.png").exists()  # only the asked selection


def test_single_dataset_run_is_not_placed(tmp_path):
    samples = make_samples(n_subjects_per_part=5)
    samples = samples[samples["part"] == "samm"]
    folds = assign_folds(samples, "kfold", n_repeats=1, k=5)
    run = write_run(tmp_path / "samm", make_predictions(samples, folds, selections=("last",)), folds)
    m = evaluate_run(run)
    assert list(m["selections"]["last"]["parts"]) == ["all"]
    assert m["composite"] is False and m["leaderboard"]["run_placed"] is False
    md = (run / "report.md").read_text()
    assert "this run (" not in md and "not on the MEGC2019 composite" in md
    assert m["selections"]["last"]["parts"]["all"]["uf1"]["std"] != m["selections"]["last"]["parts"]["all"]["uf1"]["std"]  # nan
    assert json.loads((run / "metrics.json").read_text())["selections"]["last"]["parts"]["all"]["uf1"]["std"] is None


def test_missing_and_incomplete_run_folders(tmp_path, kfold_run):
    with pytest.raises(MiexError, match="run folder not found"):
        evaluate_run(tmp_path / "nope")
    broken = tmp_path / "broken"
    shutil.copytree(kfold_run, broken)
    (broken / "predictions.parquet").unlink()
    with pytest.raises(MiexError, match=r"broken/predictions\.parquet: missing"):
        evaluate_run(broken)
    partial = tmp_path / "partial"
    shutil.copytree(kfold_run, partial)
    preds = pd.read_parquet(partial / "predictions.parquet")
    preds[~((preds["repeat"] == 2) & (preds["fold"] == 1))].to_parquet(partial / "predictions.parquet")
    with pytest.raises(MiexError, match="incomplete run.*repeat 2 fold 1"):
        evaluate_run(partial, selections="last")
    m = evaluate_run(partial, selections="last", allow_incomplete=True)
    assert m["incomplete"] and "INCOMPLETE" in (partial / "report.md").read_text()
    with pytest.raises(MiexError, match="no 'val_best' predictions"):
        evaluate_run(_drop_selection(tmp_path / "noval", kfold_run, "val_best"), selections="val_best")


def _drop_selection(dst: Path, src: Path, sel: str) -> Path:
    shutil.copytree(src, dst)
    preds = pd.read_parquet(dst / "predictions.parquet")
    preds[preds["selection"] != sel].to_parquet(dst / "predictions.parquet")
    return dst


def test_prediction_for_a_non_test_subject_is_an_error(tmp_path, samples):
    folds = assign_folds(samples, "kfold", n_repeats=1)
    preds = make_predictions(samples, folds, selections=("last",))
    train_subject = folds[(folds["fold"] == 0) & (folds["role"] == "train")]["subject"].iloc[0]
    preds.loc[preds.index[0], ["fold", "subject"]] = [0, train_subject]
    preds = preds.drop_duplicates(["repeat", "selection", "dataset", "subject", "clip"])
    run = write_run(tmp_path / "leak", preds, folds)
    with pytest.raises(MiexError, match="not a test subject"):
        evaluate_run(run)


def _official_samples() -> pd.DataFrame:
    from miex.datasets.megc2019 import read_official_list

    official = read_official_list()
    return pd.DataFrame({"dataset": official["dataset"], "part": official["dataset"],
                         "subject": official["dataset"] + "/" + official["subject"].astype(str),
                         "clip": official["filename"], "label": official["label"].astype(int)})


@pytest.mark.parametrize("protocol,placed", [("loso", ["composite_loso"]), ("kfold", ["miex_table1"])])
def test_run_is_placed_only_where_protocol_and_n_match(tmp_path, protocol, placed):
    from tests.evaluate.conftest import assign_folds, make_predictions, write_run

    samples = _official_samples()
    assert len(samples) == 442
    folds = assign_folds(samples, protocol, n_repeats=1, k=3)
    run = write_run(tmp_path / protocol, make_predictions(samples, folds, selections=("last",)), folds)
    m = evaluate_run(run)
    assert m["leaderboard"]["placed_in"] == placed
    table = m["leaderboard"][placed[0]]
    assert any(r["this_run"] for r in table)
    other = {"composite_loso": "miex_table1", "miex_table1": "composite_loso"}[placed[0]]
    assert not any(r["this_run"] for r in m["leaderboard"][other])
    # the same run on partial data (a data.json saying clips were missing) is placed nowhere
    (run / "data.json").write_text('{"partial": true, "partial_missing": 133}')
    m = evaluate_run(run)
    assert m["leaderboard"]["placed_in"] == []
    assert "PARTIAL DATA" in (run / "report.md").read_text()
