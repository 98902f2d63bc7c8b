"""Prove nothing was lost: an order-independent fingerprint of a set of records.

The fingerprint is the record count and the sum, modulo 2^64, of the xxh64 of
every record's bytes (a text line without its newline; a JSON line as written).
Any permutation of the same records has the same fingerprint; a lost, duplicated
or altered record changes it (a collision needs a 2^-64 coincidence).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pyarrow as pa

from corpuskit.hashing import xxh64_lines, xxh64_ranges
from corpuskit.io.paths import FileSpec, detect, expand
from corpuskit.io.reader import Source
from corpuskit.records import is_terminated, text_values, untagged, value_offsets

MASK = (1 << 64) - 1


@dataclass
class Fingerprint:
    """Count and hash sum of a multiset of records; ``+`` merges two."""

    records: int = 0
    hash_sum: int = 0

    def add_hashes(self, hashes: np.ndarray) -> None:
        self.records += len(hashes)
        self.hash_sum = (self.hash_sum + int(hashes.sum(dtype=np.uint64))) & MASK

    def add_lines(self, data, offsets: np.ndarray) -> None:
        """Lines of ``data`` that end with ``\\n`` at ``offsets`` (starts, then the end)."""
        self.add_hashes(xxh64_ranges(data, offsets[:-1], offsets[1:] - 1))

    def add_terminated(self, values: pa.Array) -> None:
        """An Arrow array of lines that still end with ``\\n``."""
        self.add_lines(values.buffers()[2], value_offsets(values))

    def add_batch(self, batch: pa.RecordBatch) -> None:
        if is_terminated(batch):
            self.add_terminated(batch.column(0))
        else:
            self.add_hashes(xxh64_lines(text_values(batch)))

    def __add__(self, other: "Fingerprint") -> "Fingerprint":
        return Fingerprint(self.records + other.records, (self.hash_sum + other.hash_sum) & MASK)

    def as_dict(self) -> dict:
        return {"records": self.records, "xxh64_sum": f"{self.hash_sum:016x}"}


def fingerprint(paths: str | os.PathLike | Iterable[str | os.PathLike], format: str | None = None,
                field: str | None = None, records: bool = False) -> Fingerprint:
    """The fingerprint of every record in ``paths``.

    Text files count line by line as bytes. A JSON line counts as its bytes too (as
    ``shuffle`` moves it), unless ``records``: then JSONL and Parquet records both
    count as canonical JSON, so files of either format can be compared. A Parquet
    record always counts as its canonical JSON.
    """
    specs = [detect(p, format) for p in expand(paths)]
    as_lines = [FileSpec(s.path, "text", s.compression) for s in specs
                if s.format == "text" or (s.format == "jsonl" and not records)]
    as_records = [s for s in specs if s.format == "parquet" or (s.format == "jsonl" and records)]
    result = Fingerprint()
    for batch in Source(as_lines).batches() if as_lines else ():
        result.add_hashes(xxh64_lines(batch.column(0)))
    for spec in as_records:
        for batch in Source([spec], field=field).batches():
            result.add_hashes(xxh64_lines(canonical_json(batch)))
    return result


def canonical_json(batch: pa.RecordBatch) -> pa.Array:
    """Each record as compact JSON with sorted keys: how a Parquet record is fingerprinted."""
    return pa.array([json.dumps(r, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
                     for r in untagged(batch).to_pylist()], pa.large_string())
