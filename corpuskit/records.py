"""What flows between stages: Arrow record batches, and which column holds the text.

A text-lines batch has one ``large_binary`` column (``text`` unless named) holding
each line's bytes without its newline. JSONL and Parquet batches keep every field.
A batch may carry, in its schema metadata, the field that holds its text and where
its first record came from (file and line), so later errors can point at the input.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpuskit.errors import InputError

TEXT = "text"
_FIELD = b"corpuskit.field"
_SOURCE = b"corpuskit.source"
_LINE = b"corpuskit.line"
_TERMINATED = b"corpuskit.terminated"
_TOKENS = b"corpuskit.tokens"
_SEP = b"corpuskit.sep"


def lines_batch(lines: pa.Array, field: str = TEXT, source: str | None = None,
                line: int | None = None) -> pa.RecordBatch:
    """A text-lines batch holding ``lines``."""
    batch = pa.RecordBatch.from_arrays([lines], names=[field])
    return tag(batch, field=field, source=source, line=line)


def terminated_batch(lines: pa.Array, field: str = TEXT) -> pa.RecordBatch:
    """A text-lines batch whose values still end with ``\\n``: the bytes a writer stores as is.

    The shuffle hands these to writers to skip a split and a re-join; anything that
    reads the text (``text_values``, ``to_records``) sees the lines without ``\\n``.
    """
    batch = pa.RecordBatch.from_arrays([lines], names=[field])
    return batch.replace_schema_metadata({_FIELD: field.encode(), _TERMINATED: b"1"})


def value_offsets(values: pa.Array) -> np.ndarray:
    """Where each value of a (large) binary array starts in its data buffer, then where the last ends."""
    return np.frombuffer(values.buffers()[1], dtype=np.int64, count=len(values) + 1, offset=values.offset * 8)


def terminated_bytes(values: pa.Array) -> pa.Buffer:
    """The bytes of lines that still end with ``\\n``, one after another: what a text file holds."""
    offsets = value_offsets(values)
    start, end = int(offsets[0]), int(offsets[-1])
    data = values.buffers()[2]
    return data.slice(start, end - start) if data is not None else pa.py_buffer(b"")


def is_terminated(batch: pa.RecordBatch) -> bool:
    return (batch.schema.metadata or {}).get(_TERMINATED) == b"1"


def unterminated(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with its lines' trailing ``\\n`` removed, as every stage but a writer wants them."""
    if not is_terminated(batch):
        return batch
    meta = {k: v for k, v in batch.schema.metadata.items() if k != _TERMINATED}
    name = batch.schema.names[0]
    return pa.RecordBatch.from_arrays([text_values(batch)], names=[name]).replace_schema_metadata(meta)


def with_tokens(batch: pa.RecordBatch, column: str, sep: str) -> pa.RecordBatch:
    """``batch`` marked as carrying tokens in ``column``: a text writer joins them with ``sep``."""
    meta = dict(batch.schema.metadata or {})
    meta[_TOKENS] = column.encode()
    meta[_SEP] = sep.encode()
    return batch.replace_schema_metadata(meta)


def tokens_column(batch: pa.RecordBatch) -> tuple[str, str] | None:
    """The column holding the batch's tokens and their separator, if a tokenize stage made them."""
    meta = batch.schema.metadata or {}
    column = meta.get(_TOKENS)
    if column is None or column.decode() not in batch.schema.names:
        return None
    return column.decode(), meta.get(_SEP, b" ").decode()


def line_values(batch: pa.RecordBatch, field: str | None = None) -> pa.Array:
    """What a text writer stores per record: the tokens joined by their separator, else the text."""
    tokens = tokens_column(batch)
    if tokens is None or field not in (None, tokens[0]):
        return text_values(batch, field)
    column, sep = tokens
    lists = batch.column(column)
    if not pa.types.is_string(lists.type.value_type) and not pa.types.is_large_string(lists.type.value_type):
        lists = lists.cast(pa.list_(pa.string()))
    return pc.binary_join(lists, sep).cast(pa.large_binary())


def tag(batch: pa.RecordBatch, field: str | None = None, source: str | None = None,
        line: int | None = None) -> pa.RecordBatch:
    """``batch`` with its text field and origin recorded in the schema metadata."""
    meta = dict(batch.schema.metadata or {})
    for key, value in ((_FIELD, field), (_SOURCE, source), (_LINE, line)):
        if value is not None:
            meta[key] = str(value).encode()
    return batch.replace_schema_metadata(meta)


def untagged(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` without corpuskit's metadata, as writers store it."""
    if not batch.schema.metadata:
        return batch
    meta = {k: v for k, v in batch.schema.metadata.items() if not k.startswith(b"corpuskit.")}
    return batch.replace_schema_metadata(meta or None)


def without_line(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` whose records no longer sit on consecutive lines: its origin keeps only the file."""
    meta = {k: v for k, v in (batch.schema.metadata or {}).items() if k != _LINE}
    return batch.replace_schema_metadata(meta or None)


def origin(batch: pa.RecordBatch) -> tuple[str | None, int | None]:
    """File and line of the batch's first record, when known."""
    meta = batch.schema.metadata or {}
    source = meta.get(_SOURCE)
    line = meta.get(_LINE)
    return (source.decode() if source else None, int(line) if line else None)


def text_field(batch: pa.RecordBatch | pa.Schema, field: str | None = None) -> str:
    """The name of the column that holds the text.

    The explicit ``field`` wins, then the one the reader recorded, then a column
    named ``text``, then the only column.
    """
    schema = batch if isinstance(batch, pa.Schema) else batch.schema
    if field is None:
        recorded = (schema.metadata or {}).get(_FIELD)
        if recorded and recorded.decode() in schema.names:
            field = recorded.decode()
        elif TEXT in schema.names:
            field = TEXT
        elif len(schema.names) == 1:
            field = schema.names[0]
        else:
            raise InputError(f"records have fields {schema.names}; say which holds the text (field=...)")
    if field not in schema.names:
        raise InputError(f"records have no field {field!r} (fields: {', '.join(schema.names)})")
    return field


def text_values(batch: pa.RecordBatch, field: str | None = None) -> pa.Array:
    """The text column as bytes (``large_binary``), without copying the data."""
    name = text_field(batch, field)
    column = batch.column(name)
    if is_terminated(batch):
        return pc.binary_slice(column, 0, -1)
    if column.null_count:
        source, line = origin(batch)
        first_null = column.is_null().index(True).as_py()
        where = line + first_null if line is not None and batch.num_rows == len(column) else None
        raise InputError(f"record {first_null + 1} of a batch has no {name!r}", source, where)
    if pa.types.is_large_binary(column.type):
        return column
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type) or pa.types.is_binary(column.type):
        return column.cast(pa.large_binary())
    raise InputError(f"field {name!r} holds {column.type}, not text")


def is_lines(batch: pa.RecordBatch | pa.Schema) -> bool:
    """True for a batch of raw text lines (one bytes column)."""
    schema = batch if isinstance(batch, pa.Schema) else batch.schema
    return len(schema) == 1 and pa.types.is_large_binary(schema.types[0])


def to_records(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """The batch's records as dicts (text lines as ``{"text": bytes}``)."""
    if is_terminated(batch):
        name = batch.schema.names[0]
        return [{name: value} for value in text_values(batch).to_pylist()]
    return batch.to_pylist()


def from_records(records: list[dict[str, Any]], like: pa.Schema | None = None) -> pa.RecordBatch:
    """A batch of ``records``, keeping ``like``'s types where they still fit."""
    if like is not None and all(r.keys() == set(like.names) for r in records):
        try:
            return pa.RecordBatch.from_pylist(records, schema=like)
        except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError, TypeError):
            pass
    if not records:
        return pa.RecordBatch.from_pylist([], schema=like or pa.schema([]))
    return pa.RecordBatch.from_pylist(records)
