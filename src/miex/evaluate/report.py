"""``evaluate_run(RUN)``: metrics and reports for a ``miex train`` run folder.

Writes into ``RUN/``:

* ``metrics.json``: pooled UF1/UAR/accuracy per selection × part, per repeat and mean ± std;
  protocol; confusion counts; the leaderboard it was placed in.
* ``report.md`` / ``report.html``: the results table (``test_best`` rows labelled
  "optimistic (test-set epoch selection)"), confusion matrices, the run next to the published
  MEGC2019 composite leaderboard and MiE-X Table 1, a protocol note, the learning curve.
* ``confusion_<selection>.png``: row-normalised confusion matrix with counts (all parts, and
  one panel per part for a multi-part run), counts summed over repeats.
* ``megc_log.txt``: MEGC submission log (see :func:`megc_log`).
* ``folds.csv``: UF1/UAR/accuracy per selection × repeat × fold (input of ``miex compare``).
* ``learning_curve.png`` when ``history.csv`` is present.

Metric definitions (pooling, classes missing from a part, std) are in
:mod:`miex.evaluate.metrics`.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from miex.errors import MiexError
from miex.evaluate import leaderboard as lb
from miex.evaluate.metrics import (
    COMPOSITE_PARTS,
    METRICS,
    OPTIMISTIC,
    PART_NAMES,
    SELECTION_LABELS,
    SELECTIONS,
    class_names,
    confusion,
    fold_scores,
    format_mean_std,
    n_classes_of,
    parts_of,
    pooled_scores,
    selections_of,
    summarize,
)
from miex.evaluate.run import Run, config_summary, load_run, natural_key, protocol_of
from miex.io import atomic_path, write_json, write_text

OPTIMISTIC_LABEL = SELECTION_LABELS["test_best"]


# ----------------------------------------------------------------------------- public entry
def evaluate_run(
    run_dir: str | Path,
    *,
    selections: Sequence[str] | str | None = None,
    megc_selection: str = "last",
    megc_repeat: int = 0,
    allow_incomplete: bool = False,
) -> dict[str, Any]:
    """Compute the metrics of a run folder, write the report files, return ``metrics.json``'s dict.

    ``selections``: ``None``/``"all"`` for every selection present, or a subset of
    ``last``/``val_best``/``test_best``. The MEGC log uses ``megc_selection`` of repeat
    ``megc_repeat``.
    """
    run = load_run(run_dir, allow_incomplete=allow_incomplete)
    sels = _resolve_selections(run, selections)
    preds = run.predictions[run.predictions["selection"].isin(sels)]
    metrics = compute_metrics(run, sels)

    files: dict[str, str] = {}
    out = run.dir
    n_classes = metrics["n_classes"]
    for sel in sels:
        path = out / f"confusion_{sel}.png"
        plot_confusion(preds[preds["selection"] == sel], path, n_classes=n_classes, title=_confusion_title(sel, metrics))
        files[f"confusion_{sel}"] = path.name
    write_text(out / "megc_log.txt", megc_log(_megc_rows(run, megc_selection, megc_repeat)))
    files["megc_log"] = "megc_log.txt"
    metrics["megc_log"] = {"selection": megc_selection, "repeat": megc_repeat}
    fs = fold_scores(preds, sels)
    with atomic_path(out / "folds.csv") as tmp:
        fs.to_csv(tmp, index=False, float_format="%.6f")
    files["folds"] = "folds.csv"
    if run.history is not None and plot_learning_curve(run.history, out / "learning_curve.png"):
        files["learning_curve"] = "learning_curve.png"
    files.update(metrics_json="metrics.json", report_md="report.md", report_html="report.html")
    metrics["files"] = files

    blocks = report_blocks(metrics)
    write_text(out / "report.md", render_markdown(blocks))
    write_text(out / "report.html", render_html(blocks, title=f"miex evaluation: {run.name}"))
    write_json(out / "metrics.json", json_safe(metrics))
    return metrics


def _resolve_selections(run: Run, selections: Sequence[str] | str | None) -> list[str]:
    present = selections_of(run.predictions)
    if selections is None or selections == "all" or (not isinstance(selections, str) and list(selections) == ["all"]):
        return present
    wanted = [selections] if isinstance(selections, str) else list(selections)
    for s in wanted:
        if s not in SELECTIONS:
            raise MiexError(f"unknown selection {s!r} (expected {', '.join(SELECTIONS)} or all)")
        if s not in present:
            raise MiexError(
                f"{run.dir / 'predictions.parquet'}: no '{s}' predictions (the run has {', '.join(present)})"
            )
    return [s for s in SELECTIONS if s in wanted]


# ----------------------------------------------------------------------------- metrics dict
def compute_metrics(run: Run, selections: Sequence[str]) -> dict[str, Any]:
    preds = run.predictions[run.predictions["selection"].isin(selections)]
    pooled = pooled_scores(preds, selections)
    summary = summarize(pooled)
    n_classes = n_classes_of(run.predictions)
    parts = parts_of(run.predictions)
    data_notes = _data_notes(run.dir)
    protocol = protocol_of(run)
    if data_notes.get("cross_dataset"):
        cross = data_notes["cross_dataset"]
        protocol = {**protocol, "kind": "cross-dataset",
                    "label": "cross-dataset: train on " + ", ".join(f"{k} ({v})" for k, v in cross["train"].items())
                             + ", test on " + ", ".join(f"{k} ({v})" for k, v in cross["test"].items())}
    composite = set(parts) == set(COMPOSITE_PARTS)
    out: dict[str, Any] = {
        "run": str(run.dir),
        "protocol": protocol,
        "config": config_summary(run.config),
        "n_classes": n_classes,
        "class_names": class_names(n_classes),
        "parts": parts,
        "composite": composite,
        "incomplete": [list(u) for u in run.missing_units],
        "data": data_notes,
        "pooling": "metrics on the predictions of all folds pooled, per repeat; mean and sample std (ddof=1) over repeats",
        "missing_classes": "UF1/UAR average over the classes present in the truth of each part",
        "selections": {},
        "confusion": {},
    }
    for sel in selections:
        s_preds = preds[preds["selection"] == sel]
        entry: dict[str, Any] = {
            "label": SELECTION_LABELS[sel],
            "optimistic": sel in OPTIMISTIC,
            "epoch": _epoch_summary(s_preds),
            "parts": {},
        }
        for _, row in summary[summary["selection"] == sel].iterrows():
            per = pooled[(pooled["selection"] == sel) & (pooled["part"] == row["part"])]
            entry["parts"][row["part"]] = {
                "n": int(row["n"]),
                "n_repeats": int(row["n_repeats"]),
                "classes": [int(c) for c in per["classes"].iloc[0]],
                **{
                    m: {
                        "mean": float(row[f"{m}_mean"]),
                        "std": float(row[f"{m}_std"]),
                        "per_repeat": [float(v) for v in per[m]],
                    }
                    for m in METRICS
                },
            }
        out["selections"][sel] = entry
        out["confusion"][sel] = {
            "counts": confusion(s_preds["label"], s_preds["pred"], n_classes).tolist(),
            "repeats_summed": int(s_preds["repeat"].nunique()),
        }
    out["leaderboard"] = _leaderboard_section(out)
    return out


def _epoch_summary(df: pd.DataFrame) -> dict[str, float]:
    per_fold = df.groupby(["repeat", "fold"])["epoch"].first()
    return {"median": float(per_fold.median()), "min": int(per_fold.min()), "max": int(per_fold.max())}


def json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    return obj


# ----------------------------------------------------------------------------- leaderboard
def _leaderboard_section(m: dict[str, Any]) -> dict[str, Any]:
    """This run's "all" rows placed among published results: the composite tables when it is on
    the composite, the CAS(ME)^3 table (entries with the run's number of classes) when it is on
    CAS(ME)^3 alone, the cross-dataset table for a cross-dataset protocol."""
    placed = {name: _matches(m, name) for name in ("composite_loso", "miex_table1")}

    def table(entries: tuple[lb.Entry, ...], name: str) -> list[dict[str, Any]]:
        return sorted(_published(entries) + (_run_rows(m) if placed[name] else []), key=lambda r: -r["uf1"])

    out = {
        "composite_loso": table(lb.COMPOSITE_LOSO, "composite_loso"),
        "miex_table1": table(lb.MIEX_TABLE1, "miex_table1"),
        "run_placed": any(placed.values()),
        "placed_in": [name for name, ok in placed.items() if ok],
        "note": lb.PROTOCOL_NOTE,
    }
    if m["parts"] == ["casme3"]:
        entries = tuple(e for e in lb.CASME3_LOSO if e.classes == m["n_classes"])
        placed = _run_rows(m)
        out["casme3"] = sorted(_published(entries) + placed, key=lambda r: -r["uf1"])
        out["casme3_placed"] = bool(placed)
    if str(m["protocol"].get("kind", "")).lower().startswith("cross"):
        out["cross_dataset"] = sorted(_published(lb.CROSS_DATASET) + _run_rows(m), key=lambda r: -r["uf1"])
    return out


#: The published tables: protocol kind, folds (None: any) and samples a run must match to be placed.
_TABLE_PROTOCOLS: dict[str, tuple[str, int | None, int]] = {
    "composite_loso": ("LOSO", None, 442),
    "miex_table1": ("k-fold", 3, 442),
}


def _matches(m: dict[str, Any], table: str) -> bool:
    """Whether a run is comparable with a published table: the full composite (all 442 samples,
    not partial data) under the table's protocol."""
    kind, folds, n = _TABLE_PROTOCOLS[table]
    first = next(iter(m["selections"].values()))
    proto = m["protocol"]
    return (m["composite"] and not m["data"].get("partial_missing") and first["parts"]["all"]["n"] == n
            and proto["kind"] == kind and (folds is None or proto["n_folds"] == folds))


def _data_notes(run_dir: Any) -> dict[str, Any]:
    """``RUN/data.json`` (written by ``miex train``): samples per part, crop, partial data."""
    import json

    path = Path(run_dir) / "data.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def _published(entries: tuple[lb.Entry, ...]) -> list[dict[str, Any]]:
    return [
        {"method": e.method, "uf1": e.uf1, "uar": e.uar, "protocol": e.protocol, "optimistic": e.optimistic,
         "this_run": False, "citation": e.citation, "note": e.note, "classes": e.classes}
        for e in entries
    ]


def _run_rows(m: dict[str, Any]) -> list[dict[str, Any]]:
    """This run's "all" rows, one per selection, for a leaderboard table."""
    return [
        {"method": f"this run ({entry['label']})", "uf1": entry["parts"]["all"]["uf1"]["mean"],
         "uar": entry["parts"]["all"]["uar"]["mean"], "protocol": m["protocol"]["label"],
         "optimistic": entry["optimistic"], "this_run": True}
        for entry in m["selections"].values()
    ]


# ----------------------------------------------------------------------------- MEGC log
def _megc_rows(run: Run, selection: str, repeat: int) -> pd.DataFrame:
    df = run.predictions
    if selection not in set(df["selection"]):
        raise MiexError(f"{run.dir / 'predictions.parquet'}: no '{selection}' predictions for the MEGC log")
    df = df[(df["selection"] == selection) & (df["repeat"] == repeat)]
    if len(df) == 0:
        raise MiexError(f"{run.dir / 'predictions.parquet'}: no repeat {repeat} predictions for the MEGC log")
    return df


def megc_header(dataset: str, subject: str) -> str:
    """``casme2 sub01`` from the dataset-qualified subject ``casme2/sub01`` (or dataset + subject)."""
    if "/" in subject:
        prefix, local = subject.split("/", 1)
        return f"{prefix} {local}"
    return f"{dataset} {subject}"


def megc_log(df: pd.DataFrame) -> str:
    """The MEGC submission log of one (selection, repeat).

    Folds in order; within a fold one block per test subject (LOSO: one per fold), subjects in
    natural order: a header line ``<dataset> <subject>`` (``casme2 sub01``), then one line per
    sample ``<clip> <truth> <prediction>`` (``EP02_01f 0 2``) in natural clip order; integer
    labels (0 negative, 1 positive, 2 surprise). The clip is the last path component.
    """
    lines: list[str] = []
    for fold in sorted(df["fold"].unique()):
        f = df[df["fold"] == fold]
        for subject in sorted(f["subject"].unique(), key=natural_key):
            s = f[f["subject"] == subject]
            lines.append(megc_header(str(s["dataset"].iloc[0]), str(subject)))
            clips = s.assign(_c=s["clip"].map(lambda c: str(c).rsplit("/", 1)[-1].replace(" ", "_")))
            clips = clips.sort_values("_c", key=lambda col: col.map(natural_key))
            lines.extend(f"{c} {int(t)} {int(p)}" for c, t, p in zip(clips["_c"], clips["label"], clips["pred"]))
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- plots
def _confusion_title(sel: str, m: dict[str, Any]) -> str:
    reps = m["confusion"][sel]["repeats_summed"]
    extra = f", counts summed over {reps} repeats" if reps > 1 else ""
    return f"{SELECTION_LABELS[sel].capitalize()}{extra}"


def plot_confusion(df: pd.DataFrame, path: str | Path, *, n_classes: int = 3, title: str = "") -> Path:
    """Row-normalised confusion matrix PNG: colour = share of the true class, text = % and count.

    One panel for all samples, plus one per part when the predictions hold 2-4 parts.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = class_names(n_classes)
    parts = parts_of(df)
    panels = [("all" if len(parts) != 1 else parts[0], df)]
    panels += [(p, df[df["part"] == p]) for p in parts] if 2 <= len(parts) <= 4 else []
    cell = 0.62 + 0.1 * n_classes
    fig, axes = plt.subplots(
        1, len(panels), figsize=(0.9 + (cell * n_classes + 1.3) * len(panels), cell * n_classes + 1.6),
        squeeze=False, constrained_layout=True,
    )
    image = None
    for ax, (part, sub) in zip(axes[0], panels):
        counts = confusion(sub["label"], sub["pred"], n_classes)
        totals = counts.sum(axis=1, keepdims=True)
        share = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
        shown = np.ma.masked_where(np.repeat(totals == 0, n_classes, axis=1), share)
        cmap = matplotlib.colormaps["Blues"].with_extremes(bad="0.93")
        image = ax.imshow(shown, cmap=cmap, vmin=0.0, vmax=1.0)
        for i in range(n_classes):
            for j in range(n_classes):
                if totals[i, 0] == 0:
                    ax.text(j, i, "no samples" if j == n_classes // 2 else "", ha="center", va="center",
                            color="0.45", fontsize=8, style="italic")
                    continue
                colour = "white" if share[i, j] > 0.55 else "0.15"
                ax.text(j, i, f"{share[i, j]:.0%}\n({counts[i, j]})", ha="center", va="center",
                        color=colour, fontsize=9, fontweight="bold" if i == j else "normal")
        ax.set_xticks(range(n_classes), names)
        ax.set_yticks(range(n_classes), [f"{n}\n(n={int(t)})" for n, t in zip(names, totals[:, 0])])
        ax.set_xlabel("predicted")
        if ax is axes[0][0]:
            ax.set_ylabel("true")
        ax.set_title(f"{PART_NAMES.get(part, part)} (n={int(counts.sum())})", fontsize=10)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
    if image is not None:
        bar = fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, pad=0.02)
        bar.set_label("share of true class")
        bar.ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    if title:
        fig.suptitle(title, fontsize=11)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=130)
    plt.close(fig)
    return Path(path)


def plot_learning_curve(history: pd.DataFrame, path: str | Path) -> bool:
    """Per-epoch mean (± std band) over repeat×fold of the per-fold UF1 and loss, per split.

    Returns ``False`` (and writes nothing) when ``history`` lacks the needed columns or rows.
    """
    need = {"epoch", "split"}
    if not need <= set(history.columns) or not ({"uf1", "loss"} & set(history.columns)) or len(history) == 0:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history, stage_note = _fold_stage_rows(history)
    panels = [c for c in ("uf1", "loss") if c in history.columns and history[c].notna().any()]
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.4), squeeze=False, constrained_layout=True)
    colours = {"train": "tab:gray", "val": "tab:orange", "test": "tab:blue"}
    for ax, col in zip(axes[0], panels):
        for split in sorted(history["split"].astype(str).unique(), key=lambda s: ("train", "val", "test").index(s)
                            if s in ("train", "val", "test") else 9):
            h = history[history["split"].astype(str) == split]
            g = h.groupby("epoch")[col].agg(["mean", "std"]).dropna(subset=["mean"])
            if len(g) == 0:
                continue
            x = g.index.to_numpy()
            ax.plot(x, g["mean"], label=split, color=colours.get(split), lw=1.8, marker="o" if len(g) < 15 else None, ms=3)
            std = g["std"].fillna(0).to_numpy()
            ax.fill_between(x, g["mean"] - std, g["mean"] + std, color=colours.get(split), alpha=0.15, lw=0)
        ax.set_xlabel("epoch")
        ax.set_ylabel("UF1 (mean of per-fold values)" if col == "uf1" else col)
        if col == "uf1":
            ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
    fig.suptitle(f"Learning curve{stage_note} (mean ± std over repeats × folds)", fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return True


def _fold_stage_rows(history: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The per-fold rows of the stage that ends in the test predictions.

    ``miex train`` logs shared synthetic training as ``fold == -1`` and pre-training as
    ``stage == "pretrain"``; the curve shows the fold-level stage (train / finetune) when present.
    """
    h = history
    if "fold" in h.columns and (h["fold"] >= 0).any():
        h = h[h["fold"] >= 0]
    if "stage" in h.columns:
        stages = [st for st in dict.fromkeys(h["stage"].astype(str)) if st != "pretrain"]
        if stages:
            h = h[h["stage"].astype(str) == stages[-1]]
            return h, f", stage {stages[-1]}"
    return h, ""


# ----------------------------------------------------------------------------- report blocks
@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    emphasis: list[bool]          # rows to highlight (this run)
    muted: list[bool]             # rows labelled optimistic


def results_rows(m: dict[str, Any]) -> tuple[list[str], list[list[str]], list[bool]]:
    """Header, rows and optimistic flags of the results table (selection × part)."""
    header = ["Selection", "Part", "n", "UF1", "UAR", "Accuracy"]
    rows, flags = [], []
    for sel, entry in m["selections"].items():
        for part, p in entry["parts"].items():
            rows.append([
                entry["label"], PART_NAMES.get(part, part), str(p["n"]),
                *(format_mean_std(p[k]["mean"], p[k]["std"]) for k in METRICS),
            ])
            flags.append(entry["optimistic"])
    return header, rows, flags


def results_table(m: dict[str, Any]) -> str:
    """The results table as aligned plain text (printed by ``miex eval``)."""
    header, rows, _ = results_rows(m)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)])


def _leader_table(rows: list[dict[str, Any]]) -> Table:
    out, emph, muted = [], [], []
    for r in rows:
        name = r["method"] + (" — optimistic" if r["optimistic"] and not r["this_run"] else "")
        uar = "–" if r["uar"] is None else f"{r['uar']:.3f}"
        out.append([name, f"{r['uf1']:.3f}", uar, r["protocol"], r.get("citation", "miex")])
        emph.append(r["this_run"])
        muted.append(r["optimistic"])
    return Table(["Method", "UF1", "UAR", "Protocol", "Source"], out, emph, muted)


def _data_facts(notes: dict[str, Any]) -> list[str]:
    """What ``data.json`` says about the data, for the report's facts list."""
    facts = []
    if notes.get("parts"):
        facts.append("Samples per part: " + ", ".join(f"{PART_NAMES.get(k, k)} {v}" for k, v in notes["parts"].items()))
    if notes.get("partial_missing"):
        facts.append(f"PARTIAL DATA ([data] allow_partial): {notes['partial_missing']} configured clip(s) were missing")
    if notes.get("crop"):
        facts.append(f"Face crop: {notes['crop']}")
    for key, what in (("missing_frames", "clip(s) with an annotated frame not on disk (nearest frame used)"),
                      ("crop_failures", "clip(s) left out: no usable face on the onset frame")):
        if notes.get(key):
            facts.append(f"{notes[key]} {what}")
    if notes.get("val_fraction"):
        facts.append(f"Validation carve-out: {notes['val_fraction']:.0%} of each fold's training subjects held out "
                     "for the validation-selected epoch; every selection trains on the rest (the published "
                     "protocols train on all training subjects)")
    return facts


def report_blocks(m: dict[str, Any]) -> list[tuple[str, Any]]:
    """The report as a list of (kind, content): h1/h2/p/table/img/list, rendered to md and HTML."""
    proto = m["protocol"]
    sels = m["selections"]
    first = next(iter(sels.values()))
    n_rep = first["parts"]["all"]["n_repeats"]
    b: list[tuple[str, Any]] = [("h1", f"miex evaluation: {Path(m['run']).name}")]
    facts = [
        f"Run folder: `{m['run']}`",
        f"Protocol: {proto['label']}, {proto['n_test_subjects']} test subjects, {n_rep} repeat(s)"
        + ("; validation split carved from the training subjects" if proto["has_val"] else ""),
        f"Samples per repeat: {first['parts']['all']['n']}; parts: "
        + ", ".join(PART_NAMES.get(p, p) for p in m["parts"]),
        "Classes: " + ", ".join(f"{i} {n}" for i, n in enumerate(m["class_names"])),
    ]
    if m["config"]:
        facts.append("Config: " + ", ".join(f"{k} = {v}" for k, v in m["config"].items()))
    facts.extend(_data_facts(m["data"]))
    if m["incomplete"]:
        facts.append(f"INCOMPLETE: {len(m['incomplete'])} fold/selection unit(s) have no predictions; "
                     "numbers cover the folds present only")
    b.append(("list", facts))

    b.append(("h2", "Results"))
    b.append(("p", "UF1 (macro F1), UAR (balanced accuracy) and accuracy on the predictions of all folds pooled, "
                   + (f"per repeat; mean ± sample std over {n_rep} repeats. " if n_rep > 1 else "one repeat (no std). ")
                   + "Parts are subsets of the same predictions; "
                   "UF1/UAR average over the classes present in each part's truth. Rows labelled "
                   f"“{OPTIMISTIC_LABEL}” chose each fold's epoch on its own test subjects and overstate "
                   "performance; they are not a fair estimate."))
    header, rows, flags = results_rows(m)
    b.append(("table", Table(header, rows, [False] * len(rows), flags)))
    ep = [f"{e['label']}: median epoch {e['epoch']['median']:g} (range {e['epoch']['min']}–{e['epoch']['max']})"
          for e in sels.values()]
    b.append(("list", ep))

    b.append(("h2", "Confusion matrices"))
    for sel in sels:
        b.append(("img", (m["files"][f"confusion_{sel}"], f"confusion matrix, {SELECTION_LABELS[sel]}")))

    b.append(("h2", "Next to published results"))
    note = lb.PROTOCOL_NOTE
    if m["composite"]:
        placed = m["leaderboard"]["placed_in"]
        if placed:
            note += " This run matches the protocol and the 442 samples of the " + " and ".join(
                {"composite_loso": "LOSO leaderboard", "miex_table1": "MiE-X Table 1 (3-fold)"}[t] for t in placed
            ) + ", so it is placed there."
        else:
            note += (f" This run ({proto['label']}, {first['parts']['all']['n']} samples per repeat) matches no "
                     "published table's protocol and full 442-sample composite, so it is not placed in them; "
                     "they are context only.")
    else:
        note += (" This run is not on the MEGC2019 composite (parts: " + ", ".join(m["parts"])
                 + "), so it is not placed in the composite tables below; they are context only.")
        if m["leaderboard"].get("casme3_placed"):
            note += " It is placed in the CAS(ME)^3 table."
    b.append(("p", note))
    b.append(("h3", "MEGC2019 composite (CompMiE), LOSO, full composite"))
    b.append(("table", _leader_table(m["leaderboard"]["composite_loso"])))
    b.append(("h3", "MiE-X paper, Table 1 (CompMiE, subject-wise 3-fold, Branches)"))
    b.append(("table", _leader_table(m["leaderboard"]["miex_table1"])))
    b.append(("p", "MiE-X Table 1 rows: " + lb.MIEX_TABLE1[0].note + "."))
    if "casme3" in m["leaderboard"]:
        b.append(("h3", f"CAS(ME)^3 Part A, {m['n_classes']} classes (published)"))
        b.append(("p", lb.CASME3_NOTE))
        b.append(("table", _leader_table(m["leaderboard"]["casme3"])))
    if "cross_dataset" in m["leaderboard"]:
        b.append(("h3", "Cross-dataset (published)"))
        b.append(("p", lb.CROSS_DATASET_NOTE))
        b.append(("table", _leader_table(m["leaderboard"]["cross_dataset"])))

    if "learning_curve" in m["files"]:
        b.append(("h2", "Learning curve"))
        b.append(("img", (m["files"]["learning_curve"], "learning curve")))
    b.append(("h2", "Files"))
    b.append(("list", [
        "`metrics.json`: all numbers (per repeat, per part, confusion counts)",
        "`folds.csv`: UF1/UAR/accuracy per selection × repeat × fold (for `miex compare`; per-fold values "
        "of 1-subject LOSO folds are noisy)",
        f"`megc_log.txt`: MEGC submission log ({SELECTION_LABELS[m['megc_log']['selection']]}, "
        f"repeat {m['megc_log']['repeat']})",
    ]))
    return b


# ----------------------------------------------------------------------------- renderers
def render_markdown(blocks: list[tuple[str, Any]]) -> str:
    out: list[str] = []
    for kind, c in blocks:
        if kind in ("h1", "h2", "h3"):
            out += ["#" * int(kind[1]) + " " + c, ""]
        elif kind == "p":
            out += [c, ""]
        elif kind == "list":
            out += [f"- {x}" for x in c] + [""]
        elif kind == "img":
            out += [f"![{c[1]}]({c[0]})", ""]
        elif kind == "table":
            out += ["| " + " | ".join(c.header) + " |", "|" + "|".join("---" for _ in c.header) + "|"]
            for row, em in zip(c.rows, c.emphasis):
                cells = [f"**{x}**" if em else x for x in row]
                out.append("| " + " | ".join(cells) + " |")
            out.append("")
    return "\n".join(out)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1d232a;line-height:1.45}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #dde3ea}h3{font-size:1rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}
th,td{padding:.3rem .6rem;border-bottom:1px solid #e5e9ef;text-align:left}
td:nth-child(n+2){font-variant-numeric:tabular-nums}
th{background:#f3f6f9}
tr.run td{font-weight:600;background:#e8f1fb}
tr.optimistic td{color:#8a5a00;background:#fff7e6}
tr.run.optimistic td{background:#fbead0}
code{background:#f3f6f9;padding:0 .2rem;border-radius:3px}
img{max-width:100%;border:1px solid #e5e9ef;margin:.4rem 0}
"""


def _inline(text: str) -> str:
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def render_html(blocks: list[tuple[str, Any]], title: str = "miex evaluation") -> str:
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
           f"<style>{_CSS}</style></head><body>"]
    for kind, c in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append(f"<{kind}>{html.escape(c)}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{_inline(c)}</p>")
        elif kind == "list":
            out.append("<ul>" + "".join(f"<li>{_inline(x)}</li>" for x in c) + "</ul>")
        elif kind == "img":
            out.append(f"<p><img src='{html.escape(c[0])}' alt='{html.escape(c[1])}'></p>")
        elif kind == "table":
            out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in c.header) + "</tr></thead><tbody>")
            for row, em, mu in zip(c.rows, c.emphasis, c.muted):
                cls = " ".join(x for x, on in (("run", em), ("optimistic", mu)) if on)
                attr = f" class='{cls}'" if cls else ""
                out.append(f"<tr{attr}>" + "".join(f"<td>{html.escape(x)}</td>" for x in row) + "</tr>")
            out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
