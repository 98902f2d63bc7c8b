"""Where ``corpuskit cat`` spends its time: its steps timed one by one, in one thread.

    python -m benchmarks.profile_cat --kind text  --size 2G
    python -m benchmarks.profile_cat --kind jsonl --size 2G

``corpuskit cat`` overlaps reading and writing in threads, so a sampling profile
(``py-spy record --threads --idle -- corpuskit cat ...``) shows mostly waits. Here
the same functions it calls run in sequence on the same file, each timed on its own
(CPU seconds of this thread, and wall), so the costs add up and can be compared.
Alternatives worth trying are timed alongside (marked "alt"), over the same blocks.
Outputs go to ``benchmarks/work/profile/`` and are deleted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.make_corpus import ensure_corpus
from corpuskit.io import jsonl
from corpuskit.io.lines import iter_blocks, join_lines, split_block
from corpuskit.io.paths import detect
from corpuskit.io.streams import decompressing, open_raw
from corpuskit.records import lines_batch, tag, text_values, untagged

WORK = Path(__file__).resolve().parent / "work" / "profile"


class Clock:
    """CPU (this thread) and wall seconds per named step."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)

    def run(self, name: str, fn, *args):
        c, w = time.thread_time(), time.perf_counter()
        out = fn(*args)
        self.cpu[name] += time.thread_time() - c
        self.wall[name] += time.perf_counter() - w
        return out

    def timed_iter(self, name: str, items):
        it = iter(items)
        while True:
            c, w = time.thread_time(), time.perf_counter()
            item = next(it, None)
            self.cpu[name] += time.thread_time() - c
            self.wall[name] += time.perf_counter() - w
            if item is None:
                return
            yield item

    def report(self, total_bytes: int) -> None:
        print(f"{'step':<58} {'CPU s':>7} {'wall s':>7} {'MB/s (CPU)':>10}")
        for name in self.cpu:
            cpu = self.cpu[name]
            print(f"{name:<58} {cpu:7.2f} {self.wall[name]:7.2f} {total_bytes / 1e6 / max(cpu, 1e-9):10.0f}")


def split_numpy_terminated(block: bytearray) -> pa.LargeBinaryArray:
    """alt: lines keeping their newline, zero-copy over the block (offsets from numpy)."""
    data = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(data == 10) + 1
    if ends.size == 0 or ends[-1] != data.size:
        ends = np.append(ends, data.size)
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), ends.size,
                                            [None, pa.py_buffer(offsets), pa.py_buffer(block)])


def profile_text(src: Path, dst: Path) -> Clock:
    clock = Clock()
    spec = detect(str(src))
    stream = decompressing(open_raw(spec), spec)
    hasher = xxhash.xxh64()
    with open(dst, "wb") as out:
        for block in clock.timed_iter("read: iter_blocks (8 MiB blocks)", iter_blocks(stream)):
            lines = clock.run("read: split_block (pc.split_pattern + flatten)", split_block, block)
            batch = clock.run("read: lines_batch + tag", lines_batch, lines, "text", str(src), 1)
            body = clock.run("write: join_lines(text_values) (pc.binary_join)",
                             lambda b: join_lines(text_values(b)), batch)
            clock.run("write: xxh64 of the output", lambda d: (hasher.update(d), hasher.update(b"\n")), body)
            clock.run("write: file.write (to page cache)", lambda d: (out.write(d), out.write(b"\n")), body)
            clock.run("alt: numpy newline offsets, zero-copy lines", split_numpy_terminated, block)
            clock.run("alt: count lines only (bytearray.count)", block.count, b"\n")
    stream.close()
    return clock


def profile_jsonl(src: Path, dst: Path) -> Clock:
    clock = Clock()
    spec = detect(str(src))
    stream = decompressing(open_raw(spec), spec)
    writer = None
    hasher = xxhash.xxh64()

    class Hashing:
        def __init__(self, raw):
            self.raw, self.closed = raw, False

        def write(self, data):
            c = time.thread_time()
            hasher.update(data)
            clock.cpu["write: (of which) xxh64 of the output"] += time.thread_time() - c
            return self.raw.write(data)

        def flush(self):
            self.raw.flush()

        def close(self):
            self.closed = True
            self.raw.close()

        def tell(self):
            return self.raw.tell()

        def writable(self):
            return True

    raw = open(dst, "wb")
    line = 1
    for block in clock.timed_iter("read: zstd decompress + iter_blocks", iter_blocks(stream)):
        table = clock.run("parse: jsonl.parse_block (pyarrow.json)", jsonl.parse_block, block, str(src), line,
                          lambda e: None)
        batch = clock.run("parse: combine_chunks + to_batches + tag",
                          lambda t: tag(t.combine_chunks().to_batches()[0], source=str(src), line=line), table)
        line += block.count(b"\n")
        batch = untagged(batch)
        if writer is None:
            writer = pq.ParquetWriter(Hashing(raw), batch.schema, compression="zstd")
        clock.run("write: ParquetWriter.write_batch (encode, zstd, write)", writer.write_batch, batch)
        clock.run("alt: pyarrow.json with use_threads=False", lambda b: pa.json.read_json(
            pa.BufferReader(pa.py_buffer(b)),
            read_options=pa.json.ReadOptions(block_size=len(b) + 1, use_threads=False)), block)
    clock.run("write: ParquetWriter.close", writer.close)
    stream.close()
    return clock


def main(argv: list[str] | None = None) -> None:
    import pyarrow.json  # noqa: F401  (pa.json above)

    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_cat", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=["text", "jsonl"], default="text")
    parser.add_argument("--size", default="2G")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    src = ensure_corpus(args.size, args.kind, args.seed)
    WORK.mkdir(parents=True, exist_ok=True)
    dst = WORK / ("out.txt" if args.kind == "text" else "out.parquet")
    with open(f"{src}.meta.json") as f:
        import json

        total = json.load(f)["bytes"]
    with open(src, "rb") as f:  # page cache, as bench_cat does
        while f.read(16 << 20):
            pass
    started = time.perf_counter()
    try:
        clock = profile_text(src, dst) if args.kind == "text" else profile_jsonl(src, dst)
    finally:
        if dst.exists():
            dst.unlink()
    print(f"{src.name}: {total:,} bytes, {time.perf_counter() - started:.1f}s in all "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    clock.report(total)


if __name__ == "__main__":
    main()
