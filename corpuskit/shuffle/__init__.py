"""External-memory global shuffle: an exact uniform permutation within a memory bound.

``shuffle(inputs, output, mem="4G", seed=7)`` shuffles files; ``shuffle(mem=..., seed=...)``
without inputs is a pipeline stage. Every record gets a 64-bit key hashed from
(seed, its position in the input); records are scattered to buckets by key range,
each bucket is sorted by key in memory, and buckets are written in order. The
output depends on the inputs and the seed alone.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from corpuskit import seeds
from corpuskit.errors import CorpusError
from corpuskit.io.atomic import check_folder, refuse_existing
from corpuskit.io.paths import common_format, detect, expand, format_from_name
from corpuskit.io.reader import Source
from corpuskit.io.writer import Writer, write
from corpuskit.memory import bound_allocations
from corpuskit.pipeline import Pipeline
from corpuskit.shuffle.files import LineShuffle, default_tmp
from corpuskit.shuffle.plan import Plan, check_space, make_plan
from corpuskit.shuffle.stage import ShuffleStage
from corpuskit.shuffle.verify import Fingerprint, fingerprint
from corpuskit.units import parse_size
from corpuskit.version import __version__

__all__ = ["Fingerprint", "Plan", "ShuffleResult", "ShuffleStage", "fingerprint", "shuffle"]


@dataclass
class ShuffleResult:
    """What a file shuffle did: the seed to repeat it, the plan, records, outputs, verification."""

    seed: int
    records: int
    bytes: int
    seconds: float
    plan: Plan | None
    outputs: list[dict]
    verified: dict | None = None
    manifest: str | None = None

    def summary(self) -> str:
        rate = self.bytes / self.seconds / 1e6 if self.seconds else 0.0
        text = (f"shuffled {self.records:,} records, {self.bytes:,} bytes in {self.seconds:.2f}s "
                f"({rate:.1f} MB/s), seed {self.seed}")
        if self.verified is not None:
            text += ("\nverify: OK, the output holds exactly the input's records" if self.verified["match"]
                     else f"\nverify: MISMATCH input {self.verified['input']} output {self.verified['output']}")
        return text


def shuffle(inputs: str | os.PathLike | Iterable[str | os.PathLike] | None = None,
            output: str | os.PathLike | None = None, *, mem: str | int = "1G", seed: int | None = None,
            tmp: str | None = None, buckets: int | None = None, compress_temp: bool = False,
            format: str | None = None, in_format: str | None = None, field: str | None = None,
            shards: int | None = None, shard_size: str | int | None = None, compress: str | None = None,
            level: int | None = None, threads: int = 0, force: bool = False, verify: bool = False,
            resume: bool = False, workers: int = 2, progress: bool | None = None,
            log: Callable[[str], None] | None = None, command: str | None = None) -> "ShuffleResult | ShuffleStage":
    """Shuffle ``inputs`` into ``output`` (or, with neither, return a pipeline stage).

    ``mem`` bounds the memory of the whole run; ``seed`` makes it repeatable (one is
    drawn and reported when not given); ``buckets`` forces a bucket count (for tests);
    ``workers`` buckets are sorted at once, each given a share of ``mem``.
    Text and JSONL files shuffle as bytes, line by line; mixing in Parquet, or
    converting formats, goes through Arrow records. Outputs are written like
    :func:`write` (one file, ``-``, or shards); temporary buckets go under ``tmp``.
    """
    memory = parse_size(mem)
    if memory < 64 << 20:
        raise CorpusError(f"--mem {mem} is too small; give at least 64M (256M or more is sensible)")
    if workers < 1:
        raise CorpusError(f"workers must be at least 1, not {workers}")
    seed = seeds.draw() if seed is None else seed
    bound_allocations()
    if inputs is None and output is None:
        return ShuffleStage(memory, seed, tmp, buckets, compress_temp)
    if inputs is None or output is None:
        raise CorpusError("shuffle needs both inputs and an output (or neither, for a pipeline stage)")
    say = log or (lambda text: None)
    started = time.perf_counter()
    writer = write(output, format=format, shards=shards, shard_size=shard_size, compress=compress,
                   level=level, threads=threads, force=force, field=field)
    specs = [detect(p, in_format) for p in expand(inputs)]
    _check_output(writer, [s.path for s in specs])
    out_format = writer.format or (None if writer.path == "-" else format_from_name(writer.path)) or \
        common_format(specs)
    tmp = tmp or default_tmp()
    if not os.path.isdir(tmp):
        raise CorpusError(f"--tmp {tmp}: no such folder")
    say(f"seed: {seed}")
    if all(s.format == out_format and s.format in ("text", "jsonl") for s in specs):
        plan = make_plan(specs, memory, compress_temp, buckets, workers)
        check_space(plan, tmp, _output_folder(writer))
        say(plan.describe())
        run = LineShuffle(specs, plan, seed, tmp, workers=workers, resume=resume, verify=verify,
                          progress=progress, log=say)
        describe = _describer(specs, run, writer, command, started)
        outputs = run.run(writer, describe)
        return ShuffleResult(seed, run.records, sum(o["bytes"] for o in outputs),
                             time.perf_counter() - started, plan, outputs,
                             run.verification(), writer.manifest_path)
    say("plan: formats differ or include Parquet: shuffling Arrow records "
        f"({'in memory' if buckets is None else f'{buckets} buckets'} until --mem is reached, then on disk)")
    stage = ShuffleStage(memory, seed, tmp, buckets, compress_temp)
    pipe = Pipeline(Source(specs, field=field)) | stage | writer
    stats = pipe.run(progress=progress, command=command)
    verified = None
    if verify:
        got_in = fingerprint([s.path for s in specs], records=True)
        got_out = fingerprint(writer.path, records=True)
        verified = {"input": got_in.as_dict(), "output": got_out.as_dict(), "match": got_in == got_out}
    return ShuffleResult(seed, stats.records, stats.bytes, stats.seconds, None, stats.outputs, verified,
                         stats.manifest)


def _check_output(writer: Writer, inputs: list[str]) -> None:
    if writer.path == "-":
        return
    target = writer.path.rstrip("/" + os.sep) or writer.path
    refuse_existing(target, writer.force)
    check_folder(target)
    writer.refuse_inputs(inputs)


def _output_folder(writer: Writer) -> str:
    if writer.path == "-":
        return os.getcwd()
    return os.path.dirname(os.path.abspath(writer.path.rstrip("/" + os.sep))) or "."


def _describer(specs: list, run: LineShuffle, writer: Writer, command: str | None,
               started: float) -> Callable[[list[dict]], dict]:
    def describe(outputs: list[dict]) -> dict:
        return {
            "corpuskit": __version__,
            "command": command or f"shuffle({[s.path for s in specs]!r}, {writer.path!r}, seed={run.seed})",
            "python": sys.version.split()[0],
            "inputs": Source(specs).describe(),
            "seed": run.seed,
            "plan": run.plan.as_dict(),
            "records": run.records,
            "verify": run.verification(),
            "outputs": outputs,
            "seconds": round(time.perf_counter() - started, 3),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    return describe

