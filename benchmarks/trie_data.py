"""Synthetic token-id sequences for the trie benchmark: Zipf-distributed ids, lengths uniform in 5-40.

    python -m benchmarks.trie_data 1M            # benchmarks/data/trie-ids-1M-seed0.txt
    python -m benchmarks.trie_data 100k 1M 5M 20M

Each line is one sequence of space-separated token ids. Ids are drawn from a bounded
Zipf law over a vocabulary of 21,128 ids (bert-base-chinese's size): id ``r`` (0-based)
has probability proportional to ``1 / (r + 1) ** 1.0``, so id 0 is the most frequent
(9.5% of tokens) and half of all tokens are below about 110. Lengths are uniform in
5..40 tokens (inclusive). Tokens are independent, so sequences share short prefixes
(the root has thousands of children) and almost never long ones.

Sequences are made in blocks of 100,000, block ``b`` from ``default_rng([seed, b])``,
so a smaller file is a prefix of a larger one with the same seed, and the same seed
gives the same bytes on any machine with the same numpy. Generation is vectorized
(about 25-40 s per 20M sequences here, writing 1.6 GB). A ``<file>.meta.json`` sidecar
records the settings and counts; a file is reused while its sidecar still matches.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.measure import HERE

DATA = HERE / "data"
VERSION = 1
VOCAB = 21128
ZIPF_S = 1.0
MIN_LEN, MAX_LEN = 5, 40
BLOCK = 100_000


def parse_count(text: str) -> int:
    """``100k``, ``1M``, ``20M`` or a plain number of sequences."""
    text = text.strip()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def count_label(n: int) -> str:
    """The short name of a count: 100k, 1M, 5M, 20M."""
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def ids_path(n: int, seed: int = 0) -> Path:
    return DATA / f"trie-ids-{count_label(n)}-seed{seed}.txt"


def _settings(n: int, seed: int) -> dict:
    return {"generator_version": VERSION, "sequences": n, "seed": seed, "vocab_size": VOCAB, "zipf_s": ZIPF_S,
            "min_len": MIN_LEN, "max_len": MAX_LEN, "block": BLOCK, "numpy": np.__version__}


def _digit_table() -> tuple[np.ndarray, np.ndarray]:
    """Row ``i``: the ASCII digits of ``i``, zero-padded on the right to 6 bytes; and each one's length."""
    table = np.zeros((VOCAB, 6), dtype=np.uint8)
    lengths = np.zeros(VOCAB, dtype=np.int64)
    for i in range(VOCAB):
        digits = str(i).encode()
        table[i, :len(digits)] = np.frombuffer(digits, dtype=np.uint8)
        lengths[i] = len(digits)
    return table, lengths


def _cdf() -> np.ndarray:
    weights = 1.0 / np.arange(1, VOCAB + 1, dtype=np.float64) ** ZIPF_S
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def block(b: int, n: int, seed: int, cdf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sequences ``b * BLOCK`` .. ``b * BLOCK + n - 1``: their tokens (flat, int64) and lengths."""
    rng = np.random.default_rng([seed, b])
    lengths = rng.integers(MIN_LEN, MAX_LEN + 1, size=BLOCK)[:n]
    tokens = np.searchsorted(cdf, rng.random(int(lengths.sum())), side="right")
    return np.minimum(tokens, VOCAB - 1), lengths


def _text(tokens: np.ndarray, lengths: np.ndarray, table: np.ndarray, digits: np.ndarray) -> bytes:
    """The lines of one block: ids joined by spaces, each sequence ending with a newline."""
    rows = np.zeros((len(tokens), 7), dtype=np.uint8)
    rows[:, :6] = table[tokens]
    sep = np.full(len(tokens), ord(" "), dtype=np.uint8)
    sep[np.cumsum(lengths) - 1] = ord("\n")
    rows[np.arange(len(tokens)), digits[tokens]] = sep
    return rows[rows != 0].tobytes()


def write_ids(n: int, seed: int = 0, path: Path | None = None) -> dict:
    """Writes ``n`` sequences to ``path`` (default ``ids_path``) with its sidecar; returns the sidecar."""
    path = path or ids_path(n, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    table, digits = _digit_table()
    cdf = _cdf()
    tokens_total = 0
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        for b in range((n + BLOCK - 1) // BLOCK):
            tokens, lengths = block(b, min(BLOCK, n - b * BLOCK), seed, cdf)
            tokens_total += len(tokens)
            f.write(_text(tokens, lengths, table, digits))
    os.replace(tmp, path)
    meta = {**_settings(n, seed), "tokens": tokens_total, "bytes": path.stat().st_size,
            "seconds": round(time.perf_counter() - started, 1)}
    with open(f"{path}.meta.json", "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return meta


def ensure_ids(n: int, seed: int = 0, log=print) -> tuple[Path, dict]:
    """The file of ``n`` sequences and its sidecar, written first if missing or made by other settings."""
    path = ids_path(n, seed)
    try:
        with open(f"{path}.meta.json") as f:
            meta = json.load(f)
        if all(meta.get(k) == v for k, v in _settings(n, seed).items()) and path.stat().st_size == meta["bytes"]:
            return path, meta
    except (OSError, ValueError, KeyError):
        pass
    log(f"writing {path.name} ({n:,} sequences)...")
    meta = write_ids(n, seed, path)
    log(f"  {meta['bytes'] / 1e6:,.0f} MB, {meta['tokens']:,} tokens in {meta['seconds']} s")
    return path, meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.trie_data", description=__doc__.split("\n\n")[0])
    parser.add_argument("counts", nargs="+", help="numbers of sequences: 100k, 1M, 5M, 20M")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for text in args.counts:
        path, meta = ensure_ids(parse_count(text), args.seed)
        print(f"{path}: {meta['sequences']:,} sequences, {meta['tokens']:,} tokens, {meta['bytes']:,} bytes")


if __name__ == "__main__":
    main()
