#!/usr/bin/env bash
# The corpuskit command line on the shipped example data.
#
#   pip install .
#   bash examples/cat_and_count.sh
#
# Converts the JSONL to Parquet, the Parquet to zstd-compressed JSONL shards and the
# two text files to zstd text shards, then counts everything. Outputs go under
# examples/out/; --force lets the script run again over them.
set -euo pipefail
cd "$(dirname "$0")/.."
out=examples/out
mkdir -p "$out"

# 1. JSONL -> Parquet (formats from the file names).
corpuskit cat examples/data/fortunes.jsonl -o "$out/fortunes.parquet" --force

# 2. Parquet -> 4 JSONL shards of equal record count, zstd-compressed.
corpuskit cat "$out/fortunes.parquet" -o "$out/fortunes-jsonl/" --format jsonl --shards 4 --compress zst --force

# 3. Both text files, one after the other -> text shards of about 200 KiB each (uncompressed;
#    a part ends with the record that reaches the size).
corpuskit cat examples/data/fortunes-en.txt examples/data/fortunes-zh.txt \
    -o "$out/fortunes-text/" --shard-size 200k --compress zst --force

# 4. Count records and bytes (on disk) per file and in total; a folder means its data files.
corpuskit count "$out/fortunes.parquet" "$out/fortunes-jsonl" "$out/fortunes-text"

# The same numbers as JSON lines, for scripts.
corpuskit count "$out/fortunes-jsonl" --json
