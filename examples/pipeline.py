"""The Python API on the shipped example: read | filter | map | map_batches | write, then run().

    pip install .
    python examples/pipeline.py

Keeps the English fortunes of at least 40 characters, adds the number of words
to each record, tags the attribution-bearing ones in one vectorized pass, and
writes two zstd-compressed JSONL shards under examples/out/pipeline/.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from corpuskit import filter, map, map_batches, read, write

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "fortunes.jsonl"
OUT = HERE / "out" / "pipeline"


def long_english(record: dict) -> bool:
    """Per record, in Python: fine for small logic; see map_batches for hot paths."""
    return record["lang"] == "en" and len(record["text"]) >= 40


def with_word_count(record: dict) -> dict:
    return {**record, "words": len(record["text"].split())}


def mark_quotes(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Per batch, with Arrow compute: a boolean column, true when the text names its author."""
    quoted = pc.match_substring(batch.column("text"), " -- ")
    return batch.append_column("attributed", quoted)


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    pipeline = (read(DATA)
                | filter(long_english)
                | map(with_word_count)
                | map_batches(mark_quotes)
                | write(OUT, shards=2, compress="zst", force=True))
    print(pipeline)
    stats = pipeline.run(progress=False)
    print(stats.summary())
    for output in stats.outputs:
        print(f"  {output['path']}: {output['records']} records, {output['bytes']} bytes")
    manifest = json.loads(Path(stats.manifest).read_text(encoding="utf-8"))
    print("manifest:", stats.manifest, "stages:", [s["name"] for s in manifest["stages"]])

    # Iterating a pipeline without a writer yields records (dicts), e.g. to peek:
    first = next(iter(read(OUT) | filter(lambda r: r["attributed"])))
    print("first attributed record:", first)


if __name__ == "__main__":
    main()
