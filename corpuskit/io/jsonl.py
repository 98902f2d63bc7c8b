"""JSON Lines: parse blocks of lines with Arrow, locate bad lines exactly, encode records."""

from __future__ import annotations

import base64
import datetime
import decimal
import json
from typing import Any, Callable

import pyarrow as pa
import pyarrow.json as pj

from corpuskit.errors import InputError
from corpuskit.records import origin


def parse_block(block, path: str, first_line: int,
                on_bad: Callable[[InputError], None]) -> pa.Table | None:
    """Records of a block of JSON lines; blank lines hold no record.

    Arrow parses the block in one call. When it refuses, each line is checked with
    ``json.loads`` to name the bad one; ``on_bad`` raises or lets it be skipped.
    """
    if len(block) and block[-1] != 10:
        block = bytes(block) + b"\n"
    try:
        return _arrow_parse(block)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        arrow_error = exc
    lines = bytes(block).split(b"\n")[:-1]
    good = []
    for i, line in enumerate(lines):
        problem = _problem(line)
        if problem is None:
            good.append(line)
        else:
            on_bad(InputError(problem, path, first_line + i, line))
    if len(good) == len(lines):
        raise InputError(f"records in lines {first_line}-{first_line + len(lines) - 1} do not fit one "
                         f"table ({arrow_error})", path, first_line)
    if not any(line.strip() for line in good):
        return None
    return _arrow_parse(b"\n".join(good) + b"\n")


def _problem(line: bytes) -> str | None:
    if not line.strip():
        return None
    try:
        value = json.loads(line)
    except UnicodeDecodeError:
        return "not valid UTF-8"
    except ValueError as exc:
        return f"malformed JSON ({exc.args[0].split(':')[0]})"
    if not isinstance(value, dict):
        return f"a JSON {type(value).__name__}, not an object"
    return None


def _arrow_parse(block) -> pa.Table:
    options = pj.ReadOptions(block_size=max(len(block) + 1, 1 << 20), use_threads=True)
    table = pj.read_json(pa.BufferReader(pa.py_buffer(block)), read_options=options)
    if _has_timestamp(table.schema):
        # Arrow turns ISO date strings into timestamps; keep them as the strings they were.
        schema = pa.schema([f.with_type(_no_timestamps(f.type)) for f in table.schema])
        parse = pj.ParseOptions(explicit_schema=schema)
        table = pj.read_json(pa.BufferReader(pa.py_buffer(block)), read_options=options,
                             parse_options=parse)
    return table


def _has_timestamp(schema: pa.Schema) -> bool:
    return any(_no_timestamps(f.type) != f.type for f in schema)


def _no_timestamps(t: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(t):
        return pa.string()
    if pa.types.is_struct(t):
        return pa.struct([t.field(i).with_type(_no_timestamps(t.field(i).type)) for i in range(t.num_fields)])
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(_no_timestamps(t.value_type)))
    return t


def encode(batch: pa.RecordBatch) -> bytes:
    """The batch as JSON lines, one per record; bytes values must be UTF-8 text."""
    out = []
    for i, record in enumerate(batch.to_pylist()):
        try:
            out.append(json.dumps(record, ensure_ascii=False, default=_json_default))
        except UnicodeDecodeError:
            source, line = origin(batch)
            raise InputError("not valid UTF-8, and JSON output holds text only", source,
                             None if line is None else line + i) from None
    out.append("")
    return "\n".join(out).encode("utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return base64.b64encode(value).decode() if isinstance(value, (bytearray, memoryview)) else str(value)
