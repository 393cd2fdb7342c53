"""The resolved configuration of one ``miex synth`` run, saved as ``OUT/config.json``.

Two runs into the same folder must agree on every field that changes sample content;
the runner refuses a folder made with a different configuration unless ``overwrite``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from miex.errors import MiexError

SOURCES = ("expert", "mae", "mie")
FRAME_MODES = ("2", "10", "clip")

#: Fields that only change how the job runs, not what it writes.
RUNTIME_FIELDS = frozenset({"workers", "ray", "ray_address", "overwrite", "command", "device"})


@dataclass
class SynthConfig:
    faces: str
    out: str
    ids: int = 5000
    sources: tuple[str, ...] = ("expert",)
    mae_pool: str | None = None
    mie_pool: str | None = None
    size: int = 128
    frames: str = "2"
    seed: int = 0
    generator: str = "warp"
    weights: str | None = None          # generator weights file (ganimation)
    weights_sha256: str = ""            # filled in by check_generator
    device: str = "cpu"                 # where a learned generator runs (cpu, cuda, cuda:N)
    jpeg_quality: int = 95
    allow_reuse: bool = False
    fold_file: str | None = None
    expert_table: str = "miex"
    mu: float = 0.1
    nu: float = 0.3
    fps: float = 200.0
    duration: tuple[float, float] = (0.04, 0.5)
    mp4: bool = False
    workers: int = 1
    ray: bool = False
    ray_address: str | None = None
    overwrite: bool = False
    command: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sources = tuple(self.sources)
        self.duration = tuple(float(d) for d in self.duration)  # type: ignore[assignment]
        self.check()

    def check(self) -> None:
        unknown = [s for s in self.sources if s not in SOURCES]
        if unknown or not self.sources:
            raise MiexError(f"--sources must be a comma list of {', '.join(SOURCES)}; got {','.join(self.sources)!r}")
        if len(set(self.sources)) != len(self.sources):
            raise MiexError(f"--sources lists a source twice: {','.join(self.sources)}")
        if "mae" in self.sources and not self.mae_pool:
            raise MiexError("source 'mae' needs --mae-pool POOL (make one with `miex aus sample --source mae`)")
        if "mie" in self.sources and not self.mie_pool:
            raise MiexError("source 'mie' needs --mie-pool POOL (make one with `miex aus sample --source mie`)")
        if self.frames not in FRAME_MODES:
            raise MiexError(f"--frames must be one of {', '.join(FRAME_MODES)}, got {self.frames!r}")
        if self.ids < 1:
            raise MiexError(f"--ids must be at least 1, got {self.ids}")
        if not 16 <= self.size <= 1024:
            raise MiexError(f"--size must be between 16 and 1024 pixels, got {self.size}")
        if not 1 <= self.jpeg_quality <= 100:
            raise MiexError(f"--jpeg-quality must be in 1..100, got {self.jpeg_quality}")
        low, high = self.duration
        if not 0 < low <= high:
            raise MiexError(f"--duration must be 0 < min <= max seconds, got {low}-{high}")
        if self.fps <= 0:
            raise MiexError(f"--fps must be positive, got {self.fps}")

    @property
    def n_frames(self) -> int | None:
        """Frames per sample, or None for whole clips (variable length)."""
        return None if self.frames == "clip" else int(self.frames)

    def content_dict(self) -> dict:
        """The fields that determine sample content (compared on resume)."""
        data = asdict(self)
        for key in RUNTIME_FIELDS:
            data.pop(key, None)
        data["sources"] = list(self.sources)
        data["duration"] = list(self.duration)
        return data

    def to_dict(self) -> dict:
        data = asdict(self)
        data["sources"] = list(self.sources)
        data["duration"] = list(self.duration)
        return data


def check_generator(config: SynthConfig) -> None:
    """Check the generator and its weights before any output exists; record the weights' SHA-256."""
    from miex.generators import list_generators

    if config.generator not in list_generators():
        raise MiexError(f"unknown generator {config.generator!r}; available: {', '.join(list_generators())}")
    if config.generator != "ganimation":
        if config.weights:
            raise MiexError(f"--weights is used by --generator ganimation, not {config.generator!r}")
        return
    if not config.weights:
        raise MiexError("--generator ganimation needs --weights FILE (a GANimation generator checkpoint)")
    from miex.generators.ganimation import file_sha256, load_network
    from miex.generators.ganimation.backend import resolve_device

    load_network(config.weights)
    resolve_device(config.device)
    config.weights_sha256 = file_sha256(config.weights)


def generator_options(config: SynthConfig) -> dict:
    """Keyword options for ``create_generator(config.generator, **options)``."""
    if config.generator == "ganimation":
        return {"weights": config.weights, "device": config.device}
    return {}


def check_existing(out: Path, config: SynthConfig) -> None:
    """Refuse an output folder made with a different content configuration."""
    path = out / "config.json"
    if not path.exists():
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise MiexError(f"{path}: unreadable config ({exc}); use --overwrite to start again") from None
    old_content = {k: v for k, v in old.items() if k not in RUNTIME_FIELDS}
    new_content = config.content_dict()
    diffs = sorted(k for k in set(old_content) | set(new_content) if old_content.get(k) != new_content.get(k))
    if diffs:
        shown = ", ".join(f"{k}: {old_content.get(k)!r} -> {new_content.get(k)!r}" for k in diffs[:4])
        raise MiexError(f"{out} was made with a different configuration ({shown}); use --overwrite or another --out")
