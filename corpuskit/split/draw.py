"""Drawing the validation set: weighted with or without replacement, or a stable hash split."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from corpuskit.hashing import xxh64_lines


def weighted(weights: np.ndarray, size: int, replace: bool, rng: np.random.Generator) -> np.ndarray:
    """How many times each record is drawn: ``size`` independent draws with probability ∝ w, or,
    without replacement, ``size`` distinct records by Efraimidis-Spirakis keys u^(1/w)."""
    counts = np.zeros(len(weights), dtype=np.int64)
    if size == 0:
        return counts
    if replace:
        drawn = rng.choice(len(weights), size=size, replace=True, p=weights / weights.sum())
        np.add.at(counts, drawn, 1)
        return counts
    keys = np.log(rng.random(len(weights))) / weights
    counts[np.argpartition(-keys, size - 1)[:size]] = 1
    return counts


def by_hash(texts: pa.Array, fraction: float, seed: int) -> np.ndarray:
    """1 for the records whose xxh64 falls in the first ``fraction`` of the hash range: the same
    record goes the same way whatever the file's order or size."""
    hashes = xxh64_lines(texts, seed)
    return (hashes < np.uint64(min(fraction, 1.0) * 2.0**64 - 1)).astype(np.int64)
