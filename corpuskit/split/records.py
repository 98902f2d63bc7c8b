"""One side of a split, read as often as the split needs it, a batch at a time."""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np
import pyarrow as pa

from corpuskit.io.paths import common_format, extension
from corpuskit.records import text_values, untagged
from corpuskit.shuffle.keys import record_keys
from corpuskit.split import discriminator
from corpuskit.split.draw import Drawn, by_hash
from corpuskit.split.features import Featurizer
from corpuskit.split.scores import Scores


class Records:
    """The records of some files (any readable format), with the text of ``field`` as features."""

    def __init__(self, paths, format: str | None, field: str | None, progress: bool | None) -> None:
        from corpuskit.io.reader import read

        self.pipe = read(paths, format=format, field=field)
        self.field = field
        self.progress = progress
        self.format = common_format(self.pipe.source.specs)

    def batches(self) -> Iterator[pa.RecordBatch]:
        yield from self.pipe.batches(progress=self.progress)

    def texts(self) -> Iterator[tuple[int, pa.Array]]:
        """(number of the first record, texts) per batch."""
        n = 0
        for batch in self.batches():
            yield n, text_values(batch, self.field)
            n += batch.num_rows

    def sample(self, limit: int, seed: int, max_bytes: int | None = None) -> tuple[int, np.ndarray, pa.Array]:
        """(record count, numbers of a uniform sample of at most ``limit`` records in order, their texts):
        the records with the smallest seeded hash of their number. ``max_bytes`` lowers ``limit``
        so that the sample's text stays within it."""
        keys = np.zeros(0, dtype=np.uint64)
        index = np.zeros(0, dtype=np.int64)
        kept: list[pa.Array] = []
        n = 0
        for start, values in self.texts():
            if max_bytes is not None and start == 0 and len(values):
                limit = max(10, min(limit, max_bytes // (values.nbytes // len(values) + 1) // 2))
            keys = np.concatenate([keys, record_keys(seed, start, len(values))])
            index = np.concatenate([index, np.arange(start, start + len(values))])
            kept.append(values)
            n = start + len(values)
            if len(keys) > 2 * limit:
                keys, index, kept = _smallest(keys, index, kept, limit)
        if len(keys) > limit:
            keys, index, kept = _smallest(keys, index, kept, limit)
        texts = pa.concat_arrays(kept) if kept else pa.array([], pa.large_binary())
        order = np.argsort(index)
        return n, index[order], texts.take(pa.array(order))

    def score(self, disc: discriminator.Discriminator, featurizer: Featurizer, sample_index: np.ndarray,
              scores: Scores) -> None:
        """D of every record into ``scores``: out of fold for the sampled ones, by the fold models' mean
        for the rest (no record is scored by a model that was fitted on it)."""
        for n, values in self.texts():
            lo, hi = np.searchsorted(sample_index, [n, n + len(values)])
            sampled = np.zeros(len(values), dtype=bool)
            sampled[sample_index[lo:hi] - n] = True
            d = np.empty(len(values))
            if (~sampled).any():
                d[~sampled] = disc.score(featurizer.matrix(values.filter(pa.array(~sampled))))
            d[sampled] = disc.oof[lo:hi]
            scores.append(d)
        scores.close()

    def hash_split(self, fraction: float, seed: int) -> Drawn:
        """The records whose text hashes into the first ``fraction`` of the range."""
        return Drawn.of(np.concatenate([n + np.flatnonzero(by_hash(values, fraction, seed))
                                        for n, values in self.texts()] or [np.zeros(0, dtype=np.int64)]))

    def texts_of(self, *drawns: Drawn) -> list[pa.Array]:
        """The texts of each draw, a record repeated as often as it was drawn."""
        found: list[list[pa.Array]] = [[] for _ in drawns]
        for n, values in self.texts():
            for out, drawn in zip(found, drawns):
                out.append(_repeat(values, drawn.counts(n, len(values))))
        return [pa.concat_arrays(out) if out else pa.array([], pa.large_binary()) for out in found]

    def write(self, folder: str, drawn: Drawn, *judged: Drawn) -> list[pa.Array]:
        """Writes train.<ext> (the records never drawn) and valid.<ext> (each drawn record as often as it
        was drawn) into ``folder``; returns the texts of each of the ``judged`` draws as ``texts_of``."""
        from corpuskit.io.writer import write

        ext = extension(self.format, None)
        found: list[list[pa.Array]] = [[] for _ in judged]
        spool = os.path.join(folder, ".valid.arrow")
        writer = None

        def kept_batches() -> Iterator[pa.RecordBatch]:
            nonlocal writer
            n = 0
            for batch in self.batches():
                values = text_values(batch, self.field)
                for out, other in zip(found, judged):
                    out.append(_repeat(values, other.counts(n, batch.num_rows)))
                counts = drawn.counts(n, batch.num_rows)
                n += batch.num_rows
                if not counts.any():
                    yield batch
                    continue
                repeated = untagged(batch).take(pa.array(np.repeat(np.arange(batch.num_rows), counts)))
                if writer is None:
                    writer = pa.ipc.new_file(spool, repeated.schema)
                writer.write_batch(repeated)
                yield batch.filter(pa.array(counts == 0))

        write(os.path.join(folder, f"train{ext}"), format=self.format, manifest=False).consume(
            kept_batches(), [], self.format, lambda outputs: {})
        if writer is not None:
            writer.close()
            with pa.memory_map(spool) as source:
                reader = pa.ipc.open_file(source)
                write(os.path.join(folder, f"valid{ext}"), format=self.format, manifest=False).consume(
                    (reader.get_batch(i) for i in range(reader.num_record_batches)), [], self.format,
                    lambda outputs: {})
            os.remove(spool)
        return [pa.concat_arrays(out) if out else pa.array([], pa.large_binary()) for out in found]


def _repeat(values: pa.Array, counts: np.ndarray) -> pa.Array:
    return values.take(pa.array(np.repeat(np.arange(len(values)), counts)))


def _smallest(keys: np.ndarray, index: np.ndarray, kept: list[pa.Array], limit: int):
    order = np.argpartition(keys, limit - 1)[:limit]
    texts = pa.concat_arrays(kept).take(pa.array(order))
    return keys[order], index[order], [texts]
