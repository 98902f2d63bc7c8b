"""Queries on a trie: states, steps, allowed next tokens, counts and completions.

A state is an int: ``node << 24 | k``, where ``k`` is one plus the bytes of the edge's
varint labels consumed after its first label (the root is 0; -1, or None from ``step``,
is dead). At an inner node the next tokens are the labels of its slots, one contiguous
sorted slice, so a step is a binary search over them: O(log degree). Inside an edge
there is exactly one next token, decoded at the state's byte position: O(1). Every node
covers the sequence ids ``[lo, hi)`` of the sequences below it (``layout.Arrays``).
"""

from __future__ import annotations

import functools
import os
from bisect import bisect_left, bisect_right
from typing import Any, Iterable, Sequence

import numpy as np

from corpuskit.errors import CorpusError
from corpuskit.trie import fileformat, varint
from corpuskit.trie.layout import ARRAYS, ranges as _ranges

SHIFT = 24
_MASK = (1 << SHIFT) - 1
ROOT = 0
DEAD = -1
SMALL_BATCH = 128
"""Up to this many states, a loop of scalar steps beats numpy's fixed cost per call."""
WIDE = 256
"""Nodes with this many children or more keep their mask rows in a cache."""
WIDE_CACHE_BYTES = 32 << 20
BINCOUNT_FROM = 4096
"""From this many labels on, bits are packed by one bincount rather than ``bitwise_or.at``."""


class Trie:
    """A trie of token-id sequences, usually memory-mapped from a file (``Trie.open``)."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict[str, Any], path: str | None = None,
                 mapped: Any = None) -> None:
        self.path = path
        self.meta = meta
        self._mapped = mapped
        self._arrays = arrays
        self.child_start = arrays["child_start"]
        self.label = arrays["label"]
        self.target = arrays["target"]
        self.edge_start = arrays["edge_start"]
        self.rest = arrays["rest"]
        self.lo = arrays["lo"]
        self.hi = arrays["hi"]
        self.terminal = arrays["terminal"]
        self.payloads = arrays["payload"]
        self.inner = len(self.lo)
        self.root = ROOT
        self._children = memoryview(self.child_start)
        self._labels = memoryview(self.label)
        self._targets = memoryview(self.target)
        self._edges = memoryview(self.edge_start)
        self._rest = memoryview(self.rest)
        self._bits = memoryview(self.terminal)
        self._lo = memoryview(self.lo)
        self._wide_rows: dict[tuple, np.ndarray] = {}
        self._wide_bytes = 0

    @classmethod
    def open(cls, path: str | os.PathLike, verify: bool = False) -> "Trie":
        """Maps a trie file; with ``verify`` also reads it all and checks its checksums."""
        path = os.fspath(path)
        arrays, meta, mapped = fileformat.load(path)
        missing = [name for name in ARRAYS if name not in arrays]
        if missing:
            raise CorpusError(f"{path}: the trie lacks the array(s) {', '.join(missing)}: the file is damaged")
        if verify:
            fileformat.verify(path, arrays, meta["_digests"])
        return cls(arrays, meta, path, mapped)

    @classmethod
    def from_sequences(cls, sequences: Iterable[Sequence[int]], vocab_size: int | None = None,
                       eos_id: int | None = None) -> "Trie":
        """An in-memory trie of a few sequences of ids (payload: each one's position in ``sequences``).

        For tests and small candidate sets; large inputs go through ``build_trie``.
        """
        from corpuskit.trie.layout import build_layout, iter_chunks

        items = sorted((tuple(int(t) for t in seq), i) for i, seq in enumerate(sequences))
        if any(t < 0 for seq, _ in items for t in seq):
            raise CorpusError("token ids must be >= 0")
        built = build_layout(iter_chunks(iter(items)))
        size = max(built.max_label + 1 if built.tokens else 0, 0 if eos_id is None else eos_id + 1)
        if vocab_size is not None and vocab_size < size:
            raise CorpusError(f"token id {size - 1} is outside the vocabulary of {vocab_size} tokens")
        meta = {"sequences": built.sequences, "duplicates": built.duplicates, "tokens": built.tokens,
                "nodes": built.nodes, "records": len(items), "tokenizer": {"tokenizer": "ids"},
                "vocab_size": vocab_size if vocab_size is not None else size, "eos_id": eos_id}
        return cls({name: getattr(built, name) for name in ARRAYS}, meta)

    def __len__(self) -> int:
        return int(self.meta["sequences"])

    def __repr__(self) -> str:
        return f"Trie({self.path or '<memory>'}: {len(self):,} sequences, {self.meta['nodes']:,} nodes)"

    @property
    def vocab_size(self) -> int:
        return int(self.meta["vocab_size"])

    @property
    def eos_id(self) -> int | None:
        return self.meta.get("eos_id")

    # one state -----------------------------------------------------------------------------

    def step(self, state: int, token: int) -> int | None:
        """The state after ``token``, or None when the token leaves the trie: O(log degree).

        (``_choices`` and a search would say the same; this is the hot loop of decoding, so
        it is written out.)
        """
        if state is None or state < 0 or token < 0:
            return None
        node, k = state >> SHIFT, state & _MASK
        if node:
            start, end = self._edges[node], self._edges[node + 1]
            if start + k <= end:
                byte = self._rest[start + k - 1]
                if byte < 0x80:
                    return state + 1 if byte == token else None
                label, size = varint.label_at(self._rest, start + k - 1)
                return state + size if label == token else None
            if node >= self.inner:
                return None
        start, end = self._children[node], self._children[node + 1]
        i = bisect_left(self._labels, token, start, end)
        if i < end and self._labels[i] == token:
            return (self._targets[i] << SHIFT) | 1
        return None

    def walk(self, tokens: Iterable[int], state: int = ROOT) -> int | None:
        """The state after all of ``tokens`` from ``state``, or None."""
        for token in tokens:
            state = self.step(state, int(token))
            if state is None:
                return None
        return state

    def allowed(self, state: int) -> np.ndarray:
        """The tokens that may follow, sorted: at a node, a read-only view into the trie (no copy);
        inside an edge, the one label there."""
        choices = self._choices(state)
        if isinstance(choices, int):
            return np.array([choices], dtype=self.label.dtype)
        return self.label[choices[0]:choices[1]]

    def _choices(self, state: int | None) -> int | tuple[int, int]:
        """What may follow ``state``: the one label inside an edge, else the node's slots ``(start, end)``."""
        if state is None or state < 0:
            return 0, 0
        node, k = state >> SHIFT, state & _MASK
        if node:
            start, end = self._edges[node], self._edges[node + 1]
            if start + k <= end:
                byte = self._rest[start + k - 1]
                return byte if byte < 0x80 else varint.label_at(self._rest, start + k - 1)[0]
            if node >= self.inner:
                return 0, 0
        return self._children[node], self._children[node + 1]

    def is_complete(self, state: int) -> bool:
        """True when the tokens so far are one of the sequences."""
        if state is None or state < 0 or isinstance(self._choices(state), int):
            return False
        node = state >> SHIFT
        return node >= self.inner or self._terminal(node)

    def count(self, state: int) -> int:
        """How many sequences start with the tokens so far: O(1)."""
        lo, hi = self.leaf_range(state)
        return hi - lo

    def leaf_range(self, state: int) -> tuple[int, int]:
        """The ids ``[lo, hi)`` of the sequences that start with the tokens so far (empty when dead)."""
        if state is None or state < 0:
            return 0, 0
        node = state >> SHIFT
        if node >= self.inner:
            return node - self.inner, node - self.inner + 1
        return int(self.lo[node]), int(self.hi[node])

    def payload(self, state: int) -> int | None:
        """The record of the sequence the state completes (its first occurrence), else None."""
        if not self.is_complete(state):
            return None
        return int(self.payloads[self.leaf_range(state)[0]])

    def completions(self, state: int, limit: int = 10) -> list[tuple[int, ...]]:
        """Up to ``limit`` whole sequences that start with the tokens so far, in sorted order."""
        lo, hi = self.leaf_range(state)
        return [self.sequence(i) for i in range(lo, min(hi, lo + max(limit, 0)))]

    def sequence(self, seq_id: int) -> tuple[int, ...]:
        """The tokens of sequence ``seq_id`` (ids are positions in sorted order)."""
        if not 0 <= seq_id < len(self):
            raise IndexError(f"sequence id {seq_id} is outside 0..{len(self) - 1}")
        node, out = 0, []
        while node < self.inner and not (self._terminal(node) and self._lo[node] == seq_id):
            start = self._children[node]
            slot = start + bisect_right(range(start, self._children[node + 1]), seq_id, key=self._first_id) - 1
            node = self._targets[slot]
            out.append(self._labels[slot])
            out.extend(varint.labels(self._rest, self._edges[node], self._edges[node + 1]))
        return tuple(out)

    def __contains__(self, tokens: object) -> bool:
        if isinstance(tokens, str):
            try:
                tokens = self.encode(tokens)
            except CorpusError:
                return False
        state = self.walk(tokens)  # type: ignore[arg-type]
        return state is not None and self.is_complete(state)

    def _terminal(self, node: int) -> bool:
        """Whether a sequence ends at inner node ``node``."""
        return bool(self._bits[node >> 3] >> (node & 7) & 1)

    def _first_id(self, slot: int) -> int:
        """The first sequence id under the child in ``slot``."""
        node = self._targets[slot]
        return node - self.inner if node >= self.inner else self._lo[node]

    def _leaf_ranges(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``leaf_range`` of many nodes (int64 arrays)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        leaf = nodes >= self.inner
        inner = np.where(leaf, 0, nodes)
        return (np.where(leaf, nodes - self.inner, self.lo[inner]),
                np.where(leaf, nodes - self.inner + 1, self.hi[inner]))

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
        where, inside, at_node = self._positions(np.where(alive, states, 0))
        inside &= alive
        if inside.any():
            labels, sizes = varint.decode_at(self.rest, where[inside])
            same = labels == tokens[inside]
            hit = np.flatnonzero(inside)[same]
            out[hit] = states[hit] + sizes[same]
        at_node = np.flatnonzero(at_node & alive)
        if len(at_node):
            found = self._find_slots(states[at_node] >> SHIFT, tokens[at_node])
            ok = found >= 0
            out[at_node[ok]] = (self.target[found[ok]].astype(np.int64) << SHIFT) | 1
        return out.reshape(shape)

    def _positions(self, states: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For live states: the byte of the next label in ``rest``, whether the state is inside an
        edge, and whether it is at an inner node."""
        node = states >> SHIFT
        where = self.edge_start[node] + (states & _MASK) - 1
        inside = (node > 0) & (where < self.edge_start[node + 1])
        return where, inside, ~inside & (node < self.inner)

    def _find_slots(self, nodes: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """The slot of each inner node whose label is the token, or -1: a vectorized binary search."""
        lo = self.child_start[nodes].astype(np.int64)
        end = self.child_start[nodes + 1].astype(np.int64)
        hi = end.copy()
        active = np.flatnonzero(lo < hi)
        while len(active):
            mid = (lo[active] + hi[active]) >> 1
            less = self.label[mid] < tokens[active]
            lo[active] = np.where(less, mid + 1, lo[active])
            hi[active] = np.where(less, hi[active], mid)
            active = active[lo[active] < hi[active]]
        found = np.full(len(nodes), -1, dtype=np.int64)
        inside = lo < end
        match = np.zeros(len(nodes), dtype=bool)
        match[inside] = self.label[lo[inside]] == tokens[inside]
        found[match] = lo[match]
        return found

    def allowed_batch(self, states: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All allowed tokens of many states: (row of each, token), flat; dead states have none."""
        states = np.asarray(states, dtype=np.int64).ravel()
        alive = np.flatnonzero(states >= 0)
        where, inside, at_node = self._positions(states[alive])
        labels_in = varint.decode_at(self.rest, where[inside])[0]
        nodes = states[alive[at_node]] >> SHIFT
        starts = self.child_start[nodes].astype(np.int64)
        counts = self.child_start[nodes + 1].astype(np.int64) - starts
        rows_at = np.repeat(alive[at_node], counts)
        labels_at = self.label[_ranges(starts, counts)]
        return (np.concatenate((alive[inside], rows_at)),
                np.concatenate((labels_in, labels_at.astype(np.int64))))

    def mask(self, states: Sequence[int] | np.ndarray, vocab_size: int | None = None) -> np.ndarray:
        """bool ``[len(states), vocab_size]``: True where a token may follow (for a logits processor).

        The rows of nodes with ``WIDE`` children or more (the root, frequent first tokens) are
        cached, up to ``WIDE_CACHE_BYTES`` per trie, as they come back at every decoding step.
        """
        return self._rows(states, self.vocab_size if vocab_size is None else vocab_size, packed=False)

    def bitmask(self, states: Sequence[int] | np.ndarray, vocab_size: int | None = None) -> np.ndarray:
        """``mask`` as int32 words, bit ``t % 32`` of word ``t // 32`` (the layout of :func:`pack_bitmask`)."""
        return self._rows(states, self.vocab_size if vocab_size is None else vocab_size, packed=True)

    def _rows(self, states: Sequence[int] | np.ndarray, width: int, packed: bool) -> np.ndarray:
        """``mask`` (or ``bitmask`` when ``packed``) row by row: each distinct state is looked at once,
        its few labels scattered, or the row of a wide node copied from a cache, then rows repeat."""
        states = np.asarray(states, dtype=np.int64).ravel().tolist()
        distinct: dict[int, int] = {}
        inverse = [distinct.setdefault(state, len(distinct)) for state in states]
        rows = np.zeros((len(distinct), (width + 31) // 32 if packed else width), np.int32 if packed else bool)
        singles: list[int] = []  # row * width + label
        parts: list[np.ndarray] = []
        for row, state in enumerate(distinct):
            choices = self._choices(state)
            if type(choices) is int:
                if choices < width:
                    singles.append(row * width + choices)
                continue
            start, end = choices
            if end - start >= WIDE:
                rows[row] = self._wide_row(choices, width, packed)
            elif end > start:
                labels = self.label[start:end]
                if labels[-1] >= width:
                    labels = labels[:np.searchsorted(labels, width)]
                parts.append(labels.astype(np.int64) + row * width)
        at = np.array(singles, dtype=np.int64)
        if parts:
            at = np.concatenate((at, *parts))
        if not packed:
            rows.reshape(-1)[at] = True
        else:
            _or_bits(rows, at // width, at % width)
        return rows if len(distinct) == len(states) else rows.take(inverse, axis=0)

    def _wide_row(self, slots: tuple[int, int], width: int, packed: bool) -> np.ndarray:
        """The mask row of a node with many children, kept in a small LRU cache (the root and the
        frequent first tokens come back at every decoding step)."""
        key = (slots, width, packed)
        row = self._wide_rows.pop(key, None)
        if row is None:
            labels = self.label[slots[0]:slots[1]].astype(np.int64)
            zeros = np.zeros(len(labels), dtype=np.int64)
            row = (_scatter_bits if packed else _scatter)(zeros, labels, 1, width)[0]
            while self._wide_bytes + row.nbytes > WIDE_CACHE_BYTES and self._wide_rows:
                self._wide_bytes -= self._wide_rows.pop(next(iter(self._wide_rows))).nbytes
            self._wide_bytes += row.nbytes
        self._wide_rows[key] = row
        return row

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


def _scatter(rows: np.ndarray, labels: np.ndarray, n_rows: int, width: int) -> np.ndarray:
    """bool ``[n_rows, width]``, True at each (row, label) whose label is under ``width``."""
    out = np.zeros((n_rows, width), dtype=bool)
    keep = labels < width
    out.reshape(-1)[rows[keep] * width + labels[keep]] = True
    return out


def _scatter_bits(rows: np.ndarray, labels: np.ndarray, n_rows: int, width: int) -> np.ndarray:
    """``_scatter`` packed as :func:`pack_bitmask` packs it (int32 ``[n_rows, ceil(width / 32)]``)."""
    out = np.zeros((n_rows, (width + 31) // 32), dtype=np.int32)
    keep = labels < width
    _or_bits(out, rows[keep], labels[keep])
    return out


def _or_bits(out: np.ndarray, rows: np.ndarray, labels: np.ndarray) -> None:
    """Sets bit ``label % 32`` of word ``label // 32`` of each row in int32 ``out``, in place."""
    flat = out.view(np.uint32).reshape(-1)
    index = rows * out.shape[1] + (labels >> 5)
    if len(labels) < BINCOUNT_FROM:
        np.bitwise_or.at(flat, index, np.left_shift(np.uint32(1), (labels & 31).astype(np.uint32)))
    else:  # a row's labels are distinct, so summing their bits sets each word as OR-ing would
        bits = np.left_shift(1, labels & 31).astype(np.float64)
        flat |= np.bincount(index, weights=bits, minlength=len(flat)).astype(np.uint32)


def pack_bitmask(allowed: np.ndarray) -> np.ndarray:
    """bool ``[rows, vocab]`` -> int32 ``[rows, ceil(vocab / 32)]``, bit ``t % 32`` of word ``t // 32`` set
    where ``t`` is allowed: the token-bitmask layout of xgrammar and vLLM."""
    allowed = np.asarray(allowed, dtype=bool)
    if allowed.ndim == 1:
        allowed = allowed[None, :]
    words = (allowed.shape[1] + 31) // 32
    padded = np.zeros((allowed.shape[0], words * 32), dtype=bool)
    padded[:, :allowed.shape[1]] = allowed
    return np.packbits(padded, axis=1, bitorder="little").view("<i4").reshape(allowed.shape[0], words)


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
        lo, hi = self.trie._leaf_ranges(nodes)
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
        return self.allowed_batch([DEAD if state is None else state])[1]

    def allowed_batch(self, states: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows, labels = self.trie.allowed_batch(states)
        states = np.asarray(states, dtype=np.int64).ravel()
        nexts = self.trie.step_batch(states[rows], labels)
        keep = self._alive(nexts >> SHIFT)
        return rows[keep], labels[keep]

    def mask(self, states: Sequence[int] | np.ndarray, vocab_size: int | None = None) -> np.ndarray:
        states = np.asarray(states, dtype=np.int64).ravel()
        return _scatter(*self.allowed_batch(states), len(states),
                        self.trie.vocab_size if vocab_size is None else vocab_size)

    def bitmask(self, states: Sequence[int] | np.ndarray, vocab_size: int | None = None) -> np.ndarray:
        states = np.asarray(states, dtype=np.int64).ravel()
        return _scatter_bits(*self.allowed_batch(states), len(states),
                             self.trie.vocab_size if vocab_size is None else vocab_size)

    def is_complete(self, state: int) -> bool:
        if not self.trie.is_complete(state):
            return False
        first = self.trie.leaf_range(state)[0]
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

