"""``miex aus estimate FRAME_DIR --out aus.csv``: AU intensities of a clip from dlib landmarks.

Registered into ``miex aus`` by :func:`register_aus` (called by :mod:`miex.cli.aus`).
``--method 3d`` (default) fits a 3D face model (identity per clip, head pose per frame) and
reports absolute intensities by default (``--reference absolute``: no neutral frame needed);
``--reference first`` makes them relative to the first frame (the onset of a micro-expression
clip). ``--method 2d`` is the older landmark estimator (first frame = neutral). See
:mod:`miex.au.estimate`. The CSV has the AU-table shape of the OpenFace reader:
``frame, AU01 … AU45`` with intensities in [0, 1], then ``confidence`` and ``success``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register_aus(aus_subparsers: argparse._SubParsersAction) -> None:
    p = aus_subparsers.add_parser(
        "estimate",
        help="estimate AU intensities of a frame folder from 68 landmarks (3D face-model fit)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("frames", metavar="FRAME_DIR", help="folder of frames (jpg, png, bmp) with numbered names")
    p.add_argument("--out", required=True, help="output CSV")
    p.add_argument("--method", choices=["3d", "2d"], default="3d", help="estimator (default 3d)")
    p.add_argument("--reference", choices=["absolute", "first"], default=None,
                   help="absolute (default for 3d) or relative to the first frame (2d: always)")
    p.add_argument("--flow", action=argparse.BooleanOptionalAction, default=None,
                   help="dense optical-flow refinement (default: on for --method 3d --reference first)")
    p.add_argument("--detect", choices=["track", "every"], default=None,
                   help="detect the face once and track it (default; re-detected where tracking fails) or on every frame")
    p.add_argument("--plot", default=None, metavar="PNG", help="also write per-frame AU curves next to frames")
    p.add_argument("--upsample", type=int, default=1, help="dlib HOG upsampling for small faces (default 1)")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from miex.au.estimate import estimate_clip
    from miex.faces import FaceDetector
    from miex.io import write_text

    reference = args.reference or ("absolute" if args.method == "3d" else "first")
    df = estimate_clip(
        args.frames, detector=FaceDetector(upsample=args.upsample), method=args.method, reference=reference, flow=args.flow,
        detect=args.detect,
    )
    out = Path(args.out)
    write_text(out, df.to_csv(index=False, float_format="%.4f"))
    dropped, failed = df.attrs.get("dropped", 0), df.attrs.get("failed", 0)
    extra = f", {dropped} frame(s) without a face dropped" if dropped else ""
    extra += f", {failed} frame(s) failed (success 0)" if failed else ""
    ref = "absolute" if df.attrs["neutral_frame"] is None else f"relative to frame {df.attrs['neutral_frame']}"
    print(f"miex aus estimate: {len(df)} frames ({args.method}, {ref}){extra} -> {out}")
    if args.plot:
        print(f"plot: {_plot(args, df)}")
    return 0


def _plot(args: argparse.Namespace, df) -> Path:
    """Per-frame AU curves with 7 frames (evenly spread) on top."""
    import numpy as np

    from miex.au.estimate import frame_paths, frame_number
    from miex.au.plot import plot_clip_aus
    from miex.faces import load_image

    paths = {frame_number(p): p for p in frame_paths(args.frames)}
    frames = df["frame"].tolist()
    shown = [frames[i] for i in np.unique(np.linspace(0, len(frames) - 1, 7).round().astype(int))]
    thumbs = [load_image(paths[n]) for n in shown]
    title = f"{args.frames}: {args.method}, " + ("absolute" if df.attrs["neutral_frame"] is None else "relative to the first frame")
    return plot_clip_aus(thumbs, shown, {title: df}, args.plot)
