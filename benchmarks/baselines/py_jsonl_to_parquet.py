"""Baseline: JSONL.zst to Parquet as a user would hand-write it.

Streams the .zst with zstandard, ``json.loads`` each line, and writes Parquet with
pyarrow in batches of 64k records (zstd codec, pyarrow's default level, like
``corpuskit cat``'s default output).

    python py_jsonl_to_parquet.py INPUT.jsonl.zst OUTPUT.parquet
"""

import io
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

BATCH = 65536


def main(src: str, dst: str) -> None:
    writer = None
    records = []

    def flush() -> None:
        nonlocal writer, records
        table = pa.Table.from_pylist(records)
        if writer is None:
            writer = pq.ParquetWriter(dst, table.schema, compression="zstd")
        writer.write_table(table)
        records = []

    with open(src, "rb") as raw:
        stream = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw), buffer_size=1 << 20)
        for line in stream:
            if line.strip():
                records.append(json.loads(line))
                if len(records) == BATCH:
                    flush()
    if records or writer is None:
        flush()
    writer.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
