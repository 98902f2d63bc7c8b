"""A validation split that resembles the test set: adversarial validation with importance sampling.

    from corpuskit import split
    result = split("train.jsonl", test="test.jsonl", out="split/", valid_size=5000, seed=1)
    result.auc_train_vs_test, result.auc_valid_vs_test, result.effective_sample_size

A discriminator learns to tell training records (0) from test records (1); scored out of
fold, its D(x) gives importance weights w = D / (1 - D) ≈ q(x) / p(x), and the validation
set is drawn from the training set with probability ∝ w. The training set is read three
times: a uniform sample to fit on, every record's weight (and the draw), the outputs.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from corpuskit.errors import CorpusError
from corpuskit.io.atomic import atomic_dir, check_folder, refuse_existing
from corpuskit.records import text_values, untagged
from corpuskit.shuffle.keys import record_keys
from corpuskit.split import discriminator, draw, report
from corpuskit.split.features import Featurizer
from corpuskit.version import __version__

METHODS = ("adversarial", "random")


@dataclass
class SplitResult:
    """What ``split`` found and wrote."""

    method: str
    train_records: int
    test_records: int
    valid_draws: int
    valid_unique: int
    auc_train_vs_test: float | None
    auc_valid_vs_test: float | None
    auc_random_vs_test: float | None
    effective_sample_size: float | None
    weights: np.ndarray = field(repr=False)
    counts: np.ndarray = field(repr=False)
    report: dict = field(repr=False)
    out: str | None = None

    def summary(self) -> str:
        return report.summary(self.report)


def split(train: str | os.PathLike | Iterable[str | os.PathLike], test: str | os.PathLike | Iterable | None = None,
          out: str | os.PathLike | None = None, *, field: str | None = None, format: str | None = None,
          valid_size: int | None = None, valid_frac: float | None = None, method: str = "adversarial",
          replace: bool = True, weights_only: bool = False, tokenizer: str | None = None, ngrams: int = 2,
          features: int = 1 << 20, folds: int = 5, sample: int = 100_000, seed: int = 0, min_auc: float = 0.55,
          fallback: bool = True, force: bool = False, progress: bool | None = None, command: str | None = None,
          log: Callable[[str], None] = lambda text: None) -> SplitResult:
    """Carves a validation set out of ``train`` that resembles ``test``; writes it under ``out`` if given.

    ``valid_size`` or ``valid_frac`` sets its size; draws are with replacement unless
    ``replace=False`` (a record may then appear several times: deduplicating would bend
    the distribution), and drawn records leave the training output. ``weights_only``
    writes the weights and the report, no split. ``method="random"`` splits by xxh64 of
    each record's text (stable when the file is reordered). With no shift (out-of-fold
    AUC below ``min_auc``) the split falls back to random unless ``fallback=False``.
    The discriminator fits on a uniform sample of at most ``sample`` training records.
    """
    started = time.perf_counter()
    _check_arguments(method, test, valid_size, valid_frac, weights_only, sample, folds)
    out = None if out is None else os.fspath(out)
    if out is not None:
        refuse_existing(out, force)
        check_folder(out)
    featurizer = Featurizer(tokenizer, ngrams, features, seed)
    train_reader = _Reader(train, format, field, progress)
    n_train, sample_index, sample_texts = train_reader.sample(sample, seed)
    if n_train == 0:
        raise CorpusError("the training set is empty")
    size = _valid_size(n_train, valid_size, valid_frac, weights_only)
    info: dict = {"train_records": n_train, "method": method}
    disc = None
    if method == "adversarial":
        test_texts = _Reader(test, format, field, progress).all_texts(sample)
        if len(test_texts) == 0:
            raise CorpusError("the test set is empty: there is nothing for the validation set to resemble")
        log(f"plan: fit a discriminator on {len(sample_index):,} of {n_train:,} training records and "
            f"{len(test_texts):,} test records ({folds} folds, {features:,} hashed {ngrams}-gram features)")
        sample_tokens = featurizer.tokens(sample_texts)
        disc = discriminator.fit(featurizer.from_tokens(sample_tokens), featurizer.matrix(test_texts), folds, seed,
                                 discriminator.text_groups(sample_texts, test_texts))
        info.update(test_records=len(test_texts), auc_train_vs_test=round(disc.auc, 4),
                    shifted=disc.auc >= min_auc,
                    histogram=report.histogram(disc.oof[:len(sample_index)], disc.oof[len(sample_index):]),
                    top_features=_top_features(disc, featurizer, sample_tokens))
    method_used = method
    if disc is not None and not info["shifted"] and fallback and not weights_only:
        method_used = "random"
        info["fallback"] = (f"the discriminator cannot tell train from test (AUC {disc.auc:.3f} < {min_auc}): "
                            "a random split is as good, and that is what was done (fallback=False to weight anyway)")
    d = train_reader.scores(disc, featurizer, sample_index) if disc is not None else None
    weights = discriminator.importance(d) if d is not None else np.ones(n_train)
    weights = weights / weights.mean()
    rng = np.random.default_rng(seed)
    if weights_only:
        counts = np.zeros(n_train, dtype=np.int64)
    elif method_used == "adversarial":
        counts = draw.weighted(weights, size, replace, rng)
    else:
        counts = train_reader.hash_split(size / n_train, seed)
    random_counts = draw.weighted(np.ones(n_train), int(counts.sum()), False, rng) if disc is not None else None
    info.update(method_used=method_used, effective_sample_size=round(discriminator.effective_sample_size(weights), 1)
                if d is not None else None, valid_draws=int(counts.sum()), valid_unique=int((counts > 0).sum()),
                train_kept=int((counts == 0).sum()) if not weights_only else n_train)
    result_outputs = None
    if out is not None:
        with atomic_dir(out, force) as tmp:
            valid_texts, random_texts = train_reader.write(tmp, counts, random_counts, weights_only)
            _finish_report(info, disc, featurizer, valid_texts, random_texts, counts, test, folds, seed, format,
                           field, sample)
            _write_weights(tmp, d, weights, counts)
            result_outputs = _write_report(tmp, info, train, test, command, started, locals_settings(
                field, valid_size, valid_frac, method, replace, weights_only, tokenizer, ngrams, features, folds,
                sample, seed, min_auc, fallback))
    else:
        valid_texts, random_texts = train_reader.texts_of(counts, random_counts)
        _finish_report(info, disc, featurizer, valid_texts, random_texts, counts, test, folds, seed, format, field,
                       sample)
    info.setdefault("auc_valid_vs_test", None)
    info.setdefault("auc_random_vs_test", None)
    return SplitResult(method_used, n_train, info.get("test_records", 0), info["valid_draws"], info["valid_unique"],
                       info.get("auc_train_vs_test"), info["auc_valid_vs_test"], info["auc_random_vs_test"],
                       info["effective_sample_size"], weights, counts, info, out if result_outputs else None)


def _check_arguments(method: str, test, valid_size, valid_frac, weights_only, sample, folds) -> None:
    if method not in METHODS:
        raise CorpusError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "adversarial" and test is None:
        raise CorpusError("an adversarial split needs the test set (test=... / --test); or use method='random'")
    if weights_only and method != "adversarial":
        raise CorpusError("weights_only needs the adversarial method: random splits have no weights")
    if not weights_only and (valid_size is None) == (valid_frac is None):
        raise CorpusError("give the validation size: valid_size=N or valid_frac=F (--valid-size / --valid-frac)")
    if valid_size is not None and valid_size < 1:
        raise CorpusError(f"valid_size must be at least 1, not {valid_size}")
    if valid_frac is not None and not 0 < valid_frac < 1:
        raise CorpusError(f"valid_frac must lie between 0 and 1, not {valid_frac}")
    if sample < 10 or folds < 2:
        raise CorpusError("sample must be at least 10 and folds at least 2")


def _valid_size(n_train: int, valid_size: int | None, valid_frac: float | None, weights_only: bool) -> int:
    if weights_only:
        return 0
    size = valid_size if valid_size is not None else max(1, round(valid_frac * n_train))
    if size >= n_train:
        raise CorpusError(f"the training set has {n_train:,} records: too few for a validation set of {size:,}")
    return size


def _top_features(disc: discriminator.Discriminator, featurizer: Featurizer, tokens: pa.ListArray,
                  k: int = 15) -> dict:
    coef = disc.coefficients()
    order = np.argsort(coef)
    wanted = np.concatenate([order[-k * 3:], order[:k * 3]])
    names = featurizer.names(tokens, wanted)
    out = {}
    for side, columns in (("test", order[::-1]), ("train", order)):
        picked = [c for c in columns[:k * 3] if int(c) in names][:k]
        out[side] = [{"ngram": names[int(c)], "weight": round(float(coef[c]), 4)} for c in picked]
    return out


def _finish_report(info: dict, disc, featurizer: Featurizer, valid_texts: pa.Array | None,
                   random_texts: pa.Array | None, counts: np.ndarray, test, folds: int, seed: int, format, field,
                   sample: int) -> None:
    """AUC of fresh discriminators: the chosen validation set, and a random one of the same size, against test."""
    if disc is None or valid_texts is None or len(valid_texts) < 2:
        return
    test_texts = _Reader(test, format, field, False).all_texts(sample)
    test_matrix = featurizer.matrix(test_texts)
    copies = np.repeat(np.arange(len(valid_texts)), counts[counts > 0])
    valid_texts = valid_texts.take(pa.array(copies))
    info["auc_valid_vs_test"] = round(discriminator.fit(
        featurizer.matrix(valid_texts), test_matrix, folds, seed,
        discriminator.text_groups(valid_texts, test_texts), discriminator.C_CHECK).auc, 4)
    info["auc_random_vs_test"] = round(discriminator.fit(
        featurizer.matrix(random_texts), test_matrix, folds, seed,
        discriminator.text_groups(random_texts, test_texts), discriminator.C_CHECK).auc, 4)


def _write_weights(folder: str, d: np.ndarray | None, weights: np.ndarray, counts: np.ndarray) -> None:
    if d is None:
        return
    table = pa.table({"record": np.arange(len(weights), dtype=np.int64), "d": d, "weight": weights,
                      "valid_draws": counts})
    pq.write_table(table, os.path.join(folder, "weights.parquet"), compression="zstd")


def _write_report(folder: str, info: dict, train, test, command: str | None, started: float,
                  settings: dict) -> bool:
    info.update(corpuskit=__version__, command=command, train=_paths(train), test=_paths(test),
                settings=settings, seconds=round(time.perf_counter() - started, 3))
    with open(os.path.join(folder, "report.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2, ensure_ascii=False, default=_plain)
        f.write("\n")
    with open(os.path.join(folder, "report.html"), "w", encoding="utf-8") as f:
        f.write(report.to_html(json.loads(json.dumps(info, default=_plain))))
    return True


def locals_settings(field, valid_size, valid_frac, method, replace, weights_only, tokenizer, ngrams, features,
                    folds, sample, seed, min_auc, fallback) -> dict:
    return {"field": field, "valid_size": valid_size, "valid_frac": valid_frac, "method": method,
            "replace": replace, "weights_only": weights_only, "tokenizer": tokenizer or "default (CJK chars + "
            "ASCII words, lower-cased)", "ngrams": ngrams, "features": features, "folds": folds, "sample": sample,
            "seed": seed, "min_auc": min_auc, "fallback": fallback}


def _paths(paths) -> list[str] | None:
    if paths is None:
        return None
    return [os.fspath(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]


def _plain(value: object) -> object:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return str(value)


class _Reader:
    """One side's records, read as often as the split needs them."""

    def __init__(self, paths, format: str | None, field: str | None, progress: bool | None) -> None:
        from corpuskit.io.reader import read

        self.pipe = read(paths, format=format, field=field)
        self.field = field
        self.progress = progress
        formats = {s.format for s in self.pipe.source.specs}
        self.format = formats.pop() if len(formats) == 1 else "jsonl"

    def batches(self) -> Iterator[pa.RecordBatch]:
        yield from self.pipe.batches(progress=self.progress)

    def texts(self) -> Iterator[pa.Array]:
        for batch in self.batches():
            yield text_values(batch, self.field)

    def all_texts(self, limit: int) -> pa.Array:
        """Every text, or a uniform sample of ``limit`` of them when there are more."""
        n, _, texts = self.sample(limit, 0)
        return texts

    def sample(self, limit: int, seed: int) -> tuple[int, np.ndarray, pa.Array]:
        """(record count, indices of a uniform sample of at most ``limit`` records, their texts): the
        ``limit`` records with the smallest seeded hash of their position."""
        keys = np.zeros(0, dtype=np.uint64)
        index = np.zeros(0, dtype=np.int64)
        kept: list[pa.Array] = []
        n = 0
        for values in self.texts():
            keys = np.concatenate([keys, record_keys(seed, n, len(values))])
            index = np.concatenate([index, np.arange(n, n + len(values))])
            kept.append(values)
            n += len(values)
            if len(keys) > 2 * limit:
                keys, index, kept = _smallest(keys, index, kept, limit)
        if len(keys) > limit:
            keys, index, kept = _smallest(keys, index, kept, limit)
        texts = pa.concat_arrays(kept) if kept else pa.array([], pa.large_binary())
        order = np.argsort(index)
        return n, index[order], texts.take(pa.array(order))

    def scores(self, disc: discriminator.Discriminator, featurizer: Featurizer, sample_index: np.ndarray) -> np.ndarray:
        """D of every record: out of fold for the sampled ones, by the fold models for the rest."""
        parts, n = [], 0
        sampled = np.zeros(0, dtype=bool)
        for values in self.texts():
            positions = np.arange(n, n + len(values))
            sampled = np.isin(positions, sample_index)
            d = np.empty(len(values))
            if (~sampled).any():
                d[~sampled] = disc.score(featurizer.matrix(values.take(pa.array(np.flatnonzero(~sampled)))))
            d[sampled] = disc.oof[np.searchsorted(sample_index, positions[sampled])]
            parts.append(d)
            n += len(values)
        return np.concatenate(parts) if parts else np.zeros(0)

    def hash_split(self, fraction: float, seed: int) -> np.ndarray:
        return np.concatenate([draw.by_hash(values, fraction, seed) for values in self.texts()])

    def texts_of(self, counts: np.ndarray, other: np.ndarray | None) -> tuple[pa.Array | None, pa.Array | None]:
        chosen, randoms, n = [], [], 0
        for values in self.texts():
            chosen.append(values.filter(pa.array(counts[n:n + len(values)] > 0)))
            if other is not None:
                randoms.append(values.filter(pa.array(other[n:n + len(values)] > 0)))
            n += len(values)
        return (pa.concat_arrays(chosen) if chosen else None,
                pa.concat_arrays(randoms) if randoms and other is not None else None)

    def write(self, folder: str, counts: np.ndarray, other: np.ndarray | None,
              weights_only: bool) -> tuple[pa.Array | None, pa.Array | None]:
        """Writes train.<ext> (records drawn 0 times) and valid.<ext> (each record as often as drawn)."""
        from corpuskit.io.writer import write

        ext = {"text": "txt", "jsonl": "jsonl", "parquet": "parquet"}[self.format]
        chosen, randoms = [], []
        spool = os.path.join(folder, ".valid.arrow")
        writer = None

        def train_batches() -> Iterator[pa.RecordBatch]:
            nonlocal writer
            n = 0
            for batch in self.batches():
                c = counts[n:n + len(batch)]
                values = text_values(batch, self.field)
                if (c > 0).any():
                    chosen.append(values.filter(pa.array(c > 0)))
                    repeated = untagged(batch).take(pa.array(np.repeat(np.arange(len(batch)), c)))
                    if writer is None:
                        writer = pa.ipc.new_file(spool, repeated.schema)
                    writer.write_batch(repeated)
                if other is not None:
                    randoms.append(values.filter(pa.array(other[n:n + len(batch)] > 0)))
                n += len(batch)
                yield batch.filter(pa.array(c == 0)) if (c > 0).any() else batch

        if weights_only:
            for _ in train_batches():
                pass
        else:
            write(os.path.join(folder, f"train.{ext}"), format=self.format, manifest=False).consume(
                train_batches(), [], self.format, lambda outputs: {})
        if writer is not None:
            writer.close()
            if not weights_only:
                with pa.memory_map(spool) as source:
                    reader = pa.ipc.open_file(source)
                    write(os.path.join(folder, f"valid.{ext}"), format=self.format, manifest=False).consume(
                        (reader.get_batch(i) for i in range(reader.num_record_batches)), [], self.format,
                        lambda outputs: {})
            os.remove(spool)
        return (pa.concat_arrays(chosen) if chosen else None,
                pa.concat_arrays(randoms) if randoms else None)


def _smallest(keys: np.ndarray, index: np.ndarray, kept: list[pa.Array], limit: int):
    order = np.argpartition(keys, limit - 1)[:limit]
    texts = pa.concat_arrays(kept).take(pa.array(order))
    return keys[order], index[order], [texts]
