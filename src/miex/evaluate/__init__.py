"""Metrics (UF1/UAR/accuracy on pooled predictions), run reports, and paired run comparison.

``evaluate_run(RUN)`` writes a run folder's reports; ``compare_runs(A, B)`` tests B against A;
metric definitions are in :mod:`miex.evaluate.metrics`.
"""

from __future__ import annotations

from miex.evaluate.compare import Comparison, compare_runs
from miex.evaluate.metrics import accuracy, confusion, pooled_scores, summarize, uar, uf1
from miex.evaluate.report import evaluate_run
from miex.evaluate.run import Run, load_run

__all__ = [
    "Comparison", "Run", "accuracy", "compare_runs", "confusion", "evaluate_run", "load_run",
    "pooled_scores", "summarize", "uar", "uf1",
]
