"""A CAS(ME)^3 run is placed among the published CAS(ME)^3 figures of its number of classes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from miex.evaluate import leaderboard as lb
from miex.evaluate.report import evaluate_run
from miex.seeding import rng

from .conftest import assign_folds, write_run


def casme3_run(root, n_classes: int):
    g = rng(0, "casme3-report", n_classes)
    samples = pd.DataFrame(
        [{"dataset": "casme3", "part": "casme3", "subject": f"casme3/spNO.{s}", "clip": f"{v}_{10 * k + 5}",
          "label": int(g.integers(0, n_classes))}
         for s in (1, 2, 3, 4) for k, v in enumerate("abcde")]
    )
    folds = assign_folds(samples, "loso", n_repeats=1)
    rows = []
    test = folds[folds["role"] == "test"]
    for (rep, fold), f in test.groupby(["repeat", "fold"]):
        for s in samples[samples["subject"].isin(set(f["subject"]))].itertuples():
            pred = s.label if g.random() < 0.7 else int((s.label + 1) % n_classes)
            probs = np.full(n_classes, 0.05)
            probs[pred] = 1 - 0.05 * (n_classes - 1)
            rows.append({"repeat": int(rep), "fold": int(fold), "selection": "last", "epoch": 3, "dataset": "casme3",
                         "part": "casme3", "subject": s.subject, "clip": s.clip, "label": int(s.label),
                         "pred": int(pred), **{f"prob_{i}": float(p) for i, p in enumerate(probs)}})
    return write_run(root, pd.DataFrame(rows), folds)


@pytest.mark.parametrize("n_classes", [3, 4])
def test_casme3_run_is_placed_with_its_class_count(tmp_path, n_classes):
    m = evaluate_run(casme3_run(tmp_path / f"c{n_classes}", n_classes))
    table = m["leaderboard"]["casme3"]
    published = [r for r in table if not r["this_run"]]
    assert published and all(r["classes"] == n_classes for r in published)
    assert {r["method"] for r in published} == {e.method for e in lb.CASME3_LOSO if e.classes == n_classes}
    assert m["leaderboard"]["casme3_placed"] and any(r["this_run"] for r in table)
    md = (tmp_path / f"c{n_classes}" / "report.md").read_text()
    assert f"CAS(ME)^3 Part A, {n_classes} classes (published)" in md
    assert "**this run (last epoch)**" in md and "It is placed in the CAS(ME)^3 table." in md
    if n_classes == 3:  # Ra-ICL's cited figure has no UAR: shown as a dash, not a number
        line = next(line for line in md.splitlines() if line.startswith("| Ra-ICL"))
        assert "0.758" in line and "| – |" in line
    else:
        line = next(line for line in md.splitlines() if line.startswith("| D-FACE"))
        assert "0.681" in line and "0.647" in line
