"""Seeded random generators. Every random draw in miex comes from one of these."""

from __future__ import annotations

import hashlib

import numpy as np


def rng(seed: int, *keys: int | str) -> np.random.Generator:
    """A generator that depends only on ``seed`` and ``keys``.

    ``rng(seed, k)`` gives sample ``k`` its own stream, so its content does not depend on
    which worker renders it or in which order. String keys are hashed stably (not with
    Python's salted ``hash``).
    """
    words = [int(seed)] + [_key_to_int(k) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(words))


def _key_to_int(key: int | str) -> int:
    if isinstance(key, (int, np.integer)):
        return int(key)
    digest = hashlib.blake2b(str(key).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")
