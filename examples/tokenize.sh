#!/usr/bin/env bash
# Tokenize the shipped fortunes with corpuskit: jieba over two processes, char tokens,
# a vocabulary, token ids, and the same pipeline from Python. Run from anywhere after `pip install .`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=examples/out/tokenize
mkdir -p "$out"

# 1. Chinese text with jieba (accurate mode) in 2 worker processes: space-joined tokens per line.
#    The output is byte for byte what one process (and jieba.lcut) gives.
corpuskit tokenize examples/data/fortunes-zh.txt -o "$out/zh.tok.txt" --tokenizer jieba --workers 2 --force
head -2 "$out/zh.tok.txt"

# 2. Every record of the JSONL, Chinese and English, gets a `tokens` list column; Parquet output.
corpuskit tokenize examples/data/fortunes.jsonl -o "$out/fortunes.tok.parquet" --tokenizer char --keep-ascii \
    --drop-space --force -q

# 3. A vocabulary from the tokenized text: [PAD] [UNK] first, then by count.
corpuskit vocab "$out/zh.tok.txt" -o "$out/vocab.txt" --min-count 2 --max-size 5000 --force
head -5 "$out/vocab.txt"

# 4. Token ids from that vocabulary (unknown tokens get the id of [UNK]): ready for a trie or a model.
corpuskit tokenize examples/data/fortunes-zh.txt -o "$out/zh.ids.txt" --vocab "$out/vocab.txt" --force -q
head -1 "$out/zh.ids.txt"

# 5. The same from Python, with jieba's search mode and a user dictionary.
printf '张九龄 10 nr\n桂华秋\n' > "$out/terms.txt"
python - <<'PY'
from corpuskit import read, tokenize, write

if __name__ == "__main__":
    stage = tokenize("jieba", mode="search", user_dict="examples/out/tokenize/terms.txt", workers=2)
    stats = (read("examples/data/fortunes-zh.txt") | stage
             | write("examples/out/tokenize/zh.search.jsonl", force=True)).run(progress=False)
    print(stats.summary())
    first = next(iter(read("examples/out/tokenize/zh.search.jsonl")))
    print(first["tokens"][:12])
PY
