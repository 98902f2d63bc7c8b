#!/usr/bin/env bash
# Shuffle the shipped fortunes with corpuskit: in memory, through temporary buckets, sharded,
# verified, and a parallel corpus that stays aligned. Run from anywhere after `pip install .`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=examples/out/shuffle
mkdir -p "$out"

# 1. One file, seed given: the same seed always gives the same bytes.
corpuskit shuffle examples/data/fortunes.jsonl "$out/fortunes.jsonl" --mem 256M --seed 7 --force

# 2. Both text files as one global shuffle into 4 zstd shards, forced through temporary
#    buckets by a tiny --mem budget of the Python API, then proven complete.
python - <<'PY'
from corpuskit import shuffle
result = shuffle(["examples/data/fortunes-en.txt", "examples/data/fortunes-zh.txt"],
                 "examples/out/shuffle/shards/", mem="256M", seed=7, buckets=16, shards=4,
                 compress="zst", force=True, verify=True)
print(result.summary())
print("plan:", result.plan.buckets, "buckets;", [o["records"] for o in result.outputs], "records per shard")
PY
corpuskit verify examples/data/fortunes-en.txt examples/data/fortunes-zh.txt -- "$out/shards/"

# 3. A parallel corpus: line i of fortunes-en.txt and of its line numbers stay together.
awk '{print NR}' examples/data/fortunes-en.txt > "$out/ids.txt"
corpuskit shuffle examples/data/fortunes-en.txt "$out/en.txt" --seed 11 --force -q
corpuskit shuffle "$out/ids.txt" "$out/ids-shuffled.txt" --seed 11 --force -q
paste -d '\t' "$out/ids-shuffled.txt" "$out/en.txt" > "$out/aligned.tsv"
head -3 "$out/aligned.tsv"
