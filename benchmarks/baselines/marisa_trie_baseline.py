"""Baseline: marisa-trie (``pip install marisa-trie``) over token-id sequences encoded as strings.

    python marisa_trie_baseline.py build IDS OUT.marisa   # prints {"build_s", "save_s", ...} as JSON

Each sequence becomes one key: every id as one Unicode code point, ``chr(id + OFFSET)``
(OFFSET = 0x100 keeps clear of control characters; ids up to 21,127 stay below the
surrogates, and marisa stores the key as UTF-8, so 2 bytes for ids under 1,792 and 3
above). marisa-trie has no "children of a node" call: the allowed next tokens of a
prefix are the distinct code points at position ``len(prefix)`` among ``trie.keys(prefix)``,
which lists every key below the prefix; that is what makes short prefixes slow.
IDS is a text file of sequences, one per line, as space-separated token ids.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Iterable, Sequence
from importlib.metadata import version

import marisa_trie

OFFSET = 0x100


def key(ids: Iterable[int]) -> str:
    """The marisa key of a sequence of ids."""
    return "".join([chr(i + OFFSET) for i in ids])


def read_keys(path: str) -> Iterable[str]:
    """The keys of a file of space-separated ids, one sequence per line."""
    with open(path, "rb") as f:
        for line in f:
            yield "".join([chr(int(x) + OFFSET) for x in line.split()])


def build(keys: Iterable[str]) -> marisa_trie.Trie:
    return marisa_trie.Trie(keys)


def save(trie: marisa_trie.Trie, path: str) -> None:
    trie.save(path)


def open_mmap(path: str) -> marisa_trie.Trie:
    """The trie memory-mapped from its file (pages read on use)."""
    return marisa_trie.Trie().mmap(path)


def load(path: str) -> marisa_trie.Trie:
    """The trie read into memory from its file."""
    return marisa_trie.Trie().load(path)


def allowed(trie: marisa_trie.Trie, prefix: Sequence[int]) -> list[int]:
    """The tokens that may follow ``prefix``, sorted."""
    p = key(prefix)
    n = len(p)
    return sorted({ord(k[n]) - OFFSET for k in trie.keys(p) if len(k) > n})


def main(argv: list[str]) -> None:
    if len(argv) == 3 and argv[0] == "build":
        started = time.perf_counter()
        trie = build(read_keys(argv[1]))
        built = time.perf_counter()
        save(trie, argv[2])
        print(json.dumps({"build_s": round(built - started, 3), "save_s": round(time.perf_counter() - built, 3),
                          "keys": len(trie), "marisa_trie": version("marisa-trie"),
                          "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
