"""``miex aus estimate FRAME_DIR --out aus.csv``: AU intensities of a clip from dlib landmarks.

Registered into ``miex aus`` by :func:`register_aus` (called by :mod:`miex.cli.aus`).
The first frame (by the number in the file names) is the neutral reference; see
:func:`miex.au.estimate.estimate_clip`. The CSV has the AU-table shape of the OpenFace
reader: ``frame, AU01 … AU45`` with intensities in [0, 1].
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register_aus(aus_subparsers: argparse._SubParsersAction) -> None:
    p = aus_subparsers.add_parser(
        "estimate",
        help="estimate AU intensities of a frame folder from 68-landmark motion (first frame = neutral)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("frames", metavar="FRAME_DIR", help="folder of frames (jpg, png, bmp) with numbered names")
    p.add_argument("--out", required=True, help="output CSV")
    p.add_argument("--upsample", type=int, default=1, help="dlib HOG upsampling for small faces (default 1)")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from miex.au.estimate import estimate_clip
    from miex.faces import FaceDetector
    from miex.io import write_text

    df = estimate_clip(args.frames, detector=FaceDetector(upsample=args.upsample))
    out = Path(args.out)
    write_text(out, df.to_csv(index=False, float_format="%.4f"))
    dropped = df.attrs.get("dropped", 0)
    extra = f", {dropped} frame(s) without a face dropped" if dropped else ""
    print(f"miex aus estimate: {len(df)} frames (neutral = frame {df.attrs['neutral_frame']}){extra} -> {out}")
    return 0
