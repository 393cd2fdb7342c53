"""``miex eval`` / ``miex compare`` in-process on run folders built by the tests."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import f1_score

from miex.cli.main import main

from .conftest import assign_folds, make_predictions, make_samples, write_run


@pytest.fixture
def small_run(tmp_path, samples) -> Path:
    folds = assign_folds(samples, "kfold", n_repeats=2)
    return write_run(tmp_path / "small", make_predictions(samples, folds, selections=("last", "test_best")), folds)


def test_eval_prints_table_and_paths(small_run, capsys):
    kfold_run = small_run
    assert main(["eval", str(kfold_run), "--selection", "all"]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    preds = pd.read_parquet(kfold_run / "predictions.parquet")
    last = preds[preds["selection"] == "last"]
    per_rep = [f1_score(g["label"], g["pred"], average="macro") for _, g in last.groupby("repeat")]
    mean = sum(per_rep) / len(per_rep)
    line = next(x for x in out.splitlines() if x.startswith("last epoch") and " All " in x)
    assert f"{mean:.3f} ±" in line
    assert any(x.startswith("optimistic (test-set epoch selection)") for x in out.splitlines())
    for name in ("metrics.json", "report.md", "report.html", "megc_log.txt", "confusion_last.png", "folds.csv"):
        assert str(kfold_run / name) in out
    # one selection only
    assert main(["eval", str(kfold_run), "--selection", "last"]) == 0
    out, _ = capsys.readouterr()
    assert "optimistic" not in out.split("wrote:")[0]
    assert list(json.loads((kfold_run / "metrics.json").read_text())["selections"]) == ["last"]


def test_eval_errors_are_one_line(tmp_path, kfold_run, capsys):
    assert main(["eval", str(tmp_path / "missing")]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("miex: error:") and "run folder not found" in err and len(err.strip().splitlines()) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["eval", str(empty)]) == 2
    _, err = capsys.readouterr()
    assert "predictions.parquet" in err and "Traceback" not in err
    (kfold_run / "folds.parquet").unlink()
    assert main(["eval", str(kfold_run)]) == 2
    _, err = capsys.readouterr()
    assert "folds.parquet: missing" in err


def test_compare_cli(tmp_path, capsys):
    samples = make_samples(n_subjects_per_part=5, seed=3)
    folds = assign_folds(samples, "kfold", n_repeats=3, k=5)
    a = write_run(tmp_path / "a", make_predictions(samples, folds, accuracy=0.35, seed=10, selections=("last",)), folds)
    b = write_run(tmp_path / "b", make_predictions(samples, folds, accuracy=0.95, seed=11, selections=("last",)), folds)
    out_json = tmp_path / "cmp.json"
    assert main(["compare", str(a), str(b), "--metric", "uf1", "--test", "wilcoxon", "--json", str(out_json)]) == 0
    out, err = capsys.readouterr()
    res = json.loads(out_json.read_text())
    assert res["n_pairs"] == 15 and res["significant"] is True

    def per_fold(run: Path) -> list[float]:
        p = pd.read_parquet(run / "predictions.parquet")
        return [f1_score(g["label"], g["pred"], labels=sorted(g["label"].unique()), average="macro")
                for _, g in p.groupby(["repeat", "fold"])]

    assert res["p_value"] == pytest.approx(stats.wilcoxon(per_fold(b), per_fold(a)).pvalue)
    assert f"p = {res['p_value']:.4g}" in out and "significant" in out
    # mismatched protocol: one clear line
    loso = assign_folds(samples, "loso", n_repeats=3)
    c = write_run(tmp_path / "c", make_predictions(samples, loso, selections=("last",)), loso)
    assert main(["compare", str(a), str(c), "--metric", "acc"]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("miex: error:") and len(err.strip().splitlines()) == 1
