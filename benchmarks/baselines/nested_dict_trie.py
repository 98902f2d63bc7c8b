"""Baseline: a GENRE-style prefix trie of nested Python dicts, saved and loaded with pickle.

    python nested_dict_trie.py build IDS OUT.pkl     # prints {"build_s", "pickle_s", ...} as JSON
    python nested_dict_trie.py load OUT.pkl          # prints {"load_s", ...} as JSON

Each node is a ``dict`` from token id to child dict, as in GENRE's ``Trie``
(facebookresearch/GENRE, ``genre/trie.py``); a sequence's end is marked with the key
``END`` (-1, value None) instead of an EOS token. Insertion is iterative (GENRE's
recursive ``sequence[1:]`` slicing is quadratic in the length, which would only make the
baseline slower). The allowed next tokens of a prefix are the keys of the dict it reaches.
IDS is a text file of sequences, one per line, as space-separated token ids.
"""

from __future__ import annotations

import json
import pickle
import resource
import sys
import time
from collections.abc import Iterable, Sequence

END = -1


def build(sequences: Iterable[Sequence[int]]) -> dict:
    """The trie of ``sequences``."""
    root: dict = {}
    for seq in sequences:
        node = root
        for token in seq:
            child = node.get(token)
            if child is None:
                child = node[token] = {}
            node = child
        node[END] = None
    return root


def read_ids(path: str) -> Iterable[list[int]]:
    """The sequences of a file of space-separated ids, one per line."""
    with open(path, "rb") as f:
        for line in f:
            yield list(map(int, line.split()))


def save(trie: dict, path: str) -> None:
    with open(path, "wb") as f:
        pickle.dump(trie, f, protocol=pickle.HIGHEST_PROTOCOL)


def load(path: str) -> dict:
    with open(path, "rb") as f:
        return pickle.load(f)


def walk(trie: dict, prefix: Sequence[int]) -> dict | None:
    """The node after ``prefix``, or None when no sequence starts with it."""
    node = trie
    for token in prefix:
        node = node.get(token)
        if node is None:
            return None
    return node


def allowed(trie: dict, prefix: Sequence[int]) -> list[int]:
    """The tokens that may follow ``prefix`` (in insertion order; the end marker left out)."""
    node = walk(trie, prefix)
    if node is None:
        return []
    keys = list(node)
    if END in node:
        keys.remove(END)
    return keys


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main(argv: list[str]) -> None:
    if len(argv) == 3 and argv[0] == "build":
        started = time.perf_counter()
        trie = build(read_ids(argv[1]))
        built = time.perf_counter()
        peak_built = _peak_mb()
        save(trie, argv[2])
        saved = time.perf_counter()
        print(json.dumps({"build_s": round(built - started, 3), "pickle_s": round(saved - built, 3),
                          "peak_rss_mb_after_build": peak_built, "peak_rss_mb_after_pickle": _peak_mb(),
                          "root_children": len(trie)}))
    elif len(argv) == 2 and argv[0] == "load":
        started = time.perf_counter()
        trie = load(argv[1])
        print(json.dumps({"load_s": round(time.perf_counter() - started, 3), "peak_rss_mb": _peak_mb(),
                          "root_children": len(trie)}))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
