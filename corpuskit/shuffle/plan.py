"""How a shuffle will run within ``--mem``: bucket count, block size, temp space.

The cost model is what gathering a bucket holds at once: its bytes twice (as read,
and permuted) plus about 48 bytes per record (key, order, offsets). ``workers``
buckets (two by default) are gathered at a time while one more is written, so with
two a bucket may cost a third of the memory left after the interpreter and
libraries. A bucket that turns out larger (skewed line lengths) is split again, so
the plan only needs to be close.

The scatter reads blocks of a 24th of that memory and writes to the buckets four
blocks at a time (six blocks in flight and two groups of four, one filling and one
being written). Each bucket gets one piece per group, and every piece costs about
48 bytes of index until the gather ends: pieces grow with groups x buckets, i.e.
with the square of the input. So the bucket count is capped where the index would
take more than a fifth of the memory; the buckets are then larger than the
budget, and each is split again when it is gathered (one more pass over it).

Input that fits goes in one pass, with no temporary files: its bytes are held once
(read, or mapped) and written out a few MB at a time, so it costs the bytes, a
tenth more for slack, and the same 48 bytes per record.
"""

from __future__ import annotations

import gzip
import math
import os
import shutil
import struct
from dataclasses import dataclass

import zstandard

from corpuskit.errors import CorpusError
from corpuskit.io.lines import count_lines, iter_blocks
from corpuskit.io.paths import FileSpec, size_of
from corpuskit.io.streams import decompressing, open_raw
from corpuskit.units import format_size

BYTES_FACTOR = 2.2
ONE_PASS_FACTOR = 1.1
RECORD_COST = 48
GROUP_BLOCKS = 4
PIECE_COST = 48
INDEX_SHARE = 0.2
MIN_USABLE = 24 << 20
HEADROOM = 0.8
TEMP_RATIO_COMPRESSED = 0.6
DEFAULT_BITS_UNKNOWN_SIZE = 4


@dataclass
class Plan:
    """The shape of one shuffle run."""

    mem: int
    usable: int
    input_bytes: int
    data_bytes: int
    records: int
    bits: int
    block_size: int
    group_bytes: int
    bucket_budget: int
    temp_bytes: int
    compress: bool

    @property
    def buckets(self) -> int:
        return 1 << self.bits

    @property
    def in_memory(self) -> bool:
        return self.bits == 0

    def describe(self) -> str:
        """The plan as the lines printed before a run starts."""
        head = (f"plan: {format_size(self.input_bytes)} on disk, about {format_size(self.data_bytes)} of "
                f"records (~{self.records:,}), --mem {format_size(self.mem)} "
                f"({format_size(self.usable)} for data)")
        if self.in_memory:
            return head + "\nplan: fits in memory: one pass, no temporary files"
        split = " (more than fits: each is split again when gathered)" if \
            BYTES_FACTOR * self.data_bytes / self.buckets > self.bucket_budget else ""
        return head + (f"\nplan: {self.buckets} buckets of ~{format_size(self.data_bytes / self.buckets)}{split} "
                       f"(at most {format_size(self.bucket_budget)} in memory each), read blocks of "
                       f"{format_size(self.block_size)} written {format_size(self.group_bytes)} at a time, "
                       f"~{format_size(self.temp_bytes)} temporary space "
                       f"({'zstd level 1' if self.compress else 'uncompressed'})")

    def as_dict(self) -> dict:
        return {**self.__dict__, "buckets": self.buckets}


def current_rss() -> int:
    """This process's resident memory now, in bytes."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def make_plan(specs: list[FileSpec], mem: int, compress: bool, buckets: int | None = None,
              workers: int = 2) -> Plan:
    """A plan for shuffling ``specs`` in ``mem`` bytes with ``workers`` buckets gathered at once;
    ``buckets`` forces the bucket count."""
    in_flight = workers + 1
    usable = int(mem * HEADROOM) - current_rss()
    if usable < MIN_USABLE:
        raise CorpusError(f"--mem {format_size(mem)} leaves {format_size(max(usable, 0))} for data after "
                          f"{format_size(current_rss())} of interpreter and libraries; "
                          f"give at least {format_size((current_rss() + MIN_USABLE) / HEADROOM)}")
    input_bytes = sum(size_of(s.path) or 0 for s in specs)
    data_bytes = sum(_content_size(s) for s in specs)
    per_record = _bytes_per_record(specs)
    records = max(1, int(data_bytes / per_record))
    cost = BYTES_FACTOR * data_bytes + RECORD_COST * records
    bucket_budget = usable // in_flight
    block_size = int(min(max(usable // 24, 1 << 20), 13 << 20))
    groups = groups_of(data_bytes, GROUP_BLOCKS * block_size)
    if buckets is not None:
        bits = max(0, math.ceil(math.log2(max(buckets, 1))))
    elif one_pass_cost(data_bytes, records) <= usable * 0.75 and all(_size_is_exact(s) for s in specs):
        bits = 0
    else:
        bits = bits_for(cost, bucket_budget, groups, usable * INDEX_SHARE)
    if bits == 0 and buckets is None and not all(_size_is_exact(s) for s in specs):
        bits = DEFAULT_BITS_UNKNOWN_SIZE
    if bits > 24:
        raise CorpusError(f"--mem {format_size(mem)} is too small for {format_size(data_bytes)}: it would "
                          "need more than 16M buckets; give more memory")
    if bits:
        bucket_budget = max(usable - (PIECE_COST * groups << bits), usable // 2) // in_flight
    temp = int(data_bytes * (TEMP_RATIO_COMPRESSED if compress else 1.0) + 8 * records) if bits else 0
    return Plan(mem, usable, input_bytes, data_bytes, records, bits, block_size, GROUP_BLOCKS * block_size,
                bucket_budget, temp, compress)


def groups_of(data_bytes: int, group_bytes: int) -> int:
    """Groups of read blocks a scatter of ``data_bytes`` writes: each leaves one piece per bucket."""
    return max(1, math.ceil(data_bytes / group_bytes))


def bits_for(cost: float, budget: int, groups: int, index_room: float) -> int:
    """Key bits that cut ``cost`` into buckets within ``budget``, at most as many as keep the
    index of ``groups`` x buckets pieces within ``index_room`` (at least one bit)."""
    bits = max(1, math.ceil(math.log2(cost / (budget * 0.7))))
    return min(bits, max(1, int(math.log2(index_room / (PIECE_COST * groups)))))


def one_pass_cost(data_bytes: int, records: int) -> int:
    """Bytes a shuffle in one pass holds at its peak (see the module docstring)."""
    return int(ONE_PASS_FACTOR * data_bytes + RECORD_COST * records)


def check_space(plan: Plan, tmp_dir: str, output_dir: str) -> None:
    """Stops before any work when the temp or output disk cannot hold the run."""
    need = {}
    for folder, n in ((tmp_dir, plan.temp_bytes), (output_dir, plan.data_bytes)):
        device = os.stat(folder).st_dev
        need.setdefault(device, [folder, 0])[1] += n
    for folder, n in need.values():
        free = shutil.disk_usage(folder).free
        if n > free:
            raise CorpusError(f"not enough disk space in {folder}: this shuffle needs about {format_size(n)} "
                              f"(temporary buckets and output), {format_size(free)} is free; use --tmp on "
                              "another disk, or compress temporary buckets")


def _size_is_exact(spec: FileSpec) -> bool:
    """Only a plain file's size is known before reading: streams and compressed files may be larger."""
    return spec.compression is None and not spec.is_stdio


def _content_size(spec: FileSpec) -> int:
    size = size_of(spec.path) or 0
    if spec.compression == "zst":
        try:
            with open(spec.path, "rb") as f:
                declared = zstandard.frame_content_size(f.read(18))
            if declared > 0:
                return max(declared, size)
        except (OSError, zstandard.ZstdError):
            pass
        return size * 4
    if spec.compression == "gz" and size >= 18:
        with open(spec.path, "rb") as f:
            f.seek(-4, os.SEEK_END)
            trailer = struct.unpack("<I", f.read(4))[0]
        return max(trailer, size * 3 if size > 1 << 32 else trailer)
    return size


def _bytes_per_record(specs: list[FileSpec]) -> float:
    """Average record size in the first MB of the first readable input (100 if unknown)."""
    for spec in specs:
        if spec.is_stdio or not size_of(spec.path):
            continue
        raw = open_raw(spec)
        stream = decompressing(raw, spec)
        try:
            block = next(iter_blocks(stream, 1 << 20), None)
        except (CorpusError, gzip.BadGzipFile, OSError):
            block = None
        finally:
            stream.close()
        if block is not None and len(block):
            return max(len(block) / max(count_lines(block), 1), 1.0)
    return 100.0
