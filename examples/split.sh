#!/usr/bin/env bash
# A validation set that resembles the test set, on the shipped domain-shift pair built from the
# fortunes (examples/data/make_shift.py): train is mostly English science and Linux quips, test
# mostly Chinese proverbs and Tang poems. Run from anywhere after `pip install .`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=examples/out/split
mkdir -p "$out"

# 1. Adversarial split: 500 validation draws with probability ∝ D/(1-D); the report says how far
#    train and test differ (AUC), how close the chosen validation set is, and what marks each side.
corpuskit split examples/data/shift-train.jsonl --test examples/data/shift-test.jsonl \
    -o "$out/adversarial" --valid-size 500 --field text --seed 1 --force
python - <<'PY'
import collections, json
share = lambda path: collections.Counter(json.loads(line)["source"] for line in open(path, encoding="utf-8"))
valid, test = share("examples/out/split/adversarial/valid.jsonl"), share("examples/data/shift-test.jsonl")
for source in sorted(test):
    print(f"{source:8}  test {100 * test[source] / sum(test.values()):5.1f}%   "
          f"valid {100 * valid[source] / sum(valid.values()):5.1f}%")
report = json.load(open("examples/out/split/adversarial/report.json", encoding="utf-8"))
print("marks test:", " ".join(f["ngram"] for f in report["top_features"]["test"][:8]))
print("marks train:", " ".join(f["ngram"] for f in report["top_features"]["train"][:8]))
PY

# 2. Weights only, for weighted training instead of a split.
corpuskit split examples/data/shift-train.jsonl --test examples/data/shift-test.jsonl \
    -o "$out/weights" --weights-only --field text --seed 1 --force -q
python -c "import pyarrow.parquet as pq; print(pq.read_table('$out/weights/weights.parquet').slice(0, 3).to_pylist())"

# 3. A reproducible random split by hash of the record: the same records go to valid whatever the order.
corpuskit split examples/data/shift-train.jsonl -o "$out/random" --valid-frac 0.05 --method random --force -q
wc -l "$out/random/train.jsonl" "$out/random/valid.jsonl"
