"""External sort of sequence records: sorted runs that fit in memory, spilled, then merged.

Runs are sorted by Arrow in C++. When everything fits in one run nothing touches the
disk; otherwise each run goes to the shuffle's temporary bucket file (one bucket per
run, in pieces of a few MB) and ``heapq.merge`` streams the runs back in order, one
piece per run in memory at a time.
"""

from __future__ import annotations

import heapq
import os
from typing import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpuskit.errors import CorpusError
from corpuskit.shuffle.spill import Spill
from corpuskit.trie.layout import Chunk
from corpuskit.trie.records import decode

PIECE_BYTES = 4 << 20
CHUNK_RECORDS = 1 << 16
MAX_RUNS = 1 << 14


def sorted_chunks(records: Iterable[pa.Array], budget: int, temp_dir: str,
                  on_spill: Callable[[int, int], None] = lambda runs, size: None) -> Iterator[Chunk]:
    """The sequences of ``records`` in sorted order, in chunks; at most ``budget`` bytes of records in memory."""
    run: list[pa.Array] = []
    size = 0
    spill: Spill | None = None
    runs = 0
    try:
        for array in records:
            run.append(array)
            size += array.nbytes
            if size >= budget:
                if spill is None:
                    spill = Spill(os.path.join(temp_dir, "runs.bin"), MAX_RUNS, sized=True)
                _write_run(spill, runs, _sorted(run))
                runs += 1
                if runs >= MAX_RUNS:
                    raise CorpusError(f"more than {MAX_RUNS:,} sorted runs; give the build more --mem")
                on_spill(runs, spill.written)
                run, size = [], 0
        if spill is None:
            yield from _chunks(_sorted(run)) if run else ()
            return
        if run:
            _write_run(spill, runs, _sorted(run))
            runs += 1
            on_spill(runs, spill.written)
        spill.close()
        yield from _merged(spill, runs)
    finally:
        if spill is not None:
            spill.close()


def _sorted(run: list[pa.Array]) -> list[pa.Array]:
    """The run's records in order, as arrays of about ``CHUNK_RECORDS`` each; about two copies at most."""
    records = pa.chunked_array(run, type=pa.large_binary())
    order = pc.sort_indices(records)
    run.clear()
    out = [records.take(order.slice(start, CHUNK_RECORDS)).combine_chunks()
           for start in range(0, len(order), CHUNK_RECORDS)]
    del records
    pa.default_memory_pool().release_unused()
    return out


def _chunks(arrays: list[pa.Array]) -> Iterator[Chunk]:
    while arrays:
        yield decode(arrays.pop(0))


def _write_run(spill: Spill, run: int, arrays: list[pa.Array]) -> None:
    for records in arrays:
        _write_pieces(spill, run, records)
    arrays.clear()
    pa.default_memory_pool().release_unused()


def _write_pieces(spill: Spill, run: int, records: pa.Array) -> None:
    offsets = np.frombuffer(records.buffers()[1], dtype=np.int64, count=len(records) + 1,
                            offset=records.offset * 8)
    data = records.buffers()[2]
    cuts = np.searchsorted(offsets, np.arange(offsets[0], offsets[-1], PIECE_BYTES))
    bounds = np.unique(np.concatenate((cuts, [len(records)])))
    pieces = []
    for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        begin, end = int(offsets[start]), int(offsets[stop])
        pieces.append((run, np.zeros(stop - start, dtype=np.uint64), data.slice(begin, end - begin),
                       np.diff(offsets[start:stop + 1]).astype(np.uint32)))
    spill.add_many(pieces)


def _run_records(spill: Spill, run: int) -> Iterator[bytes]:
    for _, sizes, body in spill.iter_pieces(run):
        offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        yield from pa.Array.from_buffers(pa.large_binary(), len(sizes),
                                         [None, pa.py_buffer(offsets), pa.py_buffer(body)]).to_pylist()


def _merged(spill: Spill, runs: int) -> Iterator[Chunk]:
    batch: list[bytes] = []
    for record in heapq.merge(*(_run_records(spill, r) for r in range(runs))):
        batch.append(record)
        if len(batch) >= CHUNK_RECORDS:
            yield _decode_list(batch)
            batch = []
    if batch:
        yield _decode_list(batch)


def _decode_list(batch: list[bytes]) -> Chunk:
    return decode(pa.array(batch, type=pa.large_binary()))
