#!/usr/bin/env bash
# Prefix tries of the shipped fortunes: built from lines, from a template over JSONL fields and
# from token ids, then queried from the command line and from Python. Run from anywhere after `pip install .`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=examples/out/trie
mkdir -p "$out"

# 1. One sequence per line, one token per character; what may follow a prefix, and a few completions.
corpuskit trie build examples/data/fortunes-zh.txt -o "$out/zh.trie" --tokenizer char --force
corpuskit trie query "$out/zh.trie" "《梦" "《静夜" --complete 2

# 2. A knowledge-base-like key per record: source|lang|text, with the record's id as payload.
corpuskit trie build examples/data/fortunes.jsonl --template '{source}|{lang}|{text}' --payload id \
    -o "$out/kb.trie" --force -q
corpuskit trie query "$out/kb.trie" "tang300|zh|《" --json | head -c 300; echo

# 3. Token ids (what a model generates), from a vocabulary made by `corpuskit vocab`.
corpuskit tokenize examples/data/fortunes-zh.txt -o "$out/zh.chars.txt" --tokenizer char --force -q
corpuskit vocab "$out/zh.chars.txt" -o "$out/vocab.txt" --force -q
corpuskit tokenize examples/data/fortunes-zh.txt -o "$out/zh.ids.txt" --tokenizer char \
    --vocab "$out/vocab.txt" --force -q
corpuskit trie build "$out/zh.ids.txt" -o "$out/ids.trie" --tokenizer ids --eos 1 --force -q
corpuskit trie stats "$out/ids.trie"

# 4. From Python: steps, a batch of states, a mask, and a per-request restriction.
python - <<'PY'
from corpuskit.trie import Trie

trie = Trie.open("examples/out/trie/zh.trie")
state = trie.walk(trie.encode("《梦"))
print("after 《梦:", trie.decode(trie.allowed(state)), trie.count(state), "sequences")
states = trie.step_batch([state, state, trie.root], trie.encode("李游《"))
print("step_batch:", states.tolist(), "mask row sums:", trie.mask(states).sum(axis=1).tolist())
only = trie.restrict([trie.leaf_range(state)[0]])
print("restricted to one sequence:", trie.decode(only.allowed(state)))
PY
