"""One user seed, split into a tree of seeds by a stable hash.

Never Python's salted ``hash()`` nor global random state: the same seed and names
give the same numbers on every machine and in every process.
"""

from __future__ import annotations

import secrets

import xxhash


def derive(seed: int, *names: str | int) -> int:
    """A 64-bit seed for the part of the run named by ``names`` (a stage, a shard, a bucket)."""
    h = xxhash.xxh64(seed=seed & 0xFFFFFFFFFFFFFFFF)
    for name in names:
        h.update(str(name).encode())
        h.update(b"\x00")
    return h.intdigest()


def draw() -> int:
    """A fresh seed from the OS, for a run not given one; print it so the run can be repeated."""
    return secrets.randbits(63)
