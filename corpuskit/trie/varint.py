"""Edge labels as LEB128 varints: 7 bits per byte, the high bit set on every byte but a label's last.

Token ids follow Zipf's law and vocabularies sort frequent tokens first, so most labels
take one or two bytes instead of a fixed two or four. A state addresses a label by its
byte position, so stepping along an edge stays O(1) without decoding what came before.
"""

from __future__ import annotations

import numpy as np

MAX_BYTES = 5
"""Bytes of the largest uint32 label."""
PADDING = MAX_BYTES
"""Zero bytes after the last label, so a vectorized decode may read past a label's end."""


def lengths(labels: np.ndarray) -> np.ndarray:
    """Bytes each label takes (uint8)."""
    labels = np.asarray(labels, dtype=np.uint64)
    out = np.ones(len(labels), dtype=np.uint8)
    for bits in (7, 14, 21, 28):
        out += labels >= (1 << bits)
    return out


def encode(labels: np.ndarray, sizes: np.ndarray | None = None) -> np.ndarray:
    """The labels one after the other, as uint8 bytes (``sizes``: their ``lengths``, when known)."""
    labels = np.asarray(labels, dtype=np.uint64)
    sizes = lengths(labels) if sizes is None else sizes
    starts = np.cumsum(sizes, dtype=np.int64) - sizes
    out = np.empty(int(starts[-1] + sizes[-1]) if len(labels) else 0, dtype=np.uint8)
    for j in range(MAX_BYTES):
        sel = np.flatnonzero(sizes > j)
        if not len(sel):
            break
        byte = (labels[sel] >> np.uint64(7 * j)) & np.uint64(0x7F)
        byte |= np.where(sizes[sel] > j + 1, np.uint64(0x80), np.uint64(0))
        out[starts[sel] + j] = byte
    return out


def decode_at(data: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The label starting at each byte position, and how many bytes it takes (int64 both)."""
    positions = np.asarray(positions, dtype=np.int64)
    byte = data[positions].astype(np.int64)
    values = byte & 0x7F
    sizes = np.ones(len(positions), dtype=np.int64)
    more = np.flatnonzero(byte >= 0x80)
    shift = 7
    while len(more):
        byte = data[positions[more] + sizes[more]].astype(np.int64)
        values[more] |= (byte & 0x7F) << shift
        sizes[more] += 1
        more = more[byte >= 0x80]
        shift += 7
    return values, sizes


def label_at(data: memoryview, position: int) -> tuple[int, int]:
    """``decode_at`` for one position, on a memoryview (no numpy call: a decoding step is hot)."""
    byte = data[position]
    if byte < 0x80:
        return byte, 1
    value, shift, size = byte & 0x7F, 7, 1
    while byte >= 0x80:
        byte = data[position + size]
        value |= (byte & 0x7F) << shift
        shift += 7
        size += 1
    return value, size


def labels(data: memoryview, start: int, end: int) -> list[int]:
    """All labels of the whole varints in ``data[start:end]``."""
    out = []
    while start < end:
        label, size = label_at(data, start)
        out.append(label)
        start += size
    return out
