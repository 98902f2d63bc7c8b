"""The general-purpose stages: per-record ``map`` and ``filter``, per-batch ``map_batches``."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pyarrow as pa

from corpuskit.errors import CorpusError, InputError, OnError, check_policy, handle
from corpuskit.pipeline import Context, Stage
from corpuskit.records import from_records, origin, tag, to_records, without_line

Record = dict[str, Any]


def map(fn: Callable[[Record], Record | None], on_error: OnError = "raise", name: str | None = None) -> Stage:
    """Applies ``fn`` to every record (a dict); returning None drops the record.

    Use for logic that needs Python per record; prefer :func:`map_batches` on hot paths.
    """
    policy = check_policy(on_error)

    def map_records(batches: Iterator[pa.RecordBatch], ctx: Context) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            out = []
            for i, record in enumerate(to_records(batch)):
                result = _call(fn, record, batch, i, policy, ctx)
                if result is _FAILED:
                    continue
                if result is None:
                    ctx.counters.drop("none")
                else:
                    out.append(result)
            if out:
                yield _keep_origin(from_records(out, batch.schema), batch)

    return Stage(map_records, name or f"map:{_name(fn)}", {"on_error": _policy_name(policy)})


def filter(predicate: Callable[[Record], bool], on_error: OnError = "raise", name: str | None = None) -> Stage:
    """Keeps the records for which ``predicate(record)`` is true; the rest count as ``filtered``."""
    policy = check_policy(on_error)

    def filter_records(batches: Iterator[pa.RecordBatch], ctx: Context) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            keep, failed = [], 0
            for i, record in enumerate(to_records(batch)):
                result = _call(predicate, record, batch, i, policy, ctx)
                failed += result is _FAILED
                keep.append(result is not _FAILED and bool(result))
            filtered = keep.count(False) - failed
            if filtered:
                ctx.counters.drop("filtered", filtered)
            if all(keep):
                yield batch
            elif any(keep):
                yield _keep_origin(batch.filter(pa.array(keep)), batch)

    return Stage(filter_records, name or f"filter:{_name(predicate)}", {"on_error": _policy_name(policy)})


def map_batches(fn: Callable[[pa.RecordBatch], pa.RecordBatch | pa.Table | None],
                on_error: OnError = "raise", name: str | None = None) -> Stage:
    """Applies ``fn`` to every Arrow record batch: the fast way to transform many records."""
    policy = check_policy(on_error)

    def map_each_batch(batches: Iterator[pa.RecordBatch], ctx: Context) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            try:
                result = fn(batch)
            except CorpusError as exc:
                handle(policy, exc)
                ctx.counters.drop("error", batch.num_rows)
                continue
            except Exception as exc:
                source, line = origin(batch)
                handle(policy, InputError(f"{_name(fn)} failed on a batch ({type(exc).__name__}: {exc})",
                                          source, line))
                ctx.counters.drop("error", batch.num_rows)
                continue
            if result is None:
                continue
            if isinstance(result, pa.Table):
                yield from (_keep_origin(b, batch) for b in result.to_batches())
            elif isinstance(result, pa.RecordBatch):
                yield _keep_origin(result, batch)
            else:
                raise CorpusError(f"{_name(fn)} returned {type(result).__name__}, not a RecordBatch or Table")

    return Stage(map_each_batch, name or f"map_batches:{_name(fn)}", {"on_error": _policy_name(policy)})


_FAILED = object()


def _call(fn: Callable, record: Record, batch: pa.RecordBatch, index: int, policy: OnError,
          ctx: Context) -> Any:
    try:
        return fn(record)
    except Exception as exc:
        source, line = origin(batch)
        error = exc if isinstance(exc, CorpusError) else InputError(
            f"{_name(fn)} failed ({type(exc).__name__}: {exc})", source,
            None if line is None else line + index)
        handle(policy, error)
        ctx.counters.drop("error")
        return _FAILED


def _keep_origin(new: pa.RecordBatch, old: pa.RecordBatch) -> pa.RecordBatch:
    """``new`` tagged with ``old``'s file, and with its first line while no record was dropped."""
    source, line = origin(old)
    if new.num_rows != old.num_rows:
        return tag(without_line(new), source=source)
    return tag(new, source=source, line=line)


def _name(fn: Callable) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def _policy_name(policy: OnError) -> str:
    return policy if isinstance(policy, str) else _name(policy)

