"""Hashed token n-gram features, the same for Chinese and English with no option given.

By default text is lower-cased and cut into one token per CJK (or other non-ASCII)
character and one per run of ASCII letters and digits, spaces dropped: words for
English, characters for Chinese, no dictionary to load. Unigrams and bigrams are
hashed with xxh64 (vectorized) into a fixed number of columns; rows are L2-normalized.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpuskit.hashing import xxh64_lines
from corpuskit.tokenize.arrays import char_tokens, decode, drop_space
from corpuskit.tokenize.tokenizers import Segmenter, tokenizer_spec

if TYPE_CHECKING:
    import scipy.sparse as sp

_BIGRAM = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class Featurizer:
    """Text to a sparse matrix of hashed n-gram counts."""

    tokenizer: str | None = None
    ngrams: int = 2
    columns: int = 1 << 20
    seed: int = 0

    def tokens(self, texts: pa.Array) -> pa.ListArray:
        """Each text's tokens (the default mixed tokenizer, or the one named)."""
        strings, _ = decode(texts, "replace")
        if self.tokenizer is None:
            return drop_space(char_tokens(pc.utf8_lower(strings).cast(pa.large_string()), keep_ascii=True))
        return drop_space(_segmenter(self.tokenizer).tokens(strings))

    def matrix(self, texts: pa.Array) -> sp.csr_matrix:
        """Rows of L2-normalized n-gram counts, one per text."""
        return self.from_tokens(self.tokens(texts))

    def from_tokens(self, lists: pa.ListArray) -> sp.csr_matrix:
        import scipy.sparse as sp

        rows, cols = self.cells(lists)
        counts = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                               shape=(len(lists), self.columns))
        counts.sum_duplicates()
        norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
        norms[norms == 0] = 1
        counts.data /= np.repeat(norms, np.diff(counts.indptr)).astype(np.float32)
        return counts

    def cells(self, lists: pa.ListArray) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of every n-gram occurrence, n from 1 to ``ngrams``."""
        rows, cols = [], []
        for _, starts, row, column in self._grams(lists):
            rows.append(row)
            cols.append(column)
        return np.concatenate(rows), np.concatenate(cols)

    def names(self, lists: pa.ListArray, wanted: np.ndarray) -> dict[int, str]:
        """A readable n-gram for each of the ``wanted`` columns that occurs in ``lists``."""
        flat = pc.list_flatten(lists).to_numpy(zero_copy_only=False)
        found: dict[int, str] = {}
        for n, starts, _, columns in self._grams(lists):
            for i in np.flatnonzero(np.isin(columns, wanted)):
                found.setdefault(int(columns[i]), " ".join(flat[starts[i]:starts[i] + n]))
        return found

    def _grams(self, lists: pa.ListArray) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """For n from 1 to ``ngrams``: (n, position of each n-gram's first token in the flat tokens,
        its row, its column), n-grams within one text only."""
        flat = pc.list_flatten(lists)
        parents = pc.list_parent_indices(lists).to_numpy()
        hashes = xxh64_lines(flat, self.seed)
        gram = hashes
        for n in range(1, self.ngrams + 1):
            if n > 1:
                with np.errstate(over="ignore"):
                    gram = gram[:-1] * _BIGRAM ^ hashes[n - 1:]
            starts = np.flatnonzero(parents[n - 1:] == parents[:len(parents) - n + 1])
            yield n, starts, parents[starts], (gram[starts] % np.uint64(self.columns)).astype(np.int64)


_segmenters: dict[str, Segmenter] = {}


def _segmenter(name: str) -> Segmenter:
    if name not in _segmenters:
        _segmenters[name] = tokenizer_spec(name).check().load()
    return _segmenters[name]

