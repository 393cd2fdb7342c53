"""AU trajectories of one synthetic sample: 2 frames, N frames, or a whole clip.

* 2 frames: onset, apex (the MiE-X image variant).
* N frames (the paper's video variant): expert AUs are interpolated linearly from onset to apex;
  MaE/MiE samples use the real AU vectors between onset and apex, resampled to N frames.
* ``clip``: a whole onset -> apex -> offset clip at ``fps``, with a duration drawn from a range
  around real MiEs. The rise follows the onset->apex trajectory, the apex is held briefly and the
  decay mirrors the rise, all with a smooth (raised-cosine) time warp, so motion starts and ends
  at zero velocity as real MiEs do.
"""

from __future__ import annotations

import numpy as np

from miex.au.space import N_AUS


def resample(trajectory: np.ndarray, n_frames: int) -> np.ndarray:
    """Linear resampling of a (T, 17) trajectory to (n_frames, 17), keeping both ends."""
    trajectory = np.asarray(trajectory, dtype=np.float64).reshape(-1, N_AUS)
    if n_frames < 1:
        raise ValueError("n_frames must be >= 1")
    if len(trajectory) == 1:
        return np.repeat(trajectory, n_frames, axis=0)
    source_t = np.linspace(0.0, 1.0, len(trajectory))
    target_t = np.linspace(0.0, 1.0, n_frames)
    return np.stack([np.interp(target_t, source_t, trajectory[:, j]) for j in range(N_AUS)], axis=1)


def onset_to_apex(onset: np.ndarray, apex: np.ndarray, real: np.ndarray | None) -> np.ndarray:
    """The (T, 17) rise: the real trajectory when there is one, else the straight line."""
    if real is not None and len(real) >= 2:
        return np.asarray(real, dtype=np.float64)
    return np.stack([onset, apex]).astype(np.float64)


def smoothstep(t: np.ndarray) -> np.ndarray:
    """Raised cosine from 0 to 1 on [0, 1], zero slope at both ends."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(t, 0.0, 1.0))


def clip_trajectory(
    rise: np.ndarray,
    n_frames: int,
    rng: np.random.Generator,
    *,
    apex_position: tuple[float, float] = (0.3, 0.6),
    hold: float = 0.1,
) -> tuple[np.ndarray, int]:
    """A whole clip of ``n_frames`` frames; returns (trajectory, apex frame index).

    The apex falls at a random fraction of the clip in ``apex_position``; it is held for a
    ``hold`` fraction of the clip; rise and decay use :func:`smoothstep` time warps.
    """
    n_frames = max(int(n_frames), 3)
    last = n_frames - 1
    apex_at = int(round(rng.uniform(*apex_position) * last))
    apex_at = min(max(apex_at, 1), last - 1)
    hold_end = min(last - 1, apex_at + int(round(hold * last)))
    t = np.arange(n_frames, dtype=np.float64)
    phase = np.ones(n_frames)
    phase[: apex_at + 1] = smoothstep(t[: apex_at + 1] / apex_at)
    decay = t > hold_end
    phase[decay] = smoothstep((last - t[decay]) / (last - hold_end))
    fine = resample(rise, 256)
    index = np.clip(np.round(phase * 255).astype(int), 0, 255)
    return fine[index], apex_at


def sample_trajectory(
    onset: np.ndarray,
    apex: np.ndarray,
    real: np.ndarray | None,
    frames: str,
    rng: np.random.Generator,
    *,
    fps: float = 200.0,
    duration: tuple[float, float] = (0.04, 0.5),
) -> tuple[np.ndarray, int]:
    """The AU trajectory of one sample and the index of its apex frame."""
    rise = onset_to_apex(onset, apex, real)
    if frames == "2":
        return np.stack([rise[0], rise[-1]]), 1
    if frames == "clip":
        seconds = rng.uniform(*duration)
        return clip_trajectory(rise, int(round(seconds * fps)) + 1, rng)
    n = int(frames)
    return resample(rise, n), n - 1
