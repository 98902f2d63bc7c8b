"""Queries on a trie: states, steps, allowed next tokens, counts and completions.

A state is an int: ``node << 24 | k``, where ``k`` counts the labels consumed on the
edge into ``node`` (the root is 0; -1, or None from ``step``, is dead). At a node the
next tokens are the first labels of its children, one contiguous sorted slice, so a
step is a binary search over them: O(log degree). Inside an edge there is exactly one
next token. Every node covers the sequence ids ``[lo, hi)`` of the sequences below it.
"""

from __future__ import annotations

import functools
import os
from bisect import bisect_left
from typing import Any, Iterable, Sequence

import numpy as np

from corpuskit.errors import CorpusError
from corpuskit.trie import fileformat
from corpuskit.trie.layout import ranges as _ranges

SHIFT = 24
_MASK = (1 << SHIFT) - 1
ROOT = 0
DEAD = -1
SMALL_BATCH = 128
"""Up to this many states, a loop of scalar steps beats numpy's fixed cost per call."""


class Trie:
    """A trie of token-id sequences, usually memory-mapped from a file (``Trie.open``)."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict[str, Any], path: str | None = None,
                 mapped: Any = None) -> None:
        self.path = path
        self.meta = meta
        self._mapped = mapped
        self.child_start = arrays["child_start"]
        self.first_label = arrays["first_label"]
        self.run_start = arrays["run_start"]
        self.rest = arrays["rest"]
        self.lo = arrays["lo"]
        self.hi = arrays["hi"]
        self.terminal = arrays["terminal"]
        self.payloads = arrays["payload"]
        self._arrays = arrays
        self.root = ROOT
        self._children = memoryview(self.child_start)
        self._first = memoryview(self.first_label)
        self._runs = memoryview(self.run_start)
        self._rest = memoryview(self.rest)

    @classmethod
    def open(cls, path: str | os.PathLike, verify: bool = False) -> "Trie":
        """Maps a trie file; with ``verify`` also reads it all and checks its checksums."""
        path = os.fspath(path)
        arrays, meta, mapped = fileformat.load(path)
        if verify:
            fileformat.verify(path, arrays, meta["_digests"])
        return cls(arrays, meta, path, mapped)

    @classmethod
    def from_sequences(cls, sequences: Iterable[Sequence[int]], vocab_size: int | None = None,
                       eos_id: int | None = None) -> "Trie":
        """An in-memory trie of a few sequences of ids (payload: each one's position in ``sequences``).

        For tests and small candidate sets; large inputs go through ``build_trie``.
        """
        from dataclasses import asdict

        from corpuskit.trie.layout import build_layout, iter_chunks

        items = sorted((tuple(int(t) for t in seq), i) for i, seq in enumerate(sequences))
        if any(t < 0 for seq, _ in items for t in seq):
            raise CorpusError("token ids must be >= 0")
        built = build_layout(iter_chunks(iter(items)))
        arrays = {k: v for k, v in asdict(built).items() if isinstance(v, np.ndarray)}
        size = max(built.max_label + 1 if built.tokens else 0, 0 if eos_id is None else eos_id + 1)
        if vocab_size is not None and vocab_size < size:
            raise CorpusError(f"token id {size - 1} is outside the vocabulary of {vocab_size} tokens")
        meta = {"sequences": built.sequences, "duplicates": built.duplicates, "tokens": built.tokens,
                "nodes": len(built.lo), "records": len(items), "tokenizer": {"tokenizer": "ids"},
                "vocab_size": vocab_size if vocab_size is not None else size, "eos_id": eos_id}
        return cls(arrays, meta)

    def __len__(self) -> int:
        return int(self.meta["sequences"])

    def __repr__(self) -> str:
        return f"Trie({self.path or '<memory>'}: {len(self):,} sequences, {len(self.lo):,} nodes)"

    @property
    def vocab_size(self) -> int:
        return int(self.meta["vocab_size"])

    @property
    def eos_id(self) -> int | None:
        return self.meta.get("eos_id")

    # one state -----------------------------------------------------------------------------

    def step(self, state: int, token: int) -> int | None:
        """The state after ``token``, or None when the token leaves the trie: O(log degree)."""
        if state is None or state < 0 or token < 0:
            return None
        node, k = state >> SHIFT, state & _MASK
        if node:
            run = self._runs[node]
            if k <= self._runs[node + 1] - run:
                return state + 1 if self._rest[run + k - 1] == token else None
        start, end = self._children[node], self._children[node + 1]
        i = bisect_left(self._first, token, start, end)
        if i < end and self._first[i] == token:
            return (i << SHIFT) | 1
        return None

    def walk(self, tokens: Iterable[int], state: int = ROOT) -> int | None:
        """The state after all of ``tokens`` from ``state``, or None."""
        for token in tokens:
            state = self.step(state, int(token))
            if state is None:
                return None
        return state

    def allowed(self, state: int) -> np.ndarray:
        """The tokens that may follow, sorted: a read-only view into the trie, no copy."""
        if state is None or state < 0:
            return self.first_label[:0]
        node, k = state >> SHIFT, state & _MASK
        if k < self._edge_length(node):
            run = int(self.run_start[node]) + k - 1
            return self.rest[run:run + 1]
        return self.first_label[int(self.child_start[node]):int(self.child_start[node + 1])]

    def is_complete(self, state: int) -> bool:
        """True when the tokens so far are one of the sequences."""
        if state is None or state < 0:
            return False
        node, k = state >> SHIFT, state & _MASK
        return k == self._edge_length(node) and bool(self.terminal[node])

    def count(self, state: int) -> int:
        """How many sequences start with the tokens so far: O(1)."""
        lo, hi = self.leaf_range(state)
        return hi - lo

    def leaf_range(self, state: int) -> tuple[int, int]:
        """The ids ``[lo, hi)`` of the sequences that start with the tokens so far (empty when dead)."""
        if state is None or state < 0:
            return 0, 0
        node = state >> SHIFT
        return int(self.lo[node]), int(self.hi[node])

    def payload(self, state: int) -> int | None:
        """The record of the sequence the state completes (its first occurrence), else None."""
        if not self.is_complete(state):
            return None
        return int(self.payloads[int(self.lo[state >> SHIFT])])

    def completions(self, state: int, limit: int = 10) -> list[tuple[int, ...]]:
        """Up to ``limit`` whole sequences that start with the tokens so far, in sorted order."""
        lo, hi = self.leaf_range(state)
        return [self.sequence(i) for i in range(lo, min(hi, lo + max(limit, 0)))]

    def sequence(self, seq_id: int) -> tuple[int, ...]:
        """The tokens of sequence ``seq_id`` (ids are positions in sorted order)."""
        if not 0 <= seq_id < len(self):
            raise IndexError(f"sequence id {seq_id} is outside 0..{len(self) - 1}")
        node, out = 0, []
        while not (self.terminal[node] and int(self.lo[node]) == seq_id):
            start, end = int(self.child_start[node]), int(self.child_start[node + 1])
            node = start + int(np.searchsorted(self.lo[start:end], seq_id, side="right")) - 1
            out.append(int(self.first_label[node]))
            out.extend(self.rest[int(self.run_start[node]):int(self.run_start[node + 1])].tolist())
        return tuple(out)

    def __contains__(self, tokens: object) -> bool:
        if isinstance(tokens, str):
            try:
                tokens = self.encode(tokens)
            except CorpusError:
                return False
        state = self.walk(tokens)  # type: ignore[arg-type]
        return state is not None and self.is_complete(state)

    def _edge_length(self, node: int) -> int:
        return 0 if node == 0 else 1 + int(self.run_start[node + 1]) - int(self.run_start[node])

    # many states -----------------------------------------------------------------------------

    def step_batch(self, states: Sequence[int] | np.ndarray, tokens: Sequence[int] | np.ndarray) -> np.ndarray:
        """``step`` for many states at once (numpy int64 in and out; -1 is dead and stays dead)."""
        states = np.asarray(states, dtype=np.int64)
        tokens = np.asarray(tokens, dtype=np.int64)
        if states.size <= SMALL_BATCH:
            stepped = [self.step(s, t) for s, t in zip(states.ravel().tolist(), tokens.ravel().tolist())]
            return np.array([DEAD if s is None else s for s in stepped], dtype=np.int64).reshape(states.shape)
        shape = states.shape
        states, tokens = states.ravel(), np.broadcast_to(tokens, shape).ravel()
        out = np.full(states.shape, DEAD, dtype=np.int64)
        alive = (states >= 0) & (tokens >= 0)
        node, k = states >> SHIFT, states & _MASK
        edge = self._edge_lengths(np.where(alive, node, 0))
        inside = np.flatnonzero(alive & (k < edge))
        if len(inside):
            labels = self.rest[self.run_start[node[inside]].astype(np.int64) + k[inside] - 1]
            hit = inside[labels == tokens[inside]]
            out[hit] = states[hit] + 1
        at_node = np.flatnonzero(alive & (k >= edge))
        if len(at_node):
            found = self._find_children(node[at_node], tokens[at_node])
            ok = found >= 0
            out[at_node[ok]] = (found[ok] << SHIFT) | 1
        return out.reshape(shape)

    def _edge_lengths(self, nodes: np.ndarray) -> np.ndarray:
        nodes = nodes.astype(np.int64)
        lengths = 1 + self.run_start[nodes + 1].astype(np.int64) - self.run_start[nodes].astype(np.int64)
        return np.where(nodes == 0, 0, lengths)

    def _find_children(self, nodes: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """The child of each node whose first label is the token, or -1: a vectorized binary search."""
        lo = self.child_start[nodes].astype(np.int64)
        end = self.child_start[nodes + 1].astype(np.int64)
        hi = end.copy()
        active = np.flatnonzero(lo < hi)
        while len(active):
            mid = (lo[active] + hi[active]) >> 1
            less = self.first_label[mid] < tokens[active]
            lo[active] = np.where(less, mid + 1, lo[active])
            hi[active] = np.where(less, hi[active], mid)
            active = active[lo[active] < hi[active]]
        found = np.full(len(nodes), -1, dtype=np.int64)
        inside = lo < end
        match = np.zeros(len(nodes), dtype=bool)
        match[inside] = self.first_label[lo[inside]] == tokens[inside]
        found[match] = lo[match]
        return found

    def allowed_batch(self, states: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All allowed tokens of many states: (row of each, token), flat; dead states have none."""
        states = np.asarray(states, dtype=np.int64).ravel()
        alive = np.flatnonzero(states >= 0)
        node, k = states[alive] >> SHIFT, states[alive] & _MASK
        edge = self._edge_lengths(node)
        inside = k < edge
        rows_in = alive[inside]
        labels_in = self.rest[self.run_start[node[inside]].astype(np.int64) + k[inside] - 1]
        at = ~inside
        starts = self.child_start[node[at]].astype(np.int64)
        counts = self.child_start[node[at] + 1].astype(np.int64) - starts
        rows_at = np.repeat(alive[at], counts)
        labels_at = self.first_label[_ranges(starts, counts)]
        return (np.concatenate((rows_in, rows_at)),
                np.concatenate((labels_in.astype(np.int64), labels_at.astype(np.int64))))

    def mask(self, states: Sequence[int] | np.ndarray, vocab_size: int | None = None) -> np.ndarray:
        """bool ``[len(states), vocab_size]``: True where a token may follow (for a logits processor).

        A state seen before in the batch (beams that share a prefix) copies that row.
        """
        states = np.asarray(states, dtype=np.int64).ravel()
        width = self.vocab_size if vocab_size is None else vocab_size
        out = np.zeros((len(states), width), dtype=bool)
        seen: dict[int, int] = {}
        for i, state in enumerate(states.tolist()):
            if state < 0:
                continue
            if state in seen:
                out[i] = out[seen[state]]
                continue
            seen[state] = i
            allowed = self.allowed(state)
            if len(allowed) and allowed[-1] >= width:
                allowed = allowed[allowed < width]
            out[i, allowed] = True
        return out

    def bitmask(self, states: Sequence[int] | np.ndarray, vocab_size: int | None = None) -> np.ndarray:
        """int32 ``[len(states), ceil(vocab/32)]``, bit ``t % 32`` of word ``t // 32`` set where ``t`` may
        follow: the layout of xgrammar's and vLLM's token bitmasks."""
        allowed = self.mask(states, vocab_size)
        words = (allowed.shape[1] + 31) // 32
        padded = np.zeros((allowed.shape[0], words * 32), dtype=bool)
        padded[:, :allowed.shape[1]] = allowed
        return np.packbits(padded, axis=1, bitorder="little").view("<i4").reshape(allowed.shape[0], words)

    def restrict(self, seq_ids: Iterable[int]) -> "RestrictedTrie":
        """A view that allows only the given sequences (ids in sorted order); nothing is rebuilt."""
        return RestrictedTrie(self, seq_ids)

    # strings -----------------------------------------------------------------------------

    @functools.cached_property
    def vocab(self) -> list[str] | None:
        """The token strings by id, when the trie was built from text (None for raw ids)."""
        if "vocab_offsets" not in self._arrays:
            return None
        offsets = self._arrays["vocab_offsets"]
        blob = self._arrays["vocab_blob"].tobytes()
        return [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(len(offsets) - 1)]

    @functools.cached_property
    def _token_ids(self) -> dict[str, int]:
        return {token: i for i, token in enumerate(self.vocab or [])}

    def token_ids(self, tokens: Iterable[str]) -> list[int]:
        """Ids of token strings; a token the vocabulary lacks is an error naming it."""
        ids = []
        for token in tokens:
            found = self._token_ids.get(token)
            if found is None:
                raise CorpusError(f"token {token!r} is not in the trie's vocabulary")
            ids.append(found)
        return ids

    def encode(self, text: str) -> list[int]:
        """``text`` tokenized as the trie's sequences were, as ids (a missing token is an error)."""
        from corpuskit.trie.tokens import tokenize_query

        return tokenize_query(self, text)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Token strings of ids (ids as strings when the trie has no vocabulary)."""
        vocab = self.vocab
        return [str(i) if vocab is None else vocab[int(i)] for i in ids]


class RestrictedTrie:
    """A trie seen through a set of allowed sequence ids: a node lives while its range holds one."""

    def __init__(self, trie: Trie, seq_ids: Iterable[int]) -> None:
        self.trie = trie
        self.chosen = np.unique(np.fromiter((int(i) for i in seq_ids), dtype=np.int64))
        if len(self.chosen) and (self.chosen[0] < 0 or self.chosen[-1] >= len(trie)):
            raise CorpusError(f"sequence ids must lie in 0..{len(trie) - 1}")
        self.root = ROOT

    def __len__(self) -> int:
        return len(self.chosen)

    def _alive(self, nodes: np.ndarray) -> np.ndarray:
        lo = self.trie.lo[nodes].astype(np.int64)
        hi = self.trie.hi[nodes].astype(np.int64)
        return np.searchsorted(self.chosen, lo) < np.searchsorted(self.chosen, hi)

    def step(self, state: int, token: int) -> int | None:
        state = self.trie.step(state, token)
        if state is None or not self._alive(np.array([state >> SHIFT]))[0]:
            return None
        return state

    walk = Trie.walk

    def step_batch(self, states: Sequence[int] | np.ndarray, tokens: Sequence[int] | np.ndarray) -> np.ndarray:
        out = self.trie.step_batch(states, tokens)
        live = out >= 0
        out[live] = np.where(self._alive(out[live] >> SHIFT), out[live], DEAD)
        return out

    def allowed(self, state: int) -> np.ndarray:
        node, k = state >> SHIFT, state & _MASK
        allowed = self.trie.allowed(state)
        if k < self.trie._edge_length(node):
            return allowed
        start = int(self.trie.child_start[node])
        return allowed[self._alive(np.arange(start, start + len(allowed)))]

    def allowed_batch(self, states: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows, labels = self.trie.allowed_batch(states)
        states = np.asarray(states, dtype=np.int64).ravel()
        nexts = self.trie.step_batch(states[rows], labels)
        keep = self._alive(nexts >> SHIFT)
        return rows[keep], labels[keep]

    def mask(self, states: Sequence[int] | np.ndarray, vocab_size: int | None = None) -> np.ndarray:
        states = np.asarray(states, dtype=np.int64).ravel()
        out = np.zeros((len(states), self.trie.vocab_size if vocab_size is None else vocab_size), dtype=bool)
        rows, labels = self.allowed_batch(states)
        keep = labels < out.shape[1]
        out[rows[keep], labels[keep]] = True
        return out

    def is_complete(self, state: int) -> bool:
        if not self.trie.is_complete(state):
            return False
        first = int(self.trie.lo[state >> SHIFT])
        i = int(np.searchsorted(self.chosen, first))
        return i < len(self.chosen) and int(self.chosen[i]) == first

    def count(self, state: int) -> int:
        lo, hi = self.trie.leaf_range(state)
        return int(np.searchsorted(self.chosen, hi) - np.searchsorted(self.chosen, lo))

    def completions(self, state: int, limit: int = 10) -> list[tuple[int, ...]]:
        lo, hi = self.trie.leaf_range(state)
        ids = self.chosen[np.searchsorted(self.chosen, lo):np.searchsorted(self.chosen, hi)][:max(limit, 0)]
        return [self.trie.sequence(int(i)) for i in ids]

    def payload(self, state: int) -> int | None:
        return self.trie.payload(state) if self.is_complete(state) else None

