"""Shuffle text lines as bytes: scatter blocks of lines to buckets, gather each bucket sorted.

Lines keep their ``\\n`` the whole way through, so a bucket's permuted lines are
already the output bytes: no decode, no re-join. Per-line work is numpy and Arrow.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa

from corpuskit.io.lines import first_too_long, iter_blocks, line_offsets, line_too_long, lines_array
from corpuskit.io.paths import FileSpec
from corpuskit.io.streams import decompressing, open_raw
from corpuskit.shuffle.keys import bucket_of, record_keys
from corpuskit.shuffle.order import sorted_order
from corpuskit.shuffle.plan import BYTES_FACTOR, RECORD_COST, current_rss
from corpuskit.shuffle.spill import Partition, Scratch, Spill
from corpuskit.threads import closing, prefetch

BLOCKS_IN_FLIGHT = 6
"""Blocks alive at once in a scatter: being read, two queued, being partitioned, and spare."""


def terminated_blocks(specs: list[FileSpec], block_size: int, max_record: int,
                      on_bytes: Callable[[int], None]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(block, line offsets) for every block of every file; each block ends with ``\\n``.

    The newlines are found once, here; a line over ``max_record`` bytes is an error
    naming its file and line (``iter_blocks`` catches one still growing, this one
    that ends in the read that grew the block).
    """
    for spec in specs:
        raw = open_raw(spec)
        stream = decompressing(raw, spec)
        line, position = 1, 0
        try:
            blocks = iter_blocks(stream, block_size, max_line=max_record, path=spec.path, terminate=True,
                                 reuse=BLOCKS_IN_FLIGHT)
            for block in blocks:
                offsets = line_offsets(block)
                if len(block) > max_record + 1 and (long := first_too_long(offsets, max_record)) is not None:
                    raise line_too_long(max_record, spec.path, line + long)
                if not spec.is_stdio:
                    now = raw.tell()
                    on_bytes(now - position)
                    position = now
                yield block, offsets
                line += len(offsets) - 1
        finally:
            if not spec.is_stdio:
                stream.close()


def scatter(blocks: Iterable[tuple], spill: Spill, seed: int, bits: int, used: int = 0,
            on_lines: Callable[[bytearray, np.ndarray], None] | None = None, group: int = 0) -> int:
    """Sends every line of ``blocks`` to its bucket in ``spill``; returns the number of lines.

    A block is (bytes, keys, line offsets); keys are None except when a bucket is
    split again, and then come from (seed, line number). Blocks are partitioned until
    ``group`` bytes are ready, and each bucket's share of them is written as one
    piece, in a second thread while the next group is partitioned.
    """
    count = 0
    read_ahead = prefetch(iter(blocks))
    with ThreadPoolExecutor(1, thread_name_prefix="corpuskit-spill") as pool, closing(read_ahead):
        pending: Future | None = None
        ready: list[Partition] = []
        ready_bytes = 0
        for block, keys, offsets in read_ahead:
            n = len(offsets) - 1
            if on_lines is not None:
                on_lines(block, offsets)
            if keys is None:
                keys = record_keys(seed, count, n)
            count += n
            ready.append(_partition(block, offsets, keys, bits, used))
            ready_bytes += int(offsets[-1] - offsets[0])
            if ready_bytes >= group:
                if pending is not None:
                    pending.result()
                pending = pool.submit(spill.add_partitions, ready)
                ready, ready_bytes = [], 0
        if pending is not None:
            pending.result()
        if ready:
            spill.add_partitions(ready)
    spill.close()
    return count


def _partition(block, offsets: np.ndarray, keys: np.ndarray, bits: int, used: int) -> Partition:
    buckets = bucket_of(keys, bits, used)
    order = np.argsort(buckets.astype(np.uint16) if bits <= 16 else buckets, kind="stable")
    record_cuts = np.zeros((1 << bits) + 1, dtype=np.int64)
    np.cumsum(np.bincount(buckets, minlength=1 << bits), out=record_cuts[1:])
    taken = lines_array(block, offsets).take(pa.array(order))
    taken_offsets = np.frombuffer(taken.buffers()[1], dtype=np.int64)[taken.offset : taken.offset + len(taken) + 1]
    data = taken.buffers()[2]
    return Partition(keys[order], np.diff(taken_offsets).astype(np.uint32),
                     memoryview(data if data is not None else b""), record_cuts, taken_offsets[record_cuts])


def offsets_of(sizes: np.ndarray) -> np.ndarray:
    """Line offsets from line sizes."""
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return offsets


def sort_bucket(keys: np.ndarray, sizes: np.ndarray, data) -> pa.LargeBinaryArray:
    """The bucket's lines ordered by key, each with its ``\\n``."""
    return lines_array(data, offsets_of(sizes)).take(pa.array(sorted_order(keys)))


def gather(spill: Spill, budget: int, workers: int, split: Callable[[int], Iterator[pa.Array]],
           rss_limit: int | None = None) -> Iterator[pa.LargeBinaryArray]:
    """Every bucket's sorted lines, in bucket order; ``workers`` buckets are sorted at once.

    A bucket whose cost exceeds ``budget`` goes to ``split`` (scattered again, in turn).
    Arrow's pool keeps freed pages for reuse; past ``rss_limit`` it gives them back.
    """
    with ThreadPoolExecutor(workers, thread_name_prefix="corpuskit-gather") as pool:
        window: list[tuple[int, Future | None]] = []
        for bucket in range(spill.buckets):
            if spill.records(bucket) == 0:
                continue
            oversized = bucket_cost(spill, bucket) > budget and spill.records(bucket) > 1
            window.append((bucket, None if oversized else pool.submit(_sorted_bucket, spill, bucket)))
            if len(window) >= workers:
                yield from _next_result(window, split, rss_limit)
        while window:
            yield from _next_result(window, split, rss_limit)


_scratch = threading.local()


def _sorted_bucket(spill: Spill, bucket: int) -> pa.LargeBinaryArray:
    """One bucket sorted; each gather thread reads into its own reused buffers (``take`` copies out)."""
    if not hasattr(_scratch, "buffers"):
        _scratch.buffers = Scratch()
    keys, sizes, data = spill.read(bucket, _scratch.buffers)
    spill.release(bucket)
    return sort_bucket(keys, sizes, data)


def _next_result(window: list[tuple[int, Future | None]], split: Callable[[int], Iterator[pa.Array]],
                 rss_limit: int | None) -> Iterator[pa.Array]:
    bucket, future = window.pop(0)
    if future is None:
        yield from split(bucket)
    else:
        yield future.result()
    if rss_limit is not None and current_rss() > rss_limit:
        pa.default_memory_pool().release_unused()


def bucket_cost(spill: Spill, bucket: int) -> int:
    """Bytes a bucket holds in memory while it is sorted (see plan.py)."""
    return int(BYTES_FACTOR * spill.size(bucket) + RECORD_COST * spill.records(bucket))
