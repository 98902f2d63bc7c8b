"""Deterministic synthetic corpora for benchmarks: realistic lines, English and Chinese, any size.

    python -m benchmarks.make_corpus --size 2G                 # benchmarks/data/text-2G-seed0.txt
    python -m benchmarks.make_corpus --size 2G --jsonl         # benchmarks/data/jsonl-2G-seed0.jsonl.zst
    python -m benchmarks.make_corpus --size 200M -o /tmp/x.txt

    from benchmarks.make_corpus import ensure_corpus, write_corpus, generate_chunks
    path = ensure_corpus("2G", kind="text")      # made once, reused while its sidecar matches

Where the words come from (nothing is downloaded; both ship with what corpuskit installs):

* Chinese: jieba's dictionary, ``jieba/dict.txt`` inside the jieba package (MIT licence),
  ~349k words drawn with probability proportional to jieba's own frequency column, plus
  Chinese punctuation (，。、：？！“”) at fixed rates.
* English: the text of Python's reference documentation that ``help()`` shows,
  ``pydoc_data/topics.py`` of the running Python (PSF licence), split on whitespace into
  ~8k distinct tokens that keep their punctuation (``function,`` ``(e.g.`` ``"spam"``) and
  are drawn by their frequency in that text. The words depend on the Python version; the
  sidecar records a hash of both word pools.

What a line looks like (bytes of UTF-8, before the newline):

* 96% of lines: log-normal around 90 bytes, clipped to 20-300 bytes;
* 4%: log-normal around 3 KB, 1 KB to 99 KB;
* 0.002%: Pareto from 100 KB (alpha 1.2), at most 4 MiB;
* language: 55% English, 35% Chinese, 10% Chinese with English terms mixed in.

Lines are cut at word boundaries, so UTF-8 is always valid; no line is empty. Words
are drawn with a 2^20-entry quantile table per language (words rarer than 1 in 1M
are represented by their neighbours), which is what makes drawing ~3M words per
chunk a single vectorized gather.

Determinism: the same seed gives the same bytes (for the same Python and jieba). The
corpus is produced in chunks of 65,536 lines from one random stream, and ``size``
only decides where writing stops (at the last whole line that fits), so a smaller
corpus is a prefix of a larger one with the same seed. ``--jsonl`` makes records
``{"id": i, "text": line_i, "meta": {"source": ..., "lang": ..., "score": ...}}``
whose ``text`` is line ``i`` of the text corpus of the same seed (a separate random
stream draws ``meta``); its size counts uncompressed JSON bytes. A name ending in
``.zst`` is compressed with zstd (level 3).
"""

from __future__ import annotations

import argparse
import collections
import functools
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

GENERATOR_VERSION = 1
HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / "data"

LINES_PER_CHUNK = 1 << 16
TABLE_SIZE = 1 << 20

LANGS = ("en", "zh", "mixed")
LANG_P = np.array([0.55, 0.35, 0.10])
MIXED_EN_SHARE = 0.2  # a "mixed" line is Chinese with this share of English tokens

BODY_MEDIAN, BODY_SIGMA, BODY_RANGE = 90.0, 0.7, (20, 300)
P_LONG, LONG_MEDIAN, LONG_SIGMA, LONG_RANGE = 0.04, 3000.0, 0.8, (1000, 99_000)
P_GIANT, GIANT_MIN, GIANT_ALPHA, GIANT_MAX = 2e-5, 100_000, 1.2, 4 << 20

# share of Chinese tokens that are punctuation, by mark
ZH_PUNCT = {"，": 0.07, "。": 0.035, "、": 0.01, "：": 0.003, "？": 0.002, "！": 0.002, "“": 0.003, "”": 0.003}

SOURCES = ("web", "wiki", "books", "news", "code")
SOURCE_P = np.array([0.5, 0.15, 0.1, 0.15, 0.1])

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


# ---------------------------------------------------------------- sizes

def parse_size(text: str | int) -> int:
    """Bytes in ``2G``, ``200M``, ``1.5G`` (binary units, as corpuskit reads them) or an int."""
    if isinstance(text, int):
        return text
    s = str(text).strip().upper().removesuffix("IB").removesuffix("B")
    unit = s[-1] if s and s[-1] in _UNITS else ""
    number = s[: len(s) - len(unit)] if unit else s
    try:
        return int(float(number) * _UNITS[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f"cannot read {text!r} as a size (examples: 200M, 2G)") from None


def size_label(n: int) -> str:
    """``2G`` for 2 GiB, ``200M`` for 200 MiB, else the byte count."""
    for unit in ("T", "G", "M", "K"):
        if n % _UNITS[unit] == 0:
            return f"{n // _UNITS[unit]}{unit}"
    return str(n)


# ---------------------------------------------------------------- word pools

def english_source() -> Path:
    import pydoc_data.topics

    return Path(pydoc_data.topics.__file__)


def chinese_source() -> Path:
    import jieba

    return Path(jieba.__file__).parent / "dict.txt"


def english_words() -> tuple[list[str], np.ndarray]:
    """Tokens of Python's reference docs (with punctuation) and their counts."""
    import pydoc_data.topics

    text = "\n".join(pydoc_data.topics.topics[k] for k in sorted(pydoc_data.topics.topics))
    counts = collections.Counter(
        tok for tok in text.split()
        if len(tok) <= 24 and tok.isascii() and tok.isprintable() and any(c.isalnum() for c in tok))
    words = sorted(counts)
    return words, np.array([counts[w] for w in words], dtype=np.float64)


def chinese_words() -> tuple[list[str], np.ndarray]:
    """jieba's dictionary words (those with a Chinese character) and frequencies, plus punctuation."""
    words, freqs = [], []
    with open(chinese_source(), encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and any("\u4e00" <= c <= "\u9fff" for c in parts[0]) and parts[0].isprintable():
                words.append(parts[0])
                freqs.append(float(parts[1]))
    weights = np.array(freqs)
    share = sum(ZH_PUNCT.values())
    punct = np.array(list(ZH_PUNCT.values())) / (1 - share) * weights.sum()
    return words + list(ZH_PUNCT), np.concatenate([weights, punct])


@dataclass(frozen=True)
class Pools:
    """Every token's bytes back to back, in plain and JSON-escaped form, and a sampler per language."""

    data: np.ndarray          # uint8: plain UTF-8 of all tokens, then "\n"
    offsets: np.ndarray       # int64 per token
    lengths: np.ndarray       # int64 per token
    escaped: np.ndarray       # uint8: the tokens as they appear inside a JSON string
    esc_offsets: np.ndarray
    esc_lengths: np.ndarray
    trail: np.ndarray         # int64 1 when the token ends with a space (dropped at a line's end)
    newline: int              # offset of "\n" in data
    tables: tuple[np.ndarray, ...]   # per language: TABLE_SIZE token ids, quantiles of its distribution
    mean_lengths: tuple[float, ...]  # per language: expected plain bytes per drawn token
    fingerprint: str          # sha256 of the token lists, so a sidecar notices a different pool


def _pack(tokens: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return np.frombuffer(b"".join(tokens), dtype=np.uint8), offsets, lengths


def _quantile_table(ids: np.ndarray, weights: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights) / weights.sum()
    picks = np.searchsorted(cdf, (np.arange(TABLE_SIZE) + 0.5) / TABLE_SIZE, side="right")
    return ids[np.minimum(picks, len(ids) - 1)].astype(np.int32)


@functools.lru_cache(maxsize=1)
def pools() -> Pools:
    en, en_w = english_words()
    zh, zh_w = chinese_words()
    texts = [w + " " for w in en] + zh
    plain = [t.encode() for t in texts]
    escaped = [json.dumps(t, ensure_ascii=False)[1:-1].encode() for t in texts]
    data, offsets, lengths = _pack(plain + [b"\n"])
    esc, esc_offsets, esc_lengths = _pack(escaped)
    offsets, lengths, esc_offsets, esc_lengths = (a.astype(np.int32) for a in (offsets, lengths, esc_offsets, esc_lengths))
    trail = np.array([t.endswith(" ") for t in texts], dtype=np.int32)
    en_ids = np.arange(len(en))
    zh_ids = np.arange(len(en), len(texts))
    mixed_w = np.concatenate([en_w / en_w.sum() * MIXED_EN_SHARE, zh_w / zh_w.sum() * (1 - MIXED_EN_SHARE)])
    tables = (_quantile_table(en_ids, en_w), _quantile_table(zh_ids, zh_w),
              _quantile_table(np.concatenate([en_ids, zh_ids]), mixed_w))
    digest = hashlib.sha256()
    for t, w in zip(texts, np.concatenate([en_w, zh_w])):
        digest.update(f"{t}\t{w:g}\n".encode())
    return Pools(data, offsets, lengths[:-1], esc, esc_offsets, esc_lengths, trail,
                 int(offsets[-1]), tables, tuple(float(lengths[t].mean()) for t in tables),
                 digest.hexdigest()[:16])


# ---------------------------------------------------------------- lines

def _line_targets(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Target bytes and language of ``n`` lines."""
    u = rng.random(n)
    body = np.exp(rng.normal(np.log(BODY_MEDIAN), BODY_SIGMA, n)).clip(*BODY_RANGE)
    long = np.exp(rng.normal(np.log(LONG_MEDIAN), LONG_SIGMA, n)).clip(*LONG_RANGE)
    giant = ((rng.pareto(GIANT_ALPHA, n) + 1) * GIANT_MIN).clip(max=GIANT_MAX)
    target = np.where(u < P_GIANT, giant, np.where(u < P_GIANT + P_LONG, long, body))
    langs = np.minimum(np.searchsorted(np.cumsum(LANG_P), rng.random(n), side="right"), len(LANGS) - 1)
    return target, langs


def _draw_tokens(rng: np.random.Generator, p: Pools, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token ids of ``n`` lines in output order, tokens per line, and each line's language."""
    target, langs = _line_targets(rng, n)
    counts = np.zeros(n, dtype=np.int64)
    first = np.zeros(n, dtype=np.int64)  # index into ``drawn`` of each line's first token
    drawn: list[np.ndarray] = []
    base = 0
    for lang, table in enumerate(p.tables):
        sel = np.flatnonzero(langs == lang)
        if sel.size == 0:
            continue
        cum_target = np.cumsum(target[sel])
        k = int(cum_target[-1] / p.mean_lengths[lang] * 1.05) + 2 * sel.size + 1024
        ids = table[rng.integers(0, TABLE_SIZE, k)]
        cum = np.cumsum(p.lengths[ids], dtype=np.int64)
        while cum[-1] < cum_target[-1]:
            more = table[rng.integers(0, TABLE_SIZE, k // 8 + 1024)]
            ids = np.concatenate([ids, more])
            cum = np.cumsum(p.lengths[ids], dtype=np.int64)
        # line j ends with the token that reaches its cumulative target; at least one token a line
        cut = np.searchsorted(cum, cum_target, side="left") + 1
        j = np.arange(1, sel.size + 1)
        cut = np.maximum.accumulate(cut - j) + j
        while cut[-1] > ids.size:
            ids = np.concatenate([ids, table[rng.integers(0, TABLE_SIZE, int(cut[-1] - ids.size) + 1024)]])
        counts[sel] = np.diff(cut, prepend=0)
        first[sel] = base + cut - counts[sel]
        ids = ids[: cut[-1]]
        drawn.append(ids)
        base += ids.size
    pool = np.concatenate(drawn)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    order = np.repeat(first - starts, counts) + np.arange(int(counts.sum()))
    return pool[order], counts, langs


class _Workspace:
    """A reusable int32 buffer: the byte index of each chunk is built in it, not in fresh memory."""

    def __init__(self) -> None:
        self._buf = np.empty(0, dtype=np.int32)

    def get(self, n: int) -> np.ndarray:
        if self._buf.size < n:
            self._buf = np.empty(int(n * 1.25) + 4096, dtype=np.int32)
        return self._buf[:n]


def _render(tokids: np.ndarray, counts: np.ndarray, src: np.ndarray, tok_off: np.ndarray,
            tok_len: np.ndarray, trail: np.ndarray, tail_off: np.ndarray, tail_len: np.ndarray,
            head_off: np.ndarray | None = None, head_len: np.ndarray | None = None,
            work: _Workspace | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bytes of lines made of [head] tokens tail, gathered from ``src``; and each tail's last byte.

    Every piece is (offset in ``src``, length); the byte index is built with one cumsum
    over a buffer of ones that holds, at each piece's first byte, the jump from the
    previous piece's last source byte.
    """
    n = counts.size
    h = 0 if head_off is None else 1
    per_line = counts + h + 1
    total_pieces = int(per_line.sum())
    line_of_token = np.repeat(np.arange(n, dtype=np.int32), counts)
    pos = np.arange(tokids.size, dtype=np.int64) + (h + 1) * line_of_token + h
    off = np.empty(total_pieces, dtype=np.int32)
    length = np.empty(total_pieces, dtype=np.int32)
    off[pos] = tok_off[tokids]
    length[pos] = tok_len[tokids]
    ends = np.cumsum(per_line) - 1
    last_token = np.cumsum(counts) - 1
    length[ends - 1] -= trail[tokids[last_token]]
    off[ends], length[ends] = tail_off, tail_len
    if h:
        heads = ends - per_line + 1
        off[heads], length[heads] = head_off, head_len
    if not length.all():  # an empty piece would share its start with the next one
        keep = length > 0
        cum_all = np.cumsum(length, dtype=np.int64)
        off, length = off[keep], length[keep]
        line_ends = cum_all[ends] - 1
    else:
        line_ends = None
    cum = np.cumsum(length, dtype=np.int64)
    total = int(cum[-1])
    if max(total, src.size) >= (1 << 31):
        raise ValueError("a chunk of 2 GiB or more")  # far above what LINES_PER_CHUNK lines make
    jump = np.empty_like(off)
    jump[0] = off[0]
    jump[1:] = off[1:] - off[:-1] - length[:-1] + 1
    index = (work or _Workspace()).get(total)
    index.fill(1)
    index[cum - length] = jump
    np.cumsum(index, out=index)
    return src[index], (cum[ends] - 1 if line_ends is None else line_ends)


def generate_chunks(seed: int = 0, kind: str = "text") -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Endless chunks of LINES_PER_CHUNK lines: (uint8 bytes, offset of each line's "\\n").

    ``kind`` "text" gives lines; "jsonl" gives one JSON record per line of the same text.
    """
    if kind not in ("text", "jsonl"):
        raise ValueError(f"kind must be 'text' or 'jsonl', not {kind!r}")
    p = pools()
    rng = np.random.default_rng([seed, 0])
    meta_rng = np.random.default_rng([seed, 1])
    n = LINES_PER_CHUNK
    work = _Workspace()
    next_id = 0
    while True:
        tokids, counts, langs = _draw_tokens(rng, p, n)
        if kind == "text":
            yield _render(tokids, counts, p.data, p.offsets, p.lengths, p.trail,
                          np.full(n, p.newline, dtype=np.int32), np.ones(n, dtype=np.int32), work=work)
        else:
            sources = np.minimum(np.searchsorted(np.cumsum(SOURCE_P), meta_rng.random(n), side="right"),
                                 len(SOURCES) - 1)
            scores = meta_rng.random(n)
            heads = [b'{"id": %d, "text": "' % i for i in range(next_id, next_id + n)]
            tails = [b'", "meta": {"source": "%s", "lang": "%s", "score": %.3f}}\n'
                     % (SOURCES[s].encode(), LANGS[g].encode(), x)
                     for s, g, x in zip(sources.tolist(), langs.tolist(), scores.tolist())]
            dyn, dyn_off, dyn_len = _pack(heads + tails)
            src = np.concatenate([p.escaped, dyn])
            dyn_off = (dyn_off + p.escaped.size).astype(np.int32)
            dyn_len = dyn_len.astype(np.int32)
            yield _render(tokids, counts, src, p.esc_offsets, p.esc_lengths, p.trail,
                          dyn_off[n:], dyn_len[n:], dyn_off[:n], dyn_len[:n], work=work)
            next_id += n


# ---------------------------------------------------------------- files

_BUCKETS = np.array([20, 301, 1024, 100_000])  # <20, 20-300, 301-1023, 1K-100K, >=100K
_BUCKET_NAMES = ["lt_20", "20_300", "301_1K", "1K_100K", "ge_100K"]


def write_corpus(path: str | os.PathLike, size: int | str, kind: str = "text", seed: int = 0,
                 level: int = 3, threads: int = 2) -> dict:
    """Writes at most ``size`` (uncompressed) bytes of whole lines to ``path``; returns its description.

    The file appears under its name only when complete; a ``.zst`` name is compressed.
    A sidecar ``<path>.meta.json`` holds the description (used by :func:`ensure_corpus`).
    """
    import zstandard

    path = Path(path)
    size = parse_size(size)
    started = time.perf_counter()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    compress = path.suffix in (".zst", ".zstd")
    written = lines = 0
    buckets = np.zeros(len(_BUCKETS) + 1, dtype=np.int64)
    longest = 0
    try:
        with open(tmp, "wb") as raw:
            sink = (zstandard.ZstdCompressor(level=level, threads=threads).stream_writer(raw, closefd=False)
                    if compress else raw)
            for data, ends in generate_chunks(seed, kind):
                room = size - written
                last = data.size > room
                if last:  # stop at the last whole line that fits
                    ends = ends[: int(np.searchsorted(ends, room - 1, side="right"))]
                    data = data[: int(ends[-1]) + 1] if ends.size else data[:0]
                if data.size:
                    sink.write(memoryview(data))
                    lengths = np.diff(ends, prepend=-1) - 1
                    buckets += np.bincount(np.searchsorted(_BUCKETS, lengths, side="right"),
                                           minlength=buckets.size)
                    longest = max(longest, int(lengths.max()))
                written += data.size
                lines += ends.size
                if last or written >= size:
                    break
            if compress:
                sink.close()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    seconds = time.perf_counter() - started
    info = describe(size, kind, seed, level if compress else None)
    info.update({
        "path": str(path), "bytes": written, "file_bytes": path.stat().st_size, "records": lines,
        "line_bytes": {"max": longest, **{name: int(c) for name, c in zip(_BUCKET_NAMES, buckets)}},
        "seconds": round(seconds, 2),
    })
    with open(f"{path}.meta.json", "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    return info


def describe(size: int, kind: str, seed: int, level: int | None) -> dict:
    """What decides a corpus's bytes (compared by :func:`ensure_corpus` before reusing a file)."""
    return {"generator": GENERATOR_VERSION, "kind": kind, "size": size, "seed": seed, "zstd_level": level,
            "pools": pools().fingerprint,
            "sources": {"english": f"Python {sys.version.split()[0]} pydoc_data/topics.py (PSF licence)",
                        "chinese": "jieba/dict.txt from the jieba package (MIT licence)"}}


def default_name(size: int, kind: str, seed: int, compress: bool = True) -> str:
    ext = ".txt" if kind == "text" else ".jsonl" + (".zst" if compress else "")
    return f"{kind}-{size_label(size)}-seed{seed}{ext}"


def ensure_corpus(size: int | str, kind: str = "text", seed: int = 0, data_dir: str | os.PathLike = DATA_DIR,
                  compress: bool = True, quiet: bool = False) -> Path:
    """The path of a corpus of this size, kind and seed under ``data_dir``, made if missing or stale."""
    size = parse_size(size)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / default_name(size, kind, seed, compress)
    compressed = path.suffix == ".zst"
    want = describe(size, kind, seed, 3 if compressed else None)
    try:
        with open(f"{path}.meta.json") as f:
            have = json.load(f)
        if (all(have.get(k) == v for k, v in want.items() if k != "sources")
                and path.stat().st_size == have["file_bytes"]):
            return path
    except (OSError, ValueError, KeyError):
        pass
    if not quiet:
        print(f"making {path} ({size_label(size)} of {kind}, seed {seed}) ...", file=sys.stderr, flush=True)
    info = write_corpus(path, size, kind, seed)
    if not quiet:
        print(_summary(info), file=sys.stderr, flush=True)
    return path


def _summary(info: dict) -> str:
    mb = info["bytes"] / 1e6
    text = (f"{info['path']}: {info['bytes']:,} bytes, {info['records']:,} {'lines' if info['kind'] == 'text' else 'records'}"
            f" in {info['seconds']:.1f}s ({mb / max(info['seconds'], 1e-9):.0f} MB/s)")
    if info["file_bytes"] != info["bytes"]:
        text += f"; {info['file_bytes']:,} bytes compressed"
    lb = info["line_bytes"]
    share = {k: lb[k] / max(info["records"], 1) for k in _BUCKET_NAMES}
    text += ("\n  line bytes: " + ", ".join(f"{k} {v:.3%}" for k, v in share.items()) + f", longest {lb['max']:,}")
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.make_corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", required=True, type=parse_size, help="uncompressed bytes, e.g. 200M, 2G")
    parser.add_argument("--jsonl", action="store_true", help='JSONL records {"id", "text", "meta"} (.jsonl.zst)')
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", "-o", help="file to write (default: benchmarks/data/<kind>-<size>-seed<seed>.<ext>); "
                                               "a name ending in .zst is compressed")
    parser.add_argument("--level", type=int, default=3, help="zstd level (default 3)")
    args = parser.parse_args(argv)
    kind = "jsonl" if args.jsonl else "text"
    output = args.output
    if output is None:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        output = DATA_DIR / default_name(args.size, kind, args.seed)
    print(_summary(write_corpus(output, args.size, kind, args.seed, level=args.level)))


if __name__ == "__main__":
    main()
