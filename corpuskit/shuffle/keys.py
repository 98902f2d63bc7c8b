"""Random sort keys: a counter-based hash of (seed, global record number).

Sorting records by these keys is a uniform random permutation (ties, which have
probability about n^2 / 2^65, fall back to input order). Because a record's key
depends only on the seed and its position in the input, the output does not
depend on memory, bucket count, threads or shards.
"""

from __future__ import annotations

import numpy as np

from corpuskit import seeds

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def record_keys(seed: int, start: int, count: int) -> np.ndarray:
    """Keys of records ``start .. start+count-1`` (SplitMix64 of a seeded counter)."""
    base = np.uint64(seeds.derive(seed, "shuffle"))
    z = np.arange(start, start + count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z *= _GOLDEN
        z += base
        z ^= z >> np.uint64(30)
        z *= _MIX1
        z ^= z >> np.uint64(27)
        z *= _MIX2
        z ^= z >> np.uint64(31)
    return z


def bucket_of(keys: np.ndarray, bits: int, used: int = 0) -> np.ndarray:
    """The next ``bits`` key bits after the ``used`` ones already spent on outer buckets.

    Buckets are contiguous key ranges, so buckets written in order are sorted by key.
    """
    if bits == 0:
        return np.zeros(len(keys), dtype=np.uint32)
    top = keys << np.uint64(used) if used else keys
    return (top >> np.uint64(64 - bits)).astype(np.uint32)
