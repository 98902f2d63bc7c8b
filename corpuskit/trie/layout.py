"""Turns sorted, de-duplicated token sequences into the trie's flat arrays, in one streaming pass.

The trie is path-compressed: a node is the root, a prefix where a sequence ends, or a
prefix with two or more children; the tokens between two nodes are the edge's labels.
Sequences arrive in lexicographic order (a prefix before its extensions), so every
node covers a contiguous range of sequence ids ``[lo, hi)``, and the nodes on the path
of the current sequence form a stack. Each new sequence pops the nodes it leaves,
splits at most one edge (where it branches off), and pushes its own end node. Per
sequence that is a few Python operations; everything per token is numpy.

Nodes are numbered in creation order while building. The file numbers the nodes with
children breadth-first (by level, then by ``lo``), so the children of a node are
contiguous and sorted by their first label: ``allowed`` is then a slice of one array.
The childless nodes, most of them, are named by the one sequence each ends (``Arrays``).
"""

from __future__ import annotations

import contextlib
import mmap
import os
from array import array
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from corpuskit.errors import CorpusError
from corpuskit.trie import varint

_INT32_MAX = 2**31 - 1
MAX_EDGE = ((1 << 24) - 2) // varint.MAX_BYTES
"""Longest edge (tokens between two nodes): a state packs the byte position on an edge in 24 bits."""


@dataclass
class Chunk:
    """Sorted sequences: ``tokens[offsets[i]:offsets[i+1]]`` is sequence i, ``payload[i]`` its record."""

    tokens: np.ndarray
    offsets: np.ndarray
    payload: np.ndarray


ARRAYS = ("child_start", "label", "target", "edge_start", "rest", "lo", "hi", "terminal", "payload")
"""What a trie file holds besides its vocabulary (``Arrays`` says what each is)."""


@dataclass
class Arrays:
    """The trie as the file stores it.

    Nodes with children ("inner" nodes, the root always among them) are numbered
    breadth-first, ``0 .. I-1``. Every other node ends exactly one sequence: it is that
    sequence's leaf, numbered ``I + sequence id``, and needs no arrays of its own: its
    range is ``[id, id + 1)`` and its edge labels are the sequence's tail. The children of
    inner node v are the slots ``child_start[v] .. child_start[v+1]-1``, sorted by label.
    Labels after the first on an edge are LEB128 varints in ``rest`` (``varint``); inner and
    leaf nodes alike find theirs through ``edge_start``.
    """

    child_start: np.ndarray   # I + 1: the slots of inner node v
    label: np.ndarray         # slots: the first label of the edge into the child
    target: np.ndarray        # slots: the child, an inner node (< I) or a leaf (I + sequence id)
    edge_start: np.ndarray    # I + sequences + 1: node v's other edge labels are rest[edge_start[v]:edge_start[v+1]]
    rest: np.ndarray          # uint8: the varint labels after the first of every edge, inner edges first
    lo: np.ndarray            # I: first sequence id under inner node v
    hi: np.ndarray            # I: one past the last sequence id under v
    terminal: np.ndarray      # bitmap of I bits (little bit order): a sequence ends at inner node v
    payload: np.ndarray       # sequences: the record each sequence came from (its first occurrence)
    sequences: int
    duplicates: int
    tokens: int
    max_label: int
    nodes: int


class _Builder:
    def __init__(self, scratch: str | None = None) -> None:
        self.parent = array("i", [-1])
        self.depth = array("i", [0])
        self.lo = array("i", [0])
        self.hi = array("i", [0])
        self.terminal = array("b", [0])
        self.stack = [0]
        self.stack_depth = [0]
        self.count = 0
        self.duplicates = 0
        self.tokens = 0
        self.max_label = 0
        self.payload: list[np.ndarray] = []
        self.labels = _Labels(scratch)
        self.block = array("q", [0])
        self.first = array("I", [0])
        self.previous: np.ndarray | None = None

    def add(self, chunk: Chunk) -> None:
        tokens, offsets, payload = chunk.tokens, np.asarray(chunk.offsets, dtype=np.int64), chunk.payload
        if self.previous is not None:
            prev_len = len(self.previous)
            tokens = np.concatenate((self.previous, tokens))
            offsets = np.concatenate(([0], offsets + prev_len))
        lengths = np.diff(offsets)
        lcp = _common_prefixes(tokens, offsets)
        first = 0 if self.previous is None else 1
        keep = np.ones(len(lengths), dtype=bool)
        keep[1:] = (lcp[1:] < lengths[1:]) | (lcp[1:] < lengths[:-1])
        keep[:first] = False
        if self.previous is None and len(lengths):
            keep[0] = True
        self.duplicates += int(len(lengths) - first - keep[first:].sum())
        kept = np.flatnonzero(keep)
        if len(tokens):
            self.max_label = max(self.max_label, int(tokens.max()))
        self.payload.append(np.asarray(payload)[kept - first])
        self.tokens += int(lengths[kept].sum())
        finalized_nodes, finalized_from = array("q"), array("q")
        reference = (kept - 1).tolist()
        for ref, shared, length in zip(reference, lcp[kept].tolist(), lengths[kept].tolist()):
            self._sequence(ref, shared, length, finalized_nodes, finalized_from)
        self._labels(tokens, offsets, finalized_nodes, finalized_from)
        if len(kept):
            last = kept[-1]
            self.previous = tokens[offsets[last]:offsets[last + 1]].copy()

    def _sequence(self, ref: int, shared: int, length: int, finalized_nodes: array, finalized_from: array) -> None:
        """The next sequence enters the trie: it shares ``shared`` tokens with the one before (``ref``)."""
        stack, stack_depth = self.stack, self.stack_depth
        last = -1
        while stack_depth[-1] > shared:
            last = stack.pop()
            stack_depth.pop()
            self.hi[last] = self.count
            finalized_nodes.append(last)
            finalized_from.append(ref)
        if stack_depth[-1] < shared:
            node = self._node(shared, self.lo[last], stack[-1], 0)
            self.parent[last] = node
            stack.append(node)
            stack_depth.append(shared)
        if length == shared:
            self.terminal[stack[-1]] = 1
        else:
            if length - shared > MAX_EDGE:
                raise CorpusError(f"a sequence of {length:,} tokens is longer than the trie allows ({MAX_EDGE:,})")
            stack.append(self._node(length, self.count, stack[-1], 1))
            stack_depth.append(length)
        self.count += 1

    def _node(self, depth: int, lo: int, parent: int, terminal: int) -> int:
        if len(self.parent) >= _INT32_MAX:
            raise CorpusError(f"more than {_INT32_MAX:,} trie nodes: split the input into several tries")
        self.parent.append(parent)
        self.depth.append(depth)
        self.lo.append(lo)
        self.hi.append(0)
        self.terminal.append(terminal)
        self.block.append(0)
        self.first.append(0)
        return len(self.parent) - 1

    def _labels(self, tokens: np.ndarray, offsets: np.ndarray, nodes: array, sources: array) -> None:
        """Copies the edge labels of nodes whose parent is now final, from a sequence under them."""
        if not nodes:
            return
        nodes_np = np.frombuffer(nodes, dtype=np.int64)
        depth = np.frombuffer(self.depth, dtype=np.int32)
        parent = np.frombuffer(self.parent, dtype=np.int32)
        start = offsets[np.frombuffer(sources, dtype=np.int64)] + depth[parent[nodes_np]]
        counts = (depth[nodes_np] - depth[parent[nodes_np]]).astype(np.int64)
        blocks = self.labels.count + np.cumsum(counts) - counts
        self.labels.append(tokens[ranges(start, counts)])
        np.frombuffer(self.block, dtype=np.int64)[nodes_np] = blocks
        np.frombuffer(self.first, dtype=np.uint32)[nodes_np] = tokens[start]

    def finish(self) -> Arrays:
        if self.previous is not None:
            nodes, sources = array("q"), array("q")
            for node in reversed(self.stack[1:]):
                self.hi[node] = self.count
                nodes.append(node)
                sources.append(0)
            self._labels(self.previous, np.array([0, len(self.previous)]), nodes, sources)
        self.hi[0] = self.count
        return _breadth_first(self)


def build_layout(chunks: Iterable[Chunk], scratch: str | None = None) -> Arrays:
    """The trie of all sequences in ``chunks`` (sorted; duplicates allowed and counted).

    With a ``scratch`` folder the edge labels wait on disk rather than in memory until
    they are laid out, so memory grows with the number of nodes, not of tokens.
    """
    builder = _Builder(scratch)
    for chunk in chunks:
        builder.add(chunk)
    return builder.finish()


def _common_prefixes(tokens: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """For each sequence, how many leading tokens it shares with the one before (0 for the first)."""
    n = len(offsets) - 1
    lcp = np.zeros(n, dtype=np.int64)
    if n < 2:
        return lcp
    lengths = np.diff(offsets)
    limit = np.minimum(lengths[1:], lengths[:-1])
    active = np.flatnonzero(limit > 0) + 1
    k = 0
    while len(active):
        same = tokens[offsets[active] + k] == tokens[offsets[active - 1] + k]
        lcp[active[same]] = k + 1
        active = active[same]
        k += 1
        active = active[limit[active - 1] > k]
    return lcp


def ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + c)`` for each pair, vectorized."""
    counts = np.asarray(counts, dtype=np.int64)
    begins = np.cumsum(counts) - counts
    return np.repeat(np.asarray(starts, dtype=np.int64) - begins, counts) + np.arange(int(counts.sum()))


def _breadth_first(b: _Builder) -> Arrays:
    """Renumbers the nodes (inner ones level by level, by ``lo`` within a level; leaves by sequence id)
    and lays out their arrays.

    Everything here is a few int32 or int64 arrays of one entry per node: about 70
    bytes per node at the peak, plus the varint labels, encoded from the scratch file in slices.
    """
    parent = np.frombuffer(b.parent, dtype=np.int32)
    lo = np.frombuffer(b.lo, dtype=np.int32)
    depth = np.frombuffer(b.depth, dtype=np.int32)
    block = np.frombuffer(b.block, dtype=np.int64)
    n_nodes = len(parent)
    order = np.lexsort((lo, _levels(parent))).astype(np.int32)
    children = np.bincount(parent[1:], minlength=n_nodes)
    inner_of = children > 0
    inner_of[0] = True
    inner = order[inner_of[order]]
    n_inner = len(inner)
    number = np.empty(n_nodes, dtype=_narrowest(n_inner + b.count))
    number[inner] = np.arange(n_inner)
    leaves = np.flatnonzero(~inner_of)
    number[leaves] = n_inner + lo[leaves].astype(np.int64)
    slots = order[1:]
    target = number[slots]
    del number
    child_start = np.zeros(n_inner + 1, dtype=np.int64)
    np.cumsum(children[inner], out=child_start[1:])
    del children, inner_of

    rest_len = np.zeros(n_nodes, dtype=np.int32)
    rest_len[1:] = depth[1:] - depth[parent[1:]] - 1
    tail_len = np.zeros(b.count, dtype=np.int32)
    tail_len[lo[leaves]] = rest_len[leaves]
    tail_block = np.zeros(b.count, dtype=np.int64)
    tail_block[lo[leaves]] = block[leaves] + 1
    del leaves
    rest, run_bytes, tail_bytes = b.labels.encoded(
        (block[inner] + 1, tail_block), (rest_len[inner], tail_len))
    del rest_len, tail_len, tail_block
    edge_start = np.zeros(n_inner + b.count + 1, dtype=np.int64)
    np.cumsum(np.concatenate((run_bytes, tail_bytes)), out=edge_start[1:])
    del run_bytes, tail_bytes

    first = np.frombuffer(b.first, dtype=np.uint32)
    offset_type = _narrowest(int(edge_start[-1]))
    index_type = _narrowest(max(n_inner + 1, b.count, n_nodes))
    payload = np.concatenate(b.payload) if b.payload else np.zeros(0, dtype=np.int64)
    return Arrays(
        child_start=child_start.astype(index_type), label=first[slots].astype(_narrowest(b.max_label)),
        target=target, edge_start=edge_start.astype(offset_type),
        rest=rest, lo=lo[inner].astype(index_type), hi=np.frombuffer(b.hi, dtype=np.int32)[inner].astype(index_type),
        terminal=np.packbits(np.frombuffer(b.terminal, dtype=np.int8)[inner].astype(bool), bitorder="little"),
        payload=payload.astype(_narrowest(int(payload.max()) if len(payload) else 0)),
        sequences=b.count, duplicates=b.duplicates, tokens=b.tokens, max_label=b.max_label, nodes=n_nodes)


class _Labels:
    """Edge labels in the order their nodes were finished: in memory, or appended to a scratch file."""

    GATHER_LABELS = 1 << 20

    def __init__(self, scratch: str | None) -> None:
        self.count = 0
        self._parts: list[np.ndarray] = []
        self._path = None if scratch is None else os.path.join(scratch, "labels.u32")
        self._file = None if self._path is None else open(self._path, "wb")

    def append(self, labels: np.ndarray) -> None:
        labels = labels.astype(np.uint32)
        if self._file is None:
            self._parts.append(labels)
        else:
            self._file.write(labels.tobytes())
        self.count += len(labels)

    def encoded(self, starts: tuple[np.ndarray, ...], counts: tuple[np.ndarray, ...]) -> tuple:
        """The labels ``[starts[v], starts[v] + counts[v])`` of every edge v of each group, one after the
        other as varints (uint8, padded), then the bytes of each edge, per group.

        Two passes over the labels, the first to size the output, so it is never held twice.
        """
        with self._labels() as (labels, evict):
            pieces = [(group, a, z) for group, group_counts in enumerate(counts)
                      for a, z in _pieces(group_counts, self.GATHER_LABELS)]
            sizes = [np.zeros(len(c), dtype=np.int64) for c in counts]
            for group, a, z in pieces:
                piece = labels[ranges(starts[group][a:z], counts[group][a:z])]
                edge_of = np.repeat(np.arange(z - a), counts[group][a:z])
                sizes[group][a:z] = np.bincount(edge_of, weights=varint.lengths(piece), minlength=z - a)
                evict()
            out = np.zeros(sum(int(s.sum()) for s in sizes) + varint.PADDING, dtype=np.uint8)
            at = 0
            for group, a, z in pieces:
                encoded = varint.encode(labels[ranges(starts[group][a:z], counts[group][a:z])])
                out[at:at + len(encoded)] = encoded
                at += len(encoded)
                evict()
            del labels
        return (out, *sizes)

    @contextlib.contextmanager
    def _labels(self) -> Iterator[tuple[np.ndarray, Callable[[], None]]]:
        """All labels as one array (a map of the scratch file), and a call that lets go of mapped pages."""
        if self._file is None:
            labels = np.concatenate(self._parts) if self._parts else np.zeros(0, dtype=np.uint32)
            self._parts = []
            yield labels, lambda: None
            return
        self._file.close()
        if not self.count:
            yield np.zeros(0, dtype=np.uint32), lambda: None
            return
        with open(self._path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            labels = np.frombuffer(mapped, dtype=np.uint32)
            try:
                yield labels, lambda: mapped.madvise(mmap.MADV_DONTNEED)
            finally:
                del labels


def _pieces(counts: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Runs ``[a, z)`` of consecutive edges holding about ``size`` labels each (an edge is never cut)."""
    ends = np.cumsum(counts)
    cuts = np.searchsorted(ends, np.arange(0, int(ends[-1]) if len(ends) else 0, size), side="right")
    bounds = np.unique(np.concatenate(([0], cuts, [len(counts)])))
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def _levels(parent: np.ndarray) -> np.ndarray:
    """Each node's number of ancestors, by pointer jumping: O(log depth) passes over the nodes."""
    level = (parent >= 0).astype(np.int32)
    jump = parent.astype(np.int32)
    has = np.flatnonzero(jump >= 0).astype(np.int32)
    while len(has):
        target = jump[has]
        level[has] += level[target]
        jump[has] = jump[target]
        has = has[jump[has] >= 0]
    return level


def _narrowest(largest: int) -> type:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if largest <= np.iinfo(dtype).max:
            return dtype
    return np.uint64


def iter_chunks(sequences: Iterator[tuple[list[int], int]], size: int = 65536) -> Iterator[Chunk]:
    """Chunks from (tokens, payload) pairs; for tests and small inputs."""
    batch: list[tuple[list[int], int]] = []
    for item in sequences:
        batch.append(item)
        if len(batch) >= size:
            yield _chunk(batch)
            batch = []
    if batch:
        yield _chunk(batch)


def _chunk(batch: list[tuple[list[int], int]]) -> Chunk:
    lengths = np.fromiter((len(t) for t, _ in batch), dtype=np.int64, count=len(batch))
    offsets = np.zeros(len(batch) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = np.fromiter((x for t, _ in batch for x in t), dtype=np.int64, count=int(offsets[-1]))
    return Chunk(tokens, offsets, np.fromiter((p for _, p in batch), dtype=np.int64, count=len(batch)))
