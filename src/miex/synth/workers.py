"""Per-process state and the two jobs that workers run: probing faces and rendering chunks.

The same functions run in the main process (``--workers 1``), in local worker processes, and
in Ray tasks; each process builds its face pool and generator once, from the config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from miex.errors import MiexError
from miex.synth.config import SynthConfig, generator_options
from miex.synth.render import ChunkResult, FrameMemo, IdentityTask, write_sample

_STATE: dict = {}


def _state(config: dict) -> dict:
    """This process's config and face pool, built once per configuration; the generator is
    added by :func:`_generator` (probing faces does not need it)."""
    key = repr(sorted((k, repr(v)) for k, v in config.items()))
    if _STATE.get("key") != key:
        from miex.synth.facepool import open_face_pool

        cfg = SynthConfig(**config)
        _STATE.clear()
        _STATE.update(key=key, config=cfg, pool=open_face_pool(cfg.faces, size=cfg.size))
    return _STATE


def _generator(config: dict):
    """This process's generator for ``config``, built once (with its weights checked)."""
    state = _state(config)
    if "generator" not in state:
        from miex.generators import create_generator

        cfg: SynthConfig = state["config"]
        generator = create_generator(cfg.generator, **generator_options(cfg))
        check_weights(generator, cfg)
        state["generator"] = generator
    return state["generator"]


def warm_up(config: dict, generator: bool) -> None:
    """Start-up work ahead of time, while the main process does its own: the face pool, and
    with ``generator`` also the generator and its first-frame work
    (:meth:`~miex.generators.base.Generator.warm_up`). Results never depend on it, and a
    failure here is left for the real task to report."""
    try:
        state = _state(config)
        if generator:
            _generator(config).warm_up(state["config"].size)
    except Exception:  # noqa: BLE001 - the probe or render raises the same error, worded
        pass


def check_weights(generator, cfg: SynthConfig) -> None:
    """A worker refuses weights that changed since the run started (another file, same path)."""
    sha = getattr(generator, "weights_sha256", "")
    if cfg.weights_sha256 and sha and sha != cfg.weights_sha256:
        raise MiexError(f"{cfg.weights}: the weights file changed during the run (SHA-256 {sha[:12]}..., "
                        f"expected {cfg.weights_sha256[:12]}...)")


def probe_faces(config: dict, pool_ids: Sequence[str]) -> list[tuple[str, str, str | None]]:
    """Check each face (detection is cached); report the problem of unusable ones."""
    pool = _state(config)["pool"]
    results = []
    for pool_id in pool_ids:
        path = str(pool.path(pool_id))
        try:
            pool.check(pool_id)
        except MiexError as exc:
            results.append((pool_id, path, getattr(exc, "reason", str(exc))))
        else:
            results.append((pool_id, path, None))
    return results


def render_chunk(config: dict, tasks: Sequence[IdentityTask]) -> ChunkResult:
    """Render every sample of a few identities; a failing face is reported, not raised."""
    state = _state(config)
    generator = _generator(config)
    cfg: SynthConfig = state["config"]
    out = Path(cfg.out)
    mp4_fps = cfg.fps if (cfg.mp4 and cfg.frames == "clip") else None
    result = ChunkResult()
    for task in tasks:
        try:
            face = state["pool"].load(task.pool_id)
            prepared = generator.prepare(face)
        except MiexError as exc:
            result.failed.append((task.pool_id, str(exc)))
            continue
        memo = FrameMemo(generator, prepared, cfg.jpeg_quality)
        memo.prefetch([z for sample in task.samples for z in sample.trajectory])
        for sample in task.samples:
            rendered = [memo.get(z) for z in sample.trajectory]
            frames = [frame for frame, _ in rendered] if mp4_fps else None
            write_sample(out, sample, [data for _, data in rendered], frames, mp4_fps)
            result.samples += 1
            result.frames += len(rendered)
    return result
