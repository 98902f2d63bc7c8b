"""The shuffle as a pipeline stage: any record batches in, the same records out in random order.

Records stay whole (every field) because pieces of buckets are Arrow IPC streams.
Batches are kept in memory while they fit in the budget; past it, they spill to
buckets on disk like the file shuffle. The order is the same as the file
shuffle's for the same records and seed: sorted by the key of each record's
position in the stream.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from typing import Iterator

import numpy as np
import pyarrow as pa

from corpuskit.pipeline import Context, Stage
from corpuskit.records import untagged
from corpuskit.shuffle.keys import bucket_of, record_keys
from corpuskit.shuffle.order import sorted_order
from corpuskit.shuffle.plan import HEADROOM, RECORD_COST, current_rss
from corpuskit.shuffle.spill import Spill

SPILL_BITS = 8
OUTPUT_ROWS = 65536


class ShuffleStage(Stage):
    """``read(...) | shuffle(mem="2G", seed=7) | write(...)``: a uniform random permutation."""

    def __init__(self, mem: int, seed: int, tmp: str | None = None, buckets: int | None = None,
                 compress_temp: bool = False) -> None:
        super().__init__(self._shuffle, "shuffle", {"mem": mem, "seed": seed, "buckets": buckets})
        self.mem = mem
        self.seed = seed
        self.tmp = tmp
        self.bits = SPILL_BITS if buckets is None else max(0, math.ceil(math.log2(max(buckets, 1))))
        self.force_spill = buckets is not None
        self.compress_temp = compress_temp
        self.records = None

    def total_records(self) -> int | None:
        return self.records

    def _budget(self) -> int:
        return max(int(self.mem * HEADROOM) - current_rss(), 16 << 20)

    def _shuffle(self, batches: Iterator[pa.RecordBatch], ctx: Context) -> Iterator[pa.RecordBatch]:
        self.records = None
        budget = self._budget()
        held: list[pa.RecordBatch] = []
        cost = 0
        source = iter(batches)
        for batch in source:
            held.append(untagged(batch))
            cost += 2 * batch.nbytes + RECORD_COST * batch.num_rows
            if self.force_spill or cost > budget * 0.6:
                yield from self._external(held, source, budget)
                return
        self.records = sum(b.num_rows for b in held)
        yield from _sorted(held, record_keys(self.seed, 0, self.records))

    def _external(self, held: list[pa.RecordBatch], rest: Iterator[pa.RecordBatch],
                  budget: int) -> Iterator[pa.RecordBatch]:
        area = tempfile.mkdtemp(prefix="corpuskit-shuffle-", dir=self.tmp)
        try:
            spill = Spill(f"{area}/spill.bin", 1 << self.bits, self.compress_temp, sized=False)
            count = 0
            for batch in _drain(held, rest):
                batch = untagged(batch)
                keys = record_keys(self.seed, count, batch.num_rows)
                count += batch.num_rows
                _scatter_batch(spill, batch, keys, self.bits, 0)
            spill.close()
            self.records = count
            yield from self._gather(spill, self.bits, budget)
        finally:
            shutil.rmtree(area, ignore_errors=True)

    def _gather(self, spill: Spill, used: int, budget: int) -> Iterator[pa.RecordBatch]:
        for bucket in range(spill.buckets):
            if spill.records(bucket) == 0:
                continue
            if 2 * spill.size(bucket) + RECORD_COST * spill.records(bucket) > budget // 2 \
                    and spill.records(bucket) > 1 and used < 64:
                sub = Spill(f"{spill.path}.{used}.{bucket}", 1 << 4, spill.compress, sized=False)
                try:
                    for keys, _, body in spill.iter_pieces(bucket):
                        for batch in pa.ipc.open_stream(body):
                            _scatter_batch(sub, batch, keys, 4, used)
                    sub.close()
                    yield from self._gather(sub, used + 4, budget)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(sub.path)
                continue
            batches, keys = [], []
            for piece_keys, _, body in spill.iter_pieces(bucket):
                batches.extend(pa.ipc.open_stream(body))
                keys.append(piece_keys)
            yield from _sorted(batches, np.concatenate(keys))


def _scatter_batch(spill: Spill, batch: pa.RecordBatch, keys: np.ndarray, bits: int, used: int) -> None:
    buckets = bucket_of(keys, bits, used)
    order = np.argsort(buckets, kind="stable")
    counts = np.bincount(buckets, minlength=1 << bits)
    cuts = np.concatenate([[0], np.cumsum(counts)])
    taken = batch.take(pa.array(order))
    sorted_keys = keys[order]
    for bucket in np.flatnonzero(counts).tolist():
        lo, hi = int(cuts[bucket]), int(cuts[bucket + 1])
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, taken.schema) as stream:
            stream.write_batch(taken.slice(lo, hi - lo))
        spill.add(bucket, sorted_keys[lo:hi], sink.getvalue())


def _sorted(batches: list[pa.RecordBatch], keys: np.ndarray) -> Iterator[pa.RecordBatch]:
    if not batches:
        return
    table = pa.Table.from_batches(batches) if _same_schema(batches) else pa.concat_tables(
        [pa.Table.from_batches([b]) for b in batches], promote_options="permissive")
    shuffled = table.take(pa.array(sorted_order(keys)))
    yield from shuffled.combine_chunks().to_batches(max_chunksize=OUTPUT_ROWS)


def _same_schema(batches: list[pa.RecordBatch]) -> bool:
    return all(b.schema.equals(batches[0].schema) for b in batches[1:])


def _drain(held: list[pa.RecordBatch], rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The batches held so far (letting each go once handed over), then the rest."""
    held.reverse()
    while held:
        yield held.pop()
    yield from rest
