"""``miex render``: render an AU vector onto a face photo and show what moved.

Examples::

    miex render face.jpg --au AU12=0.3 --au AU6=0.2 --out out.png
    miex render face.jpg --emotion happiness --intensity 0.25 --seed 0 --out out.png
    miex render face.jpg --emotion surprise --macro --out check.png      # full-intensity check
    miex render face.jpg --generator ganimation --weights 30_net_gen.pth --au AU12=0.5 --out x.png

The PNG shows three labelled panels: the aligned face (onset, z = 0), the rendered apex, and
their absolute difference magnified so the largest change is bright. ``--save-frames DIR``
also writes ``DIR/onset.png`` and ``DIR/apex.png`` (the crops, lossless, for measurement).

``--emotion`` draws AUs from the expert table (:mod:`miex.au.sources`, ``--table``): each AU
of the emotion is active with its table probability (seeded by ``--seed``; at least one AU is
kept), at ``--intensity`` (default: drawn from U[0.1, 0.3] per AU, as MiE-X does).
``--macro`` scales the vector so its largest AU is 1.0; ``--scale K`` multiplies it by K (the
warp extrapolates beyond 1; other generators clip to [0, 1]).

``--generator ganimation --weights FILE`` renders with a GANimation checkpoint (either public
layout, or one written by ``miex generator train``) on ``--device`` (cpu, cuda, cuda:N, auto);
the face is cut in the checkpoints' detector-box framing and the change is pasted back into
the aligned crop (see ``miex.generators.ganimation.crop``). The onset panel is then the
generator's own rendering of the neutral vector (z = 0), so the difference shows only what the
AUs changed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from miex.errors import MiexError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "render",
        help="render AUs (or an emotion) onto a face photo; writes onset | apex | difference",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("image", help="face photo (jpg, png, bmp)")
    p.add_argument("--au", action="append", default=[], metavar="AUxx=VALUE", help="AU intensity in [0, 1] (repeatable)")
    p.add_argument("--emotion", help="draw AUs for an emotion from the expert table (e.g. happiness)")
    p.add_argument("--intensity", type=float, help="intensity of the drawn AUs (default U[0.1, 0.3] each)")
    p.add_argument("--table", default="miex", help="expert table for --emotion: miex (default) or du2014")
    p.add_argument("--seed", type=int, default=0, help="seed for --emotion draws (default 0)")
    p.add_argument("--macro", action="store_true", help="scale the AU vector so its largest AU is 1.0")
    p.add_argument("--scale", type=float, default=1.0, metavar="K", help="multiply the AU vector by K (default 1)")
    p.add_argument("--size", type=int, default=128, help="aligned crop size in pixels (default 128)")
    p.add_argument("--generator", default="warp", help="generator backend: warp (default) or ganimation")
    p.add_argument("--weights", metavar="FILE", help="generator weights (--generator ganimation)")
    p.add_argument("--device", default="cpu", help="where a learned generator runs: cpu (default), cuda, cuda:N, auto")
    p.add_argument("--out", default=None, help="output PNG (default <image stem>_render.png)")
    p.add_argument("--save-frames", metavar="DIR", help="also write DIR/onset.png and DIR/apex.png")
    p.set_defaults(func=handler)


def parse_au_specs(specs: list[str]) -> np.ndarray:
    """``["AU12=0.3", "6=0.2"]`` -> (17,) vector; one clear error per bad spec."""
    from miex.au.space import N_AUS, au_index

    z = np.zeros(N_AUS)
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise MiexError(f"bad --au {spec!r}: expected NAME=VALUE, e.g. AU12=0.3")
        try:
            v = float(value)
        except ValueError:
            raise MiexError(f"bad --au {spec!r}: {value!r} is not a number") from None
        if not np.isfinite(v) or v < 0 or v > 1:
            raise MiexError(f"bad --au {spec!r}: intensity must be in [0, 1]")
        try:
            z[au_index(name.strip())] = v
        except MiexError as exc:
            raise MiexError(f"bad --au {spec!r}: {exc}") from None
    return z


def emotion_z(emotion: str, *, intensity: float | None, seed: int, table: str = "miex") -> np.ndarray:
    """An AU vector for ``emotion`` drawn from the expert table (reproducible per seed)."""
    from miex.au.sources import expert_probabilities
    from miex.seeding import rng

    probs = expert_probabilities(table)
    key = emotion.strip().lower()
    aliases = {"happy": "happiness", "sad": "sadness", "angry": "anger", "surprised": "surprise", "fearful": "fear", "disgusted": "disgust"}
    key = aliases.get(key, key)
    if key not in probs:
        raise MiexError(f"unknown emotion {emotion!r} for table {table!r}; expected one of {', '.join(sorted(probs))}")
    if intensity is not None and not 0.0 < intensity <= 1.0:
        raise MiexError(f"--intensity must be in (0, 1], got {intensity}")
    p = probs[key]
    gen = rng(seed, "render", key)
    for _ in range(1000):
        active = gen.random(p.size) < p
        if active.any():
            break
    else:  # pragma: no cover - every table row has an AU with p >= 0.5
        active = p == p.max()
    values = np.full(p.size, intensity) if intensity is not None else gen.uniform(0.1, 0.3, p.size)
    return np.where(active, values, 0.0)


def _describe(z: np.ndarray) -> str:
    from miex.au.space import AU_NAMES

    parts = [f"{n}={v:.2f}" for n, v in zip(AU_NAMES, z) if v > 0]
    return " ".join(parts) if parts else "neutral"


def _panel(img: np.ndarray, title: str, scale: int) -> np.ndarray:
    import cv2

    big = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST) if scale > 1 else img
    bar = np.full((22, big.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, big])


def side_by_side(onset: np.ndarray, apex: np.ndarray, apex_title: str) -> np.ndarray:
    """onset | apex | magnified |apex - onset|, each labelled (RGB uint8)."""
    diff = np.abs(apex.astype(np.int16) - onset.astype(np.int16)).max(axis=2).astype(np.float32)
    peak = float(diff.max())
    gain = 255.0 / peak if peak > 0 else 1.0
    mag = np.clip(diff * gain, 0, 255).astype(np.uint8)
    mag = np.repeat(mag[..., None], 3, axis=2)
    scale = max(1, int(np.ceil(256 / onset.shape[0])))
    gap = np.full((onset.shape[0] * scale + 22, 6, 3), 255, np.uint8)
    return np.hstack(
        [
            _panel(onset, "onset", scale),
            gap,
            _panel(apex, apex_title, scale),
            gap,
            _panel(mag, f"|apex - onset| x{gain:.0f} (max {peak:.0f})", scale),
        ]
    )


def _write_png(path: Path, rgb: np.ndarray) -> None:
    import cv2

    from miex.io import atomic_path

    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise MiexError(f"{path}: could not write PNG")


def generator_options(args: argparse.Namespace) -> dict:
    """``create_generator`` options from ``--weights`` / ``--device``."""
    if args.generator == "ganimation":
        return {"weights": args.weights, "device": args.device}
    if args.weights:
        raise MiexError(f"--weights is used by --generator ganimation, not {args.generator!r}")
    return {}


def handler(args: argparse.Namespace) -> int:
    from miex.faces import detect_face
    from miex.generators import create_generator

    if args.au and args.emotion:
        raise MiexError("give either --au or --emotion, not both")
    if not args.au and not args.emotion:
        raise MiexError("nothing to render: give --au AUxx=VALUE (repeatable) or --emotion NAME")
    if not np.isfinite(args.scale) or args.scale <= 0:
        raise MiexError(f"--scale must be a positive number, got {args.scale}")
    if args.size < 32:
        raise MiexError(f"--size must be at least 32, got {args.size}")
    z = parse_au_specs(args.au) if args.au else emotion_z(args.emotion, intensity=args.intensity, seed=args.seed, table=args.table)
    if args.macro and z.max() > 0:
        z = z / z.max()
    z = z * args.scale

    gen = create_generator(args.generator, **generator_options(args))
    face = detect_face(args.image, size=args.size)
    prepared = gen.prepare(face)
    if z.max() > 1.0 and hasattr(gen, "render_unbounded"):
        apex = gen.render_unbounded(prepared, z)
        onset = face.image
    elif args.generator == "warp":
        apex = gen.render(prepared, np.clip(z, 0.0, 1.0))
        onset = face.image
    else:
        onset, apex = gen.render_many(prepared, np.stack([np.zeros_like(z), np.clip(z, 0.0, 1.0)]))

    out = Path(args.out) if args.out else Path(args.image).with_name(Path(args.image).stem + "_render.png")
    _write_png(out, side_by_side(onset, apex, _describe(z)))
    if args.save_frames:
        folder = Path(args.save_frames)
        _write_png(folder / "onset.png", onset)
        _write_png(folder / "apex.png", apex)
    note = f" ({face.n_faces} faces found, the largest was used)" if face.n_faces > 1 else ""
    print(f"miex render: {_describe(z)} -> {out}{note}")
    return 0
