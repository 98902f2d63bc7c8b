"""What ``corpuskit trie query`` and ``trie stats`` print, as plain data."""

from __future__ import annotations

import os
import sys
from typing import Iterable, Iterator

from corpuskit.errors import CorpusError
from corpuskit.trie.trie import Trie
from corpuskit.units import format_size


def read_prefixes(given: Iterable[str], queries: str | None) -> Iterator[str]:
    """The prefixes from the command line, then those of the ``queries`` file, one per line."""
    yield from given
    if queries is None:
        return
    try:
        stream = sys.stdin if queries == "-" else open(queries, encoding="utf-8")
    except OSError as exc:
        raise CorpusError(f"{queries}: cannot read the queries ({exc.strerror or exc})") from None
    with stream:
        for line in stream:
            yield line.rstrip("\r\n")


def answer(trie: Trie, prefix: str, as_ids: bool = False, complete: int = 0) -> dict:
    """``{"prefix", "allowed", "complete", "count"}`` (and ``"completions"``) for one prefix."""
    ids = _ids(prefix) if as_ids else _encode_or_none(trie, prefix)
    state = None if ids is None else trie.walk(ids)
    if state is None:
        result = {"prefix": prefix, "allowed": [], "complete": False, "count": 0}
        return {**result, "completions": []} if complete else result
    allowed = trie.allowed(state).tolist()
    result = {"prefix": prefix, "allowed": allowed if as_ids or trie.vocab is None else trie.decode(allowed),
              "complete": trie.is_complete(state), "count": trie.count(state)}
    if trie.is_complete(state):
        result["payload"] = trie.payload(state)
    if complete:
        found = trie.completions(state, complete)
        result["completions"] = [list(c) if as_ids else _joined(trie, c) for c in found]
    return result


def _ids(prefix: str) -> list[int]:
    try:
        return [int(part) for part in prefix.split()]
    except ValueError:
        raise CorpusError(f"--ids takes space-separated token ids, not {prefix!r}") from None


def _encode_or_none(trie: Trie, prefix: str) -> list[int] | None:
    try:
        return trie.encode(prefix)
    except CorpusError:
        if trie.meta.get("tokenizer", {}).get("tokenizer") == "ids":
            raise
        return None


def _joined(trie: Trie, ids: Iterable[int]) -> str:
    tokens = trie.decode(ids)
    name = trie.meta.get("tokenizer", {}).get("tokenizer", "")
    return " ".join(tokens) if name in ("ids", "whitespace") or name.startswith("hf:") else "".join(tokens)


def stats(path: str, verify: bool = False) -> dict:
    """Counts, sizes and settings of a trie file."""
    trie = Trie.open(path, verify=verify)
    meta = trie.meta
    size = os.path.getsize(path)
    out = {
        "path": path, "size": format_size(size), "sequences": meta["sequences"], "records": meta["records"],
        "duplicates": meta["duplicates"], "tokens": meta["tokens"], "nodes": meta["nodes"],
        "bytes_per_token": round(size / max(meta["tokens"], 1), 3), "vocab_size": meta["vocab_size"],
        "eos_id": meta["eos_id"], "tokenizer": meta["tokenizer"], "payload": meta["payload"],
        "corpuskit": meta["corpuskit"],
    }
    if verify:
        out["verified"] = "OK: every array matches its checksum"
    return out
