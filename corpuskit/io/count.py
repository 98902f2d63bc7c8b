"""Count records and bytes per file, without building what a count does not need."""

from __future__ import annotations

import os
from typing import Iterable

from corpuskit.errors import OnError
from corpuskit.io.lines import count_lines, iter_blocks
from corpuskit.io.paths import FileSpec, detect, expand, size_of
from corpuskit.io.reader import Source
from corpuskit.io.streams import decompressing, open_raw
from corpuskit.stats import Counters


def count(paths: str | os.PathLike | Iterable[str | os.PathLike], format: str | None = None,
          field: str | None = None, compression: str | None = None,
          on_error: OnError = "raise") -> list[dict]:
    """Records and bytes of each file (text lines are counted without splitting them)."""
    results = []
    for path in expand(paths):
        spec = detect(path, format, compression)
        counters = Counters("count")
        if spec.format == "text":
            records = count_lines_in_file(spec)
        else:
            source = Source([spec], field=field, on_error=on_error)
            records = sum(b.num_rows for b in source.batches(counters))
        results.append({"path": path, "format": spec.format, "compression": spec.compression,
                        "records": records, "bytes": size_of(path), "dropped": counters.dropped})
    return results


def count_lines_in_file(spec: FileSpec) -> int:
    """Lines of one text file (a last line without ``\\n`` counts)."""
    raw = open_raw(spec)
    stream = decompressing(raw, spec)
    try:
        return sum(count_lines(block) for block in iter_blocks(stream))
    finally:
        if not spec.is_stdio:
            stream.close()
