"""Every training record's discriminator score, spilled to a flat file so memory stays bounded."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from corpuskit.split.discriminator import importance
from corpuskit.split.draw import Drawn

BLOCK = 1 << 20


class Scores:
    """D of each training record in order, as float64 in ``path``; read back in fixed blocks."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.records = 0
        self._file = open(path, "wb")

    def append(self, d: np.ndarray) -> None:
        self._file.write(np.ascontiguousarray(d, dtype=np.float64).tobytes())
        self.records += len(d)

    def close(self) -> None:
        self._file.close()

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """(first record number, D) for blocks of ``BLOCK`` records: the same blocks whatever the
        reader's batches, so a seeded draw over them is too."""
        with open(self.path, "rb") as f:
            for start in range(0, self.records, BLOCK):
                yield start, np.fromfile(f, dtype=np.float64, count=min(BLOCK, self.records - start))

    def weight_blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """(first record number, w = D / (1 - D)) by block."""
        for start, d in self.blocks():
            yield start, importance(d)

    def summary(self) -> tuple[float, float]:
        """(mean weight, effective sample size (sum w)^2 / sum w^2: how many equally weighted
        records the weights are worth)."""
        total = square = 0.0
        for _, w in self.weight_blocks():
            total += float(w.sum())
            square += float((w * w).sum())
        return total / max(self.records, 1), total * total / square if square else 0.0

    def all(self) -> np.ndarray:
        return np.concatenate([d for _, d in self.blocks()]) if self.records else np.zeros(0)

    def write_parquet(self, path: str, drawn: Drawn, mean_weight: float) -> None:
        """weights.parquet: record number, D, weight normalized to mean 1, validation draws."""
        schema = pa.schema([("record", pa.int64()), ("d", pa.float64()), ("weight", pa.float64()),
                            ("valid_draws", pa.int64())])
        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            for start, d in self.blocks():
                writer.write_table(pa.table({
                    "record": np.arange(start, start + len(d), dtype=np.int64), "d": d,
                    "weight": importance(d) / mean_weight, "valid_draws": drawn.counts(start, len(d))},
                    schema=schema))
