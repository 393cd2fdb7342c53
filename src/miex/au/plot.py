"""Mean apex AU intensity per class and per source, as a PNG (cf. MiE-X supplementary Fig. 1).

One heatmap panel per source present in the pool: 17 AU rows (number and FACS name) × 3 class
columns, the cell text giving the mean apex intensity z, one shared colour scale.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from miex.au.pool import summarize_pool
from miex.au.space import AU_NAMES, FACS_NAMES, LABEL_NAMES

_SOURCE_TITLES = {
    "expert": "Expert rules",
    "mae": "Macro-expression early frames (MaE)",
    "mie": "Real micro-expressions (MiE)",
}


def plot_pool_profile(pool: pd.DataFrame, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
    """Write the heatmap PNG of ``pool`` atomically to ``path`` and return the path.

    Cells show the mean apex z of an AU over the class's triplets; "–" marks an AU that is
    never active there; grey cells are classes absent from that source.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from miex.io import atomic_path

    summary = summarize_pool(pool)
    sources = list(dict.fromkeys(summary["source"]))
    labels = sorted(LABEL_NAMES)
    n_src = max(len(sources), 1)

    grids = []
    for source in sources:
        grid = np.full((len(AU_NAMES), len(labels)), np.nan)
        counts = []
        for j, label in enumerate(labels):
            row = summary[(summary["source"] == source) & (summary["label"] == label)]
            if len(row):
                grid[:, j] = row[list(AU_NAMES)].to_numpy(dtype=float)[0]
                counts.append(int(row["n"].iloc[0]))
            else:
                counts.append(0)
        grids.append((source, grid, counts))
    vmax = max([float(np.nanmax(g)) for _, g, _ in grids if np.isfinite(g).any()] + [1e-6])
    vmax = float(np.ceil(vmax * 20) / 20)  # round up to 0.05 for a tidy colour bar

    fig, axes = plt.subplots(
        1, n_src, figsize=(3.6 + 3.0 * n_src, 7.6), squeeze=False, constrained_layout=True
    )
    cmap = matplotlib.colormaps["magma_r"].with_extremes(bad="#dddddd")
    image = None
    for k, (source, grid, counts) in enumerate(grids):
        ax = axes[0, k]
        image = ax.imshow(grid, cmap=cmap, vmin=0.0, vmax=vmax, aspect="auto")
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels([f"{LABEL_NAMES[lab]}\nn={c}" for lab, c in zip(labels, counts)], fontsize=9)
        ax.xaxis.tick_top()
        ax.set_yticks(range(len(AU_NAMES)))
        if k == 0:
            ax.set_yticklabels([f"{name}  {FACS_NAMES[name]}" for name in AU_NAMES], fontsize=9)
        else:
            ax.set_yticklabels([])
        ax.set_xticks(np.arange(-0.5, len(labels)), minor=True)
        ax.set_yticks(np.arange(-0.5, len(AU_NAMES)), minor=True)
        ax.grid(which="minor", color="white", linewidth=1.0)
        ax.tick_params(which="minor", length=0)
        ax.tick_params(which="major", length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(_SOURCE_TITLES.get(source, source), fontsize=10, pad=8)
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                value = grid[i, j]
                if not np.isfinite(value):
                    continue
                if value == 0.0:  # never active in this class: a dash keeps the table readable
                    ax.text(j, i, "–", ha="center", va="center", fontsize=8, color="#999999")
                    continue
                dark = value > 0.55 * vmax
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
    if not grids:
        axes[0, 0].text(0.5, 0.5, "empty pool", ha="center", va="center")
        axes[0, 0].set_axis_off()
    if image is not None:
        bar = fig.colorbar(image, ax=list(axes[0]), shrink=0.6, pad=0.02)
        bar.set_label("mean apex intensity z (OpenFace AUxx_r / 5)")
    fig.suptitle(title or f"Mean apex AU intensity per class ({len(pool)} triplets)", fontsize=11)

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return Path(path)


def plot_clip_aus(
    frames: list[np.ndarray],
    frame_numbers: list[int],
    tables: dict[str, pd.DataFrame],
    path: str | os.PathLike[str],
    *,
    aus: tuple[str, ...] = ("AU01", "AU02", "AU04", "AU06", "AU12", "AU25", "AU26"),
    truth: pd.DataFrame | None = None,
    title: str = "",
) -> Path:
    """Per-frame AU curves next to the frames, as a PNG (atomic write).

    ``frames``: a few RGB thumbnails shown on top, taken at ``frame_numbers`` (marked on the
    curves); ``tables``: AU tables (``frame`` + AU columns) per estimator, one panel each;
    ``truth`` (optional): the intensities that were rendered, drawn dashed. Each panel also
    draws the largest of the AUs not in ``aus`` (grey), which shows motion read as another AU.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from miex.io import atomic_path

    n_img, n_tab = len(frames), len(tables)
    fig = plt.figure(figsize=(max(2.0 * n_img, 10.0), 2.4 + 2.3 * n_tab), constrained_layout=True)
    grid = fig.add_gridspec(1 + n_tab, max(n_img, 1), height_ratios=[1.1] + [1.0] * n_tab)
    for i, (img, num) in enumerate(zip(frames, frame_numbers)):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(img)
        ax.set_title(f"frame {num}", fontsize=9)
        ax.axis("off")
    colours = plt.get_cmap("tab10")
    others = [a for a in AU_NAMES if a not in aus]
    for row, (name, table) in enumerate(tables.items(), start=1):
        ax = fig.add_subplot(grid[row, :])
        for k, au in enumerate(aus):
            ax.plot(table["frame"], table[au], color=colours(k), lw=1.6, label=au)
            if truth is not None:
                ax.plot(truth["frame"], truth[au], color=colours(k), lw=1.0, ls="--")
        ax.plot(table["frame"], table[others].max(axis=1), color="0.6", lw=1.0, label="max other")
        for num in frame_numbers:
            ax.axvline(num, color="0.85", lw=0.8, zorder=0)
        ax.set_ylim(-0.03, 1.03)
        ax.set_ylabel("z")
        ax.set_title(name + ("  (dashed: rendered truth)" if truth is not None else ""), fontsize=10, loc="left")
        ax.legend(fontsize=7, ncol=len(aus) + 1, loc="upper right")
    ax.set_xlabel("frame")
    if title:
        fig.suptitle(title, fontsize=11)
    out = Path(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return out
