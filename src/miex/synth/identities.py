"""Choosing face identities for a synthetic set.

Identities are drawn from the face pool in a seeded random order, without replacement. A face
that cannot be used (unreadable, no face found) is skipped and the next one taken, so the
identity numbering stays contiguous. Reuse beyond the pool is explicit (``allow_reuse``) and
recorded in the ``face_reuse`` column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from miex.errors import MiexError, SkipLog
from miex.seeding import rng


@dataclass(frozen=True)
class Identity:
    index: int          # 0..ids-1, contiguous
    face_id: str        # pool id; unique per identity (reuse rounds get a suffix)
    pool_id: str        # id in the face pool
    face_path: str
    reuse: int          # 0 for the first use of a face, 1 for the second, ...


def draw_order(pool_ids: Sequence[str], seed: int) -> list[str]:
    """The seeded order in which pool faces are tried."""
    order = rng(seed, "faces").permutation(len(pool_ids))
    return [pool_ids[i] for i in order]


def select_identities(
    pool_ids: Sequence[str],
    n_ids: int,
    seed: int,
    probe: Callable[[Sequence[str]], Iterable[tuple[str, str, str | None]]],
    *,
    allow_reuse: bool = False,
    skips: SkipLog | None = None,
) -> list[Identity]:
    """Pick ``n_ids`` identities.

    ``probe(ids)`` checks a batch of pool ids and yields ``(pool_id, face_path, problem)`` in
    the same order, ``problem`` being None for a usable face. It may run in parallel; only
    as many faces as needed are probed.
    """
    skips = skips if skips is not None else SkipLog()
    order = draw_order(pool_ids, seed)
    usable: list[tuple[str, str]] = []
    position = 0
    while len(usable) < n_ids and position < len(order):
        batch = order[position : position + max(n_ids - len(usable), 1)]
        position += len(batch)
        for pool_id, path, problem in probe(batch):
            if problem is None:
                usable.append((pool_id, path))
            else:
                skips.add(path, problem)
    if not usable:
        raise MiexError(f"no usable face in the face pool ({len(order)} image(s) tried; {skips.summary()})")
    if len(usable) < n_ids and not allow_reuse:
        raise MiexError(
            f"the face pool has only {len(usable)} usable face(s) for --ids {n_ids}; "
            "add faces or pass --allow-reuse to reuse identities (recorded in the manifest)"
        )
    return [_identity(i, usable) for i in range(n_ids)]


def _identity(index: int, usable: list[tuple[str, str]]) -> Identity:
    pool_id, path = usable[index % len(usable)]
    reuse = index // len(usable)
    face_id = pool_id if reuse == 0 else f"{pool_id}-r{reuse}"
    return Identity(index=index, face_id=face_id, pool_id=pool_id, face_path=path, reuse=reuse)

