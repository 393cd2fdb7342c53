"""``OUT/card.html``: a self-contained dataset card for a synthetic set.

It shows the counts per class and source, the AU profile plot, a contact sheet of random
samples (onset | apex | magnified difference) and the command and configuration that made the
set. Images are embedded as data URIs so the card can be mailed or archived on its own.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from miex.au.space import LABEL_NAMES
from miex.io import write_text
from miex.seeding import rng
from miex.synth.config import SynthConfig

DIFF_GAIN = 8.0
SAMPLES_PER_CELL = 2


def counts_table(manifest: pd.DataFrame) -> pd.DataFrame:
    table = pd.crosstab(manifest["label"].map(LABEL_NAMES), manifest["source"], margins=True, margins_name="total")
    table.index.name = "class"
    return table


def difference_image(onset: np.ndarray, apex: np.ndarray, gain: float = DIFF_GAIN) -> np.ndarray:
    """Magnified absolute difference, so that sub-pixel MiE motion becomes visible."""
    diff = np.abs(apex.astype(np.float32) - onset.astype(np.float32)) * gain
    return np.clip(diff, 0, 255).astype(np.uint8)


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def contact_sheet(out: Path, manifest: pd.DataFrame, seed: int) -> np.ndarray:
    """Rows of (onset | apex | difference) for random samples of every class and source."""
    picker = rng(seed, "card")
    rows = []
    for (label, source), part in manifest.groupby(["label", "source"], sort=True):
        chosen = picker.choice(len(part), size=min(SAMPLES_PER_CELL, len(part)), replace=False)
        for index in sorted(chosen):
            sample = part.iloc[int(index)]
            folder = out / sample["dir"]
            onset = read_rgb(folder / "0.jpg")
            apex = read_rgb(folder / f"{int(sample['apex_index'])}.jpg")
            row = np.concatenate([onset, apex, difference_image(onset, apex)], axis=1)
            rows.append(_caption(row, f"{LABEL_NAMES[int(label)]} / {source} / {sample['dir']}"))
    return np.concatenate(rows, axis=0)


def _caption(row: np.ndarray, text: str) -> np.ndarray:
    band = np.full((18, row.shape[1], 3), 255, dtype=np.uint8)
    cv2.putText(band, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([band, row], axis=0)


def png_data_uri(rgb: np.ndarray) -> str:
    ok, buffer = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return "data:image/png;base64," + base64.b64encode(buffer.tobytes()).decode("ascii")


def profile_data_uri(manifest: pd.DataFrame, out: Path) -> str:
    from miex.au.plot import plot_pool_profile
    from miex.io import atomic_path

    with atomic_path(out / ".card_profile.png") as tmp:
        plot_pool_profile(manifest, tmp, title="Mean apex AU intensity per class and source")
        data = tmp.read_bytes()
    (out / ".card_profile.png").unlink(missing_ok=True)
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def weights_note(config: SynthConfig) -> str:
    """`` (weights <name>, SHA-256 <hash>)`` for a learned generator, else nothing."""
    if not getattr(config, "weights", None):
        return ""
    name = html.escape(Path(config.weights).name)
    return f" (weights <code>{name}</code>, SHA-256 <code>{html.escape(config.weights_sha256)}</code>)"


def render_card(manifest: pd.DataFrame, config: SynthConfig, profile_uri: str, contact_uri: str) -> str:
    counts = counts_table(manifest).to_html(border=0, classes="counts")
    frames = int(manifest["n_frames"].sum())
    sheet_width = min(2 * 3 * config.size, 1200)
    config_json = html.escape(json.dumps(config.to_dict(), indent=2, sort_keys=True, default=str))
    command = html.escape(config.command or "(called from Python)")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>miex synthetic MiE set: {html.escape(Path(config.out).name)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 70em; }}
table.counts {{ border-collapse: collapse; }}
table.counts td, table.counts th {{ padding: 0.2em 0.8em; border-bottom: 1px solid #ccc; text-align: right; }}
pre {{ background: #f4f4f4; padding: 1em; overflow-x: auto; }}
img {{ max-width: 100%; }}
img.sheet {{ width: {sheet_width}px; image-rendering: pixelated; }}
</style>
</head>
<body>
<h1>Synthetic micro-expression set</h1>
<p>{len(manifest)} samples, {frames} frames, {manifest['face_id'].nunique()} identities,
generator <code>{html.escape(config.generator)}</code>{weights_note(config)}, seed {config.seed},
frames per sample: <code>{html.escape(config.frames)}</code>, crop {config.size}&times;{config.size} px.
Made by miex with the MiE-X protocol (Liu et al., ECCV 2022).</p>
<h2>Samples per class and AU source</h2>
{counts}
<h2>AU profile</h2>
<img src="{profile_uri}" alt="mean apex AU intensity per class and source">
<h2>Contact sheet</h2>
<p>Random samples per class and source: onset | apex | absolute difference &times;{DIFF_GAIN:g}.</p>
<img class="sheet" src="{contact_uri}" alt="contact sheet of random samples">
<h2>Command</h2>
<pre>{command}</pre>
<h2>Configuration</h2>
<pre>{config_json}</pre>
</body>
</html>
"""


def write_card(out: Path, manifest: pd.DataFrame, config: SynthConfig, profile: str | None = None) -> Path:
    """Write ``out/card.html``; ``profile``: the AU profile from :func:`profile_data_uri`
    when it was drawn already (``miex synth`` draws it while the workers render)."""
    contact = png_data_uri(contact_sheet(out, manifest, config.seed))
    profile = profile if profile is not None else profile_data_uri(manifest, out)
    path = out / "card.html"
    write_text(path, render_card(manifest, config, profile, contact))
    return path
