"""``compare_runs(A, B)``: a paired significance test between two runs (MiE-X paper, Fig. 5).

**Units.** Two runs are compared on units that both ran with the same test subjects:

* ``unit="fold"``: one value per (repeat, fold): the metric on that fold's test predictions.
  Right for k-fold runs (3 folds × 3 repeats = 9 pairs, 5 × 3 = 15, ...).
* ``unit="repeat"``: one value per repeat: the metric on the predictions of all folds pooled
  (the reported number).

``unit="auto"`` (the default) picks ``fold``, except for **LOSO runs with UF1 or UAR**: a LOSO
fold has one test subject with a handful of clips, often of one or two classes, so its UF1/UAR
are degenerate (0, 0.5 or 1 on 1-3 clips, averaged over whatever classes that subject shows)
and pooled UF1 is not a function of them. There ``auto`` compares the pooled per-repeat
metric, which is the number the field reports; with few repeats that test has little power
(Wilcoxon's smallest two-sided p with n pairs is 2/2^n: 0.25 for 3 repeats), which the
interpretation says. ``metric="acc"`` on LOSO uses per-fold (= per-subject) accuracy, which is
well defined for any fold size and gives one pair per subject and repeat.

**Tests.** ``wilcoxon`` (signed-rank, scipy default ``zero_method="wilcox"``: tied pairs are
dropped) or ``ttest`` (paired t, ``ttest_rel``). All-zero differences (identical runs) give
p = 1 without calling scipy (older scipy raises there). Folds share training subjects, so the
units are not independent and p-values are approximate, as in the paper.

The difference is always B − A.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from miex.errors import MiexError
from miex.evaluate.metrics import METRIC_NAMES, METRICS, SELECTION_LABELS, SELECTIONS, scores
from miex.evaluate.run import Run, load_run, protocol_of

TESTS: tuple[str, ...] = ("wilcoxon", "ttest")
UNITS: tuple[str, ...] = ("auto", "fold", "repeat")
MIN_PAIRS = 3
ALPHA = 0.05


@dataclass
class Comparison:
    run_a: str
    run_b: str
    metric: str
    selection: str
    test: str
    unit: str
    n_pairs: int
    mean_a: float
    mean_b: float
    mean_diff: float          # B - A
    median_diff: float
    statistic: float
    p_value: float
    n_better: int             # units where B > A
    n_worse: int
    n_tied: int
    only_a: int = 0           # units present in A only (not compared)
    only_b: int = 0
    pooled: dict[str, Any] = field(default_factory=dict)   # per-repeat pooled metric of A and B
    pairs: list[dict[str, Any]] = field(default_factory=list)
    interpretation: str = ""

    @property
    def significant(self) -> bool:
        return bool(np.isfinite(self.p_value) and self.p_value < ALPHA)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["significant"] = self.significant
        return d


# ----------------------------------------------------------------------------- unit values
def _fold_values(run: Run, metric: str, selection: str) -> pd.Series:
    df = run.predictions[run.predictions["selection"] == selection]
    vals = {
        (int(r), int(f)): float(scores(g["label"], g["pred"])[metric]) for (r, f), g in df.groupby(["repeat", "fold"])
    }
    return pd.Series(vals, dtype=float)


def _repeat_values(run: Run, metric: str, selection: str) -> pd.Series:
    df = run.predictions[run.predictions["selection"] == selection]
    return pd.Series({int(r): float(scores(g["label"], g["pred"])[metric]) for r, g in df.groupby("repeat")}, dtype=float)


def _test_subjects(run: Run) -> dict[tuple[int, int], frozenset[str]]:
    test = run.folds[run.folds["role"] == "test"]
    return {(int(r), int(f)): frozenset(g["subject"]) for (r, f), g in test.groupby(["repeat", "fold"])}


def _samples(run: Run, selection: str) -> dict[int, frozenset[tuple[str, str]]]:
    df = run.predictions[run.predictions["selection"] == selection]
    return {int(r): frozenset(zip(g["subject"], g["clip"])) for r, g in df.groupby("repeat")}


def _load(run: Run | str | Path) -> Run:
    return run if isinstance(run, Run) else load_run(run, allow_incomplete=True)


# ----------------------------------------------------------------------------- test
def paired_test(a: np.ndarray, b: np.ndarray, test: str) -> tuple[float, float]:
    """(statistic, p) of a two-sided paired test of ``b`` against ``a``; identical -> (0, 1)."""
    from scipy import stats

    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if np.allclose(d, 0.0, atol=1e-12):
        return 0.0, 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if test == "wilcoxon":
            res = stats.wilcoxon(b, a)
        else:
            res = stats.ttest_rel(b, a)
    stat, p = float(res.statistic), float(res.pvalue)
    if test == "ttest" and np.allclose(d, d[0]):   # constant non-zero difference: t is infinite
        stat, p = math.copysign(math.inf, d[0]), 0.0
    return stat, (1.0 if not math.isfinite(p) else p)


def compare_runs(
    run_a: Run | str | Path,
    run_b: Run | str | Path,
    metric: str = "uf1",
    selection: str = "last",
    test: str = "wilcoxon",
    unit: str = "auto",
) -> Comparison:
    """Paired test of run B against run A over their shared units (see the module docstring).

    Raises :class:`MiexError` for an unknown option, runs whose shared units test different
    subjects (different protocol or fold seed), no shared units, or fewer than 3 pairs.
    """
    if metric not in METRICS:
        raise MiexError(f"unknown metric {metric!r} (expected {', '.join(METRICS)})")
    if test not in TESTS:
        raise MiexError(f"unknown test {test!r} (expected {', '.join(TESTS)})")
    if selection not in SELECTIONS:
        raise MiexError(f"unknown selection {selection!r} (expected {', '.join(SELECTIONS)})")
    if unit not in UNITS:
        raise MiexError(f"unknown unit {unit!r} (expected {', '.join(UNITS)})")
    a, b = _load(run_a), _load(run_b)
    for run in (a, b):
        if selection not in set(run.predictions["selection"]):
            raise MiexError(f"{run.dir / 'predictions.parquet'}: no '{selection}' predictions")
    pa, pb = protocol_of(a), protocol_of(b)
    if unit == "auto":
        unit = "repeat" if (pa["kind"] == "LOSO" and pb["kind"] == "LOSO" and metric in ("uf1", "uar")) else "fold"

    sa, sb = _test_subjects(a), _test_subjects(b)
    if unit == "fold":
        va, vb = _fold_values(a, metric, selection), _fold_values(b, metric, selection)
        keys = sorted(set(va.index) & set(vb.index))
        for k in keys:
            if sa.get(k) != sb.get(k):
                raise MiexError(
                    f"runs do not share folds: repeat {k[0]} fold {k[1]} tests different subjects in {a.dir} and "
                    f"{b.dir} (different protocol or fold seed); a paired test needs the same folds"
                )
    else:
        va, vb = _repeat_values(a, metric, selection), _repeat_values(b, metric, selection)
        keys = sorted(set(va.index) & set(vb.index))
        xa, xb = _samples(a, selection), _samples(b, selection)
        for k in keys:
            if xa[k] != xb[k]:
                raise MiexError(
                    f"runs do not share test samples in repeat {k}: {a.dir} and {b.dir} tested different clips"
                )
    unit_name = "(repeat, fold)" if unit == "fold" else "repeat"
    if not keys:
        raise MiexError(
            f"runs share no {unit_name} units: {a.dir} and {b.dir} (different protocol, folds or repeats)"
        )
    if len(keys) < MIN_PAIRS:
        hint = " (use more repeats, or --metric acc for per-subject accuracy pairs)" if unit == "repeat" else ""
        raise MiexError(f"too few paired units: {len(keys)} shared {unit_name} unit(s), need at least {MIN_PAIRS}{hint}")

    xa_v = va.loc[keys].to_numpy(dtype=float)
    xb_v = vb.loc[keys].to_numpy(dtype=float)
    d = xb_v - xa_v
    stat, p = paired_test(xa_v, xb_v, test)
    ra, rb = _repeat_values(a, metric, selection), _repeat_values(b, metric, selection)
    common_r = sorted(set(ra.index) & set(rb.index))
    pooled = {
        "repeats": common_r,
        "a": [float(ra[r]) for r in common_r],
        "b": [float(rb[r]) for r in common_r],
        "mean_a": float(ra.loc[common_r].mean()) if common_r else float("nan"),
        "mean_b": float(rb.loc[common_r].mean()) if common_r else float("nan"),
    }
    tol = 1e-12
    cmp = Comparison(
        run_a=str(a.dir), run_b=str(b.dir), metric=metric, selection=selection, test=test, unit=unit,
        n_pairs=len(keys), mean_a=float(xa_v.mean()), mean_b=float(xb_v.mean()), mean_diff=float(d.mean()),
        median_diff=float(np.median(d)), statistic=stat, p_value=p,
        n_better=int((d > tol).sum()), n_worse=int((d < -tol).sum()), n_tied=int((np.abs(d) <= tol).sum()),
        only_a=len(set(va.index) - set(keys)), only_b=len(set(vb.index) - set(keys)), pooled=pooled,
        pairs=[{"unit": list(k) if isinstance(k, tuple) else [k], "a": float(x), "b": float(y)}
               for k, x, y in zip(keys, xa_v, xb_v)],
    )
    cmp.interpretation = interpret(cmp, pa["kind"])
    return cmp


def interpret(c: Comparison, kind: str) -> str:
    m = METRIC_NAMES[c.metric]
    test = "Wilcoxon signed-rank test" if c.test == "wilcoxon" else "paired t-test"
    what = (
        f"per-fold {m} over {c.n_pairs} paired (repeat, fold) units"
        if c.unit == "fold"
        else f"{m} pooled over all folds, over {c.n_pairs} paired repeats"
    )
    a, b = Path(c.run_a).name, Path(c.run_b).name
    if c.n_tied == c.n_pairs:
        head = f"The two runs give identical {what} (all differences are zero): no difference to test (p = 1)."
    else:
        direction = "higher" if c.mean_diff > 0 else "lower"
        head = (
            f"Run B ({b}) has {direction} {what} than run A ({a}): mean {c.mean_b:.3f} vs {c.mean_a:.3f}, "
            f"difference B − A {c.mean_diff:+.3f} (median {c.median_diff:+.3f}); B is better in {c.n_better}, "
            f"worse in {c.n_worse} and tied in {c.n_tied} unit(s). {test}: statistic {c.statistic:.3g}, "
            f"p = {c.p_value:.3g}, "
            + ("significant at α = 0.05." if c.significant else "not significant at α = 0.05.")
        )
    notes = [f"Selection: {SELECTION_LABELS[c.selection]}."]
    if c.selection == "test_best":
        notes.append("Both runs' numbers are optimistic (epochs chosen on the test subjects).")
    if c.test == "wilcoxon" and c.n_pairs <= 5:
        notes.append(
            f"With {c.n_pairs} pairs the smallest two-sided Wilcoxon p attainable is {2 / 2 ** c.n_pairs:.3g}, "
            "so significance at 0.05 is impossible; more repeats (or per-subject accuracy, --metric acc) give power."
        )
    if c.unit == "repeat" and kind == "LOSO":
        notes.append("LOSO folds hold one subject, so per-fold UF1/UAR are degenerate; pooled per-repeat values are compared.")
    if c.only_a or c.only_b:
        notes.append(f"Units present in one run only were left out ({c.only_a} in A, {c.only_b} in B).")
    notes.append("Folds share training subjects, so units are not independent and p is approximate.")
    return head + " " + " ".join(notes)


def format_comparison(c: Comparison) -> str:
    """Plain-text summary printed by ``miex compare``."""
    m = METRIC_NAMES[c.metric]
    lines = [
        f"A: {c.run_a}",
        f"B: {c.run_b}",
        f"metric {m}, selection {c.selection}, unit {c.unit}, test {c.test}, {c.n_pairs} pairs",
        f"mean A {c.mean_a:.4f}  mean B {c.mean_b:.4f}  B-A {c.mean_diff:+.4f} (median {c.median_diff:+.4f})",
        f"B better/worse/tied: {c.n_better}/{c.n_worse}/{c.n_tied}",
        f"statistic {c.statistic:.4g}  p = {c.p_value:.4g}" + ("  (significant, p < 0.05)" if c.significant else ""),
    ]
    if c.pooled.get("repeats"):
        lines.append(
            f"pooled {m} per repeat: A " + " ".join(f"{v:.3f}" for v in c.pooled["a"])
            + " | B " + " ".join(f"{v:.3f}" for v in c.pooled["b"])
        )
    lines += ["", c.interpretation]
    return "\n".join(lines)
