"""Shuffle files of text lines or JSON lines as bytes, from disk to disk, within --mem."""

from __future__ import annotations

import contextlib
import functools
import mmap
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import xxhash

from corpuskit.io.count import count_lines_in_file
from corpuskit.io.paths import FileSpec, size_of
from corpuskit.io.lines import first_too_long, line_offsets, line_too_long, lines_array
from corpuskit.io.streams import read_full
from corpuskit.io.writer import Writer
from corpuskit.progress import bar
from corpuskit.records import terminated_batch, terminated_bytes
from corpuskit.shuffle.keys import record_keys
from corpuskit.shuffle.lines import bucket_cost, gather, offsets_of, scatter, terminated_blocks
from corpuskit.shuffle.order import sorted_order
from corpuskit.shuffle.plan import Plan, bits_for, groups_of
from corpuskit.shuffle.spill import Spill
from corpuskit.shuffle.verify import Fingerprint
from corpuskit.threads import closing, ordered_map
from corpuskit.version import __version__

SPLIT_INDEX_SHARE = 0.1
"""Of the memory, what the index of a bucket split again may take (the run's own index stays)."""
OUTPUT_SLICE = 4 << 20
SPILL_FILES = 16
"""Temporary files a scatter writes to, each a run of buckets, deleted once gathered."""


@dataclass
class LineShuffle:
    """One run over files: the plan, the seed, and where temporary buckets go."""

    specs: list[FileSpec]
    plan: Plan
    seed: int
    tmp: str
    workers: int = 2
    resume: bool = False
    verify: bool = False
    progress: bool | None = None
    log: Callable[[str], None] = lambda text: None
    records: int = 0
    _seen: Fingerprint | None = None
    _written: Fingerprint | None = None

    def verification(self) -> dict | None:
        """Input and output fingerprints and whether they match (with ``verify``)."""
        if self._seen is None or self._written is None:
            return None
        return {"input": self._seen.as_dict(), "output": self._written.as_dict(),
                "match": self._seen == self._written}

    def run(self, writer: Writer, describe: Callable[[list[dict]], dict]) -> list[dict]:
        """Scatters (unless resumed or in memory), gathers, writes; returns the writer's outputs."""
        if self.verify:
            self._seen, self._written = Fingerprint(), Fingerprint()
        format = self.specs[0].format
        inputs = [s.path for s in self.specs]
        with self._temp_area() as area:
            if self.plan.in_memory and writer.places(format):
                return self._placed(writer, inputs, describe)
            if self.plan.in_memory:
                arrays = self._in_memory()
            else:
                arrays = self._external(area)
            batches = self._counted(arrays)
            with closing(arrays, batches):
                outputs = writer.consume(batches, inputs, format, describe, total_records=lambda: self.records)
        return outputs

    def _placed(self, writer: Writer, inputs: list[str], describe: Callable[[list[dict]], dict]) -> list[dict]:
        """The one pass into one plain file: slices of lines are taken and written at their offsets in threads."""
        lines, order, sizes = self._permuted()
        ends = np.cumsum(sizes)
        size = int(ends[-1]) if len(ends) else 0
        pieces = ((int(ends[lo - 1]) if lo else 0, functools.partial(_take, lines, order[lo:hi]))
                  for lo, hi in slices_of(sizes, OUTPUT_SLICE, ends))
        with bar(self.progress, size, "write") as pbar:
            return writer.place(size, pieces, inputs, describe, self.workers,
                                functools.partial(self._tally, pbar=pbar))

    def _in_memory(self) -> Iterator[pa.Array]:
        lines, order, sizes = self._permuted()
        return ordered_map(lambda cut: _take(lines, order[cut[0] : cut[1]]), slices_of(sizes, OUTPUT_SLICE),
                           self.workers)

    def _permuted(self) -> tuple[pa.LargeBinaryArray, np.ndarray, np.ndarray]:
        """Every line in memory, the order that shuffles them, and the lines' sizes in that order."""
        with bar(self.progress, self.plan.input_bytes, "read") as pbar:
            data = read_all(self.specs, pbar.update)
        offsets = line_offsets(data, self.workers)
        if (long := first_too_long(offsets, self._max_record())) is not None:
            raise line_too_long(self._max_record(), *_locate(self.specs, long))
        if self._seen is not None:
            self._seen.add_lines(data, offsets)
        self.records = len(offsets) - 1
        order = sorted_order(record_keys(self.seed, 0, self.records), self.workers)
        return lines_array(data, offsets), order, np.diff(offsets)[order]

    def _external(self, area: str) -> Iterator[pa.Array]:
        meta = self._meta()
        index = os.path.join(area, "index.npz")
        spill = Spill.load(os.path.join(area, "spill.bin"), index, meta) if self.resume else None
        if spill is not None and not self.verify:
            self.log(f"resume: scatter already done in {area}; gathering")
            self.records = int(sum(spill.index["records"]))
        else:
            spill = Spill(os.path.join(area, "spill.bin"), self.plan.buckets, self.plan.compress,
                          files=SPILL_FILES, keep=self.resume)
            spill.remove()
            with bar(self.progress, self.plan.input_bytes, "scatter") as pbar:
                blocks = ((block, None, offsets) for block, offsets in terminated_blocks(
                    self.specs, self.plan.block_size, self._max_record(), pbar.update))
                self.records = scatter(blocks, spill, self.seed, self.plan.bits,
                                       on_lines=self._seen.add_lines if self._seen is not None else None,
                                       group=self.plan.group_bytes)
            spill.save_index(index, meta)
        return self._gather_all(spill, used=self.plan.bits)

    def _gather_all(self, spill: Spill, used: int) -> Iterator[pa.Array]:
        def split(bucket: int) -> Iterator[pa.Array]:
            bits = bits_for(bucket_cost(spill, bucket), self.plan.bucket_budget,
                            groups_of(spill.size(bucket), self.plan.group_bytes), self.plan.usable * SPLIT_INDEX_SHARE)
            self.log(f"bucket {bucket} holds {spill.size(bucket):,} bytes, more than planned; "
                     f"splitting it into {1 << bits}")
            sub = Spill(f"{spill.path}.{used}.{bucket}", 1 << bits, spill.compress)
            try:
                pieces = ((body, keys, offsets_of(sizes)) for keys, sizes, body in spill.iter_pieces(bucket))
                scatter(pieces, sub, self.seed, bits, used=used, group=self.plan.group_bytes)
                spill.release(bucket)
                yield from self._gather_all(sub, used + bits)
            finally:
                sub.remove()

        return gather(spill, self.plan.bucket_budget, self.workers, split, rss_limit=int(self.plan.mem * 0.85))

    def _counted(self, arrays: Iterator[pa.Array]) -> Iterator[pa.RecordBatch]:
        total = self.plan.data_bytes if not self.plan.in_memory else None
        with bar(self.progress, total, "gather") as pbar:
            for values in arrays:
                self._tally(values, pbar)
                yield terminated_batch(values)

    def _tally(self, values: pa.Array, pbar) -> None:
        """Lines on their way out: into the output fingerprint (with ``verify``) and the progress bar."""
        if self._written is not None:
            self._written.add_terminated(values)
        pbar.update(terminated_bytes(values).size)

    def _max_record(self) -> int:
        """A quarter of --mem, and below 4 GiB: temporary buckets store line sizes as uint32."""
        return min(self.plan.mem // 4, (1 << 32) - 2)

    def _meta(self) -> dict:
        inputs = [[os.path.abspath(s.path), size_of(s.path), _mtime(s.path)] for s in self.specs]
        return {"corpuskit": __version__, "inputs": inputs, "seed": self.seed, "bits": self.plan.bits,
                "compress": self.plan.compress}

    @contextlib.contextmanager
    def _temp_area(self) -> Iterator[str]:
        if self.plan.in_memory:
            yield ""
            return
        if self.resume:
            signature = xxhash.xxh64(repr(self._meta()).encode()).hexdigest()
            area = os.path.join(self.tmp, f"corpuskit-shuffle-{signature}")
            os.makedirs(area, exist_ok=True)
        else:
            area = tempfile.mkdtemp(prefix=f"corpuskit-shuffle-{os.getpid()}-", dir=self.tmp)
        finished = False
        try:
            yield area
            finished = True
        finally:
            if finished or not self.resume or not os.path.exists(os.path.join(area, "index.npz")):
                shutil.rmtree(area, ignore_errors=True)
            else:
                self.log(f"kept the finished scatter in {area}; run again with --resume to continue")


def _locate(specs: list[FileSpec], index: int) -> tuple[str, int]:
    """File and line of the ``index``-th line of all inputs read one after the other."""
    for spec in specs:
        lines = count_lines_in_file(spec)
        if index < lines:
            return spec.path, index + 1
        index -= lines
    return specs[-1].path, index + 1


def slices_of(sizes: np.ndarray, target: int, ends: np.ndarray | None = None) -> Iterator[tuple[int, int]]:
    """(start, end) ranges of ``sizes`` holding about ``target`` bytes each, at least one item.

    ``ends``, the cumulative sum of ``sizes``, may be given when the caller has it.
    """
    ends = np.cumsum(sizes) if ends is None else ends
    cuts = np.searchsorted(ends, np.arange(target, int(ends[-1]) if len(ends) else 0, target), side="right")
    bounds = np.unique(np.concatenate([[0], cuts, [len(sizes)]]))
    return zip(bounds[:-1].tolist(), bounds[1:].tolist())


def _take(lines: pa.LargeBinaryArray, part: np.ndarray) -> pa.LargeBinaryArray:
    return lines.take(pa.array(part))


def read_all(specs: list[FileSpec], on_bytes: Callable[[int], None]) -> np.ndarray:
    """Every line of every (uncompressed) file in one buffer, each line ending with ``\\n``.

    One file that ends with a newline is mapped, not read: its pages are already in
    the page cache, and a copy would fault in and zero as many fresh ones.
    """
    if len(specs) == 1 and (mapped := _mapped(specs[0].path)) is not None:
        on_bytes(len(mapped))
        return mapped
    sizes = [size_of(s.path) or 0 for s in specs]
    data = np.empty(sum(sizes) + len(specs), dtype=np.uint8)
    end = 0
    for spec, size in zip(specs, sizes):
        with open(spec.path, "rb", buffering=0) as f:
            got = read_full(f, memoryview(data)[end : end + size])
        on_bytes(got)
        end += got
        if got and data[end - 1] != 10:
            data[end] = 10
            end += 1
    return data[:end]


def _mapped(path: str) -> np.ndarray | None:
    """The file's bytes as a read-only mapping, if it is not empty and ends with ``\\n``."""
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0 or os.pread(f.fileno(), 1, size - 1) != b"\n":
            return None
        try:
            view = mmap.mmap(f.fileno(), size, flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0),
                             prot=mmap.PROT_READ)
        except (OSError, ValueError):
            return None
    return np.frombuffer(view, dtype=np.uint8)


def _mtime(path: str) -> float | None:
    try:
        return os.path.getmtime(path)
    except OSError:
        return None


def default_tmp() -> str:
    return tempfile.gettempdir()

