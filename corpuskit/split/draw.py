"""Drawing the validation set in bounded memory: weighted with or without replacement, or by hash.

A draw is kept sparse (the drawn record numbers and how often each was drawn), so its
memory is that of the validation set, not of the training set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import pyarrow as pa

from corpuskit.hashing import xxh64_lines


@dataclass(frozen=True)
class Drawn:
    """Record numbers drawn (sorted, distinct) and the number of draws of each."""

    index: np.ndarray
    count: np.ndarray

    @classmethod
    def empty(cls) -> "Drawn":
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    @classmethod
    def of(cls, index: np.ndarray) -> "Drawn":
        """One draw of each record in ``index``, with repeats counted."""
        unique, count = np.unique(np.asarray(index, dtype=np.int64), return_counts=True)
        return cls(unique, count.astype(np.int64))

    @property
    def draws(self) -> int:
        return int(self.count.sum())

    def counts(self, start: int, length: int) -> np.ndarray:
        """Dense draw counts of records ``start`` .. ``start + length - 1``."""
        out = np.zeros(length, dtype=np.int64)
        lo, hi = np.searchsorted(self.index, [start, start + length])
        out[self.index[lo:hi] - start] = self.count[lo:hi]
        return out

    def subsample(self, limit: int, rng: np.random.Generator) -> "Drawn":
        """At most ``limit`` of the draws, uniformly: enough to judge a large validation set."""
        if self.draws <= limit:
            return self
        draws = np.repeat(self.index, self.count)
        return Drawn.of(rng.choice(draws, size=limit, replace=False))


def weighted(blocks: Callable[[], Iterable[tuple[int, np.ndarray]]], size: int, replace: bool,
             rng: np.random.Generator) -> Drawn:
    """``size`` draws with probability ∝ w from weights read block by block: ``blocks()`` yields
    (first record number, w) and may be called twice.

    With replacement: independent draws, as ``size`` sorted uniform points on the weights'
    cumulative sum. Without: the ``size`` largest Efraimidis-Spirakis keys log(u) / w.
    """
    if size == 0:
        return Drawn.empty()
    if replace:
        total = sum(float(w.sum()) for _, w in blocks())
        points = np.sort(rng.random(size) * total)
        index, count, offset, done = [], [], 0.0, 0
        for start, w in blocks():
            ends = offset + np.cumsum(w)
            offset += float(w.sum())
            ends[-1] = offset
            hits = np.searchsorted(points, np.maximum.accumulate(ends), side="right")
            per = np.diff(hits, prepend=done)
            done = int(hits[-1])
            hit = np.flatnonzero(per)
            index.append(start + hit)
            count.append(per[hit])
        return Drawn(np.concatenate(index), np.concatenate(count).astype(np.int64))
    best_keys, best_index = np.zeros(0), np.zeros(0, dtype=np.int64)
    for start, w in blocks():
        keys = np.log(rng.random(len(w))) / w
        best_keys = np.concatenate([best_keys, keys])
        best_index = np.concatenate([best_index, start + np.arange(len(w))])
        if len(best_keys) > size:
            keep = np.argpartition(-best_keys, size - 1)[:size]
            best_keys, best_index = best_keys[keep], best_index[keep]
    return Drawn.of(best_index)


def uniform(n: int, size: int, rng: np.random.Generator) -> Drawn:
    """``size`` distinct records out of ``n``, uniformly."""
    return Drawn.of(rng.choice(n, size=min(size, n), replace=False))


def by_hash(texts: pa.Array, fraction: float, seed: int) -> np.ndarray:
    """True for the records whose xxh64 falls in the first ``fraction`` of the hash range: the same
    record goes the same way whatever the file's order or size."""
    hashes = xxh64_lines(texts, seed)
    return hashes < np.uint64(min(fraction, 1.0) * 2.0**64 - 1)
