"""Stages and pipelines: batches flow from a reader through stages into a writer.

A stage is any callable that takes an iterator of record batches and returns an
iterator of record batches; a plain generator function is one. Built-in stages
also take a keyword ``ctx`` (their counters, rank and world size). ``a | b``
composes; iterating a pipeline yields records; ``run()`` drains it into its writer.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pyarrow as pa

from corpuskit.version import __version__
from corpuskit.progress import bar
from corpuskit.records import to_records, untagged
from corpuskit.stats import Counters, RunStats
from corpuskit.threads import closing, prefetch

if TYPE_CHECKING:
    from corpuskit.io.reader import Source
    from corpuskit.io.writer import Writer

BatchFn = Callable[..., Iterator[pa.RecordBatch]]


@dataclass
class Context:
    """What a stage may know about the run it is part of; never globals."""

    counters: Counters
    rank: int = 0
    world_size: int = 1


class Stage:
    """A named step over batches that keeps its own counters."""

    def __init__(self, fn: BatchFn, name: str | None = None, settings: dict | None = None) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", type(fn).__name__)
        self.settings = settings or {}
        try:
            self._takes_ctx = "ctx" in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            self._takes_ctx = False

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings.items())
        return f"{self.name}({args})"

    def apply(self, batches: Iterator[pa.RecordBatch], ctx: Context) -> Iterator[pa.RecordBatch]:
        """The stage's output over ``batches``, counting records and its own seconds."""
        counters = ctx.counters
        upstream_seconds = 0.0

        def inputs() -> Iterator[pa.RecordBatch]:
            nonlocal upstream_seconds
            source = iter(batches)
            while True:
                start = time.perf_counter()
                batch = next(source, None)
                upstream_seconds += time.perf_counter() - start
                if batch is None:
                    return
                counters.records_in += batch.num_rows
                yield batch

        output = iter(self.fn(inputs(), ctx=ctx) if self._takes_ctx else self.fn(inputs()))
        while True:
            start, before = time.perf_counter(), upstream_seconds
            batch = next(output, None)
            counters.seconds += time.perf_counter() - start - (upstream_seconds - before)
            if batch is None:
                return
            counters.records_out += batch.num_rows
            yield batch

    def total_records(self) -> int | None:
        """How many records the stage will yield, once it knows (a shuffle does); else None."""
        return None


def as_stage(step: Any) -> Stage:
    if isinstance(step, Stage):
        return step
    if callable(step):
        return Stage(step)
    raise TypeError(f"a pipeline stage must be a Stage or a callable over batches, not {type(step).__name__}")


class Pipeline:
    """A reader, stages and perhaps a writer; build with ``read(...) | stage | write(...)``."""

    def __init__(self, source: "Source", stages: tuple[Stage, ...] = (), sink: "Writer | None" = None) -> None:
        self.source = source
        self.stages = stages
        self.sink = sink

    def __or__(self, step: Any) -> "Pipeline":
        from corpuskit.io.writer import Writer

        if self.sink is not None:
            raise TypeError("this pipeline already ends in a writer")
        if isinstance(step, Writer):
            return Pipeline(self.source, self.stages, step)
        return Pipeline(self.source, self.stages + (as_stage(step),))

    def __repr__(self) -> str:
        parts = [f"read({self.source.paths!r})"] + [repr(s) for s in self.stages]
        if self.sink is not None:
            parts.append(f"write({self.sink.path!r})")
        return " | ".join(parts)

    def batches(self, progress: bool | None = False) -> Iterator[pa.RecordBatch]:
        """The record batches at the end of the stages (the writer, if any, is not run)."""
        with bar(progress, self.source.total_bytes(), "read") as pbar:
            streams, _ = self._open(pbar.update)
            with closing(*streams):
                yield from streams[-1]

    def __iter__(self) -> Iterator[dict]:
        for batch in self.batches():
            yield from to_records(untagged(batch))

    def run(self, progress: bool | None = None, command: str | None = None) -> RunStats:
        """Drains the pipeline into its writer (or just counts); returns what happened.

        ``command`` is recorded in the run manifest (the CLI passes its argv).
        """
        started = time.perf_counter()
        if not self.stages and self.sink is not None and \
                self.sink.copies_lines({s.format for s in self.source.specs}):
            return self._copy(progress, command, started)
        with bar(progress, self.source.total_bytes(), "read") as pbar:
            streams, counters = self._open(pbar.update)
            stream = _with_postfix(streams[-1], pbar)
            with closing(*streams, stream):
                if self.sink is None:
                    outputs = [{"path": None, "records": sum(b.num_rows for b in stream), "bytes": 0}]
                else:
                    formats = {s.format for s in self.source.specs}
                    outputs = self.sink.consume(
                        stream, self.source.paths, formats.pop() if len(formats) == 1 else None,
                        lambda outs: self._manifest(outs, counters, command, started),
                        self._announced_total)
        return RunStats(sum(o["records"] for o in outputs), sum(o["bytes"] for o in outputs),
                        time.perf_counter() - started, counters, outputs,
                        self.sink.manifest_path if self.sink is not None else None)

    def _copy(self, progress: bool | None, command: str | None, started: float) -> RunStats:
        """Text files to one text file: bytes copied as they are, lines counted on the way."""
        counters = [Counters("read")]
        with bar(progress, self.source.total_bytes(), "read") as pbar:
            chunks = self.source.text_chunks(counters[0], pbar.update)
            outputs = self.sink.copy_lines(chunks, self.source.paths,
                                           lambda outs: self._manifest(outs, counters, command, started))
        return RunStats(outputs[0]["records"], outputs[0]["bytes"], time.perf_counter() - started, counters,
                        outputs, self.sink.manifest_path)

    def _open(self, on_bytes: Callable[[int], None]) -> tuple[list[Iterator[pa.RecordBatch]], list[Counters]]:
        """The source's batches and each stage's, the last one the pipeline's output."""
        read_counters = Counters("read")
        source = self.source
        if self._passes_lines_through():
            source = dataclasses.replace(source, terminated=True)
        streams = [prefetch(source.batches(read_counters, on_bytes))]
        counters = [read_counters]
        for stage in self.stages:
            ctx = Context(Counters(stage.name))
            counters.append(ctx.counters)
            streams.append(stage.apply(streams[-1], ctx))
        return streams, counters

    def _passes_lines_through(self) -> bool:
        """Text lines straight to a text writer need no split and no re-join."""
        return (not self.stages and self.sink is not None
                and all(s.format == "text" for s in self.source.specs)
                and self.sink.output_format("text") == "text")

    def _announced_total(self) -> int | None:
        return self.stages[-1].total_records() if self.stages else None

    def _manifest(self, outputs: list[dict], counters: list[Counters], command: str | None,
                  started: float) -> dict:
        return {
            "corpuskit": __version__,
            "command": command or repr(self),
            "python": sys.version.split()[0],
            "inputs": self.source.describe(),
            "stages": [{"name": s.name, **s.settings} for s in self.stages],
            "counters": [c.as_dict() for c in counters],
            "outputs": outputs,
            "seconds": round(time.perf_counter() - started, 3),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }


def _with_postfix(stream: Iterator[pa.RecordBatch], pbar) -> Iterator[pa.RecordBatch]:
    records = 0
    for batch in stream:
        records += batch.num_rows
        if not pbar.disable:
            pbar.set_postfix_str(f"{records:,} records", refresh=False)
        yield batch
