"""Token-id sequences as sortable byte records, and back.

A record is the sequence's ids plus one, as big-endian uint32 words, then a zero word,
then the record's number and its payload, each a big-endian uint64. Comparing records as
bytes then orders them as the sequences in lexicographic order, a prefix before its
extensions, and equal sequences by record number, so the first occurrence of a duplicate
comes first. Every record is a whole number of 4-byte words: decoding is one numpy view.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpuskit.trie.layout import Chunk, ranges

MAX_ID = 2**32 - 2
_TAIL = 5
"""Words after a sequence's ids: the zero word, the record number (2) and the payload (2)."""


def encode(lists: pa.ListArray, numbers: np.ndarray, payload: np.ndarray) -> pa.Array:
    """Records of a ``list<int>`` array of sequences, with their record numbers and payloads (int64, >= 0)."""
    ids = pc.list_flatten(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    counts = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    word_start = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts + _TAIL, out=word_start[1:])
    words = np.zeros(int(word_start[-1]), dtype=np.uint32)
    words[ranges(word_start[:-1], counts)] = ids + 1
    ends = word_start[1:]
    for position, values in ((4, numbers), (2, payload)):
        values = np.asarray(values, dtype=np.uint64)
        words[ends - position] = (values >> np.uint64(32)).astype(np.uint32)
        words[ends - position + 1] = (values & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    data = words.astype(">u4").tobytes()
    offsets = (word_start * 4).astype(np.int64)
    return pa.Array.from_buffers(pa.large_binary(), len(counts), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def decode(records: pa.Array) -> Chunk:
    """The sequences and payloads of records (a binary array, in the order given)."""
    width = np.int64 if pa.types.is_large_binary(records.type) else np.int32
    offsets = np.frombuffer(records.buffers()[1], dtype=width, count=len(records) + 1,
                            offset=records.offset * width().itemsize).astype(np.int64)
    base = int(offsets[0])
    data = records.buffers()[2]
    words = np.frombuffer(data, dtype=">u4", count=(int(offsets[-1]) - base) // 4, offset=base) \
        if len(records) else np.zeros(0, dtype=">u4")
    word_offsets = (offsets - base) // 4
    counts = np.diff(word_offsets) - _TAIL
    tokens = words[ranges(word_offsets[:-1], counts)].astype(np.int64) - 1
    high = words[word_offsets[1:] - 2].astype(np.uint64)
    low = words[word_offsets[1:] - 1].astype(np.uint64)
    seq_offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=seq_offsets[1:])
    return Chunk(tokens, seq_offsets, ((high << np.uint64(32)) | low).astype(np.int64))

