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

import contextlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpuskit.errors import CorpusError
from corpuskit.io.atomic import atomic_dir, check_folder, refuse_existing
from corpuskit.split import discriminator, draw, report
from corpuskit.split.draw import Drawn
from corpuskit.split.features import Featurizer
from corpuskit.split.records import Records
from corpuskit.split.scores import Scores
from corpuskit.units import format_size, parse_size
from corpuskit.version import __version__

METHODS = ("adversarial", "random")
MIN_MEM = 512 << 20
BASE_RSS = 350 << 20
"""Python, pyarrow, scikit-learn and a batch being scored."""
FIT_COST = 40
"""Peak memory of fitting per byte of sampled text, train and test (features, their copies, two
fold models at once): 27 measured on 1 GiB of English and Chinese JSONL."""


@dataclass
class SplitResult:
    """What ``split`` found and wrote. ``weights`` (normalized to mean 1) and ``counts`` (validation
    draws per record) are arrays over the training set when no ``out`` was given; with ``out`` they
    are in ``out/weights.parquet`` instead, so memory stays bounded."""

    method: str
    train_records: int
    test_records: int
    valid_draws: int
    valid_unique: int
    auc_train_vs_test: float | None
    auc_valid_vs_test: float | None
    auc_random_vs_test: float | None
    effective_sample_size: float | None
    report: dict = field(repr=False)
    weights: np.ndarray | None = field(default=None, repr=False)
    counts: np.ndarray | None = field(default=None, repr=False)
    out: str | None = None

    def summary(self) -> str:
        return report.summary(self.report)


def split(train: str | os.PathLike | Iterable[str | os.PathLike], test: str | os.PathLike | Iterable | None = None,
          out: str | os.PathLike | None = None, *, field: str | None = None, format: str | None = None,
          valid_size: int | None = None, valid_frac: float | None = None, method: str = "adversarial",
          replace: bool = True, weights_only: bool = False, tokenizer: str | None = None, ngrams: int = 2,
          features: int = 1 << 20, folds: int = 5, sample: int = 100_000, mem: str | int | None = None,
          seed: int = 0, min_auc: float = 0.55, check_frac: float = 0.3, fallback: bool = True,
          force: bool = False, tmp: str | None = None, progress: bool | None = None, command: str | None = None,
          log: Callable[[str], None] = lambda text: None) -> SplitResult:
    """Carves a validation set out of ``train`` that resembles ``test``; writes it under ``out`` if given.

    ``valid_size`` or ``valid_frac`` sets its size; draws are with replacement, so a record
    may appear several times (deduplicating would bend the distribution), unless
    ``replace=False``; drawn records leave the training output. ``weights_only``
    writes the weights and the report, no split. ``method="random"`` splits by xxh64 of
    each record's text (stable when the file is reordered). With no shift (out-of-fold
    AUC below ``min_auc``) the split falls back to random unless ``fallback=False``.

    The discriminator fits on a uniform sample of at most ``sample`` training records
    (fewer when ``mem`` says so); scores and draws stream over the training set, and the
    scores wait in a flat file (in ``out``, or ``tmp``), so memory does not grow with it.
    A ``check_frac`` share of the test records (by hash of their text) is held out of the
    weights and used only to judge the chosen validation set: judged against the records
    it was fitted to resemble, a validation set looks closer to test than it is.
    """
    started = time.perf_counter()
    _check_arguments(method, test, valid_size, valid_frac, weights_only, sample, folds, check_frac)
    settings = {"field": field, "valid_size": valid_size, "valid_frac": valid_frac, "method": method,
                "replace": replace, "weights_only": weights_only,
                "tokenizer": tokenizer or "default (CJK chars + ASCII words, lower-cased)", "ngrams": ngrams,
                "features": features, "folds": folds, "sample": sample, "mem": mem, "seed": seed,
                "min_auc": min_auc, "check_frac": check_frac, "fallback": fallback}
    budget = _sample_budget(mem)
    out = None if out is None else os.fspath(out)
    if out is not None:
        refuse_existing(out, force)
        check_folder(out)
    featurizer = Featurizer(tokenizer, ngrams, features, seed)
    records = Records(train, format, field, progress)
    n_train, sample_index, sample_texts = records.sample(sample, seed, budget)
    if n_train == 0:
        raise CorpusError("the training set is empty")
    size = _valid_size(n_train, valid_size, valid_frac, weights_only)
    info: dict = {"train_records": n_train, "method": method}
    disc, check_texts = None, None
    if method == "adversarial":
        test_texts = Records(test, format, field, progress).sample(sample, 0, budget)[2]
        if len(test_texts) == 0:
            raise CorpusError("the test set is empty: there is nothing for the validation set to resemble")
        test_texts, check_texts = _hold_out(test_texts, check_frac, seed)
        log(f"plan: fit a discriminator on {len(sample_index):,} of {n_train:,} training records and "
            f"{len(test_texts):,} test records ({folds} folds, {features:,} hashed {ngrams}-gram features); "
            f"score all {n_train:,}; judge the split against {len(check_texts):,} held-out test records")
        sample_tokens = featurizer.tokens(sample_texts)
        disc = discriminator.fit(featurizer.from_tokens(sample_tokens), featurizer.matrix(test_texts), folds, seed,
                                 discriminator.text_groups(sample_texts, test_texts))
        info.update(test_records=len(test_texts) + len(check_texts), test_held_out=len(check_texts),
                    sample_records=len(sample_index), auc_train_vs_test=round(disc.auc, 4),
                    shifted=disc.auc >= min_auc,
                    histogram=report.histogram(disc.oof[:len(sample_index)], disc.oof[len(sample_index):]),
                    top_features=_top_features(disc, featurizer, sample_tokens))
        del sample_tokens, sample_texts
    method_used = method
    if disc is not None and not info["shifted"] and fallback and not weights_only:
        method_used = "random"
        info["fallback"] = (f"the discriminator cannot tell train from test (AUC {disc.auc:.3f} < {min_auc}): "
                            "a random split is as good, and that is what was done (fallback=False to weight anyway)")
    rng = np.random.default_rng(seed)
    with _workspace(out, force, tmp) as folder:
        scores = None
        if disc is not None:
            scores = Scores(os.path.join(folder, ".scores.f64"))
            records.score(disc, featurizer, sample_index, scores)
        if weights_only:
            drawn = Drawn.empty()
        elif method_used == "adversarial":
            drawn = draw.weighted(scores.weight_blocks, size, replace, rng)
        else:
            drawn = records.hash_split(size / n_train, seed)
        judged = []
        if disc is not None:
            valid_part = drawn.subsample(len(sample_index), rng)
            judged = [valid_part, draw.uniform(n_train, valid_part.draws, rng)]
        if out is not None and not weights_only:
            judged_texts = records.write(folder, drawn, *judged)
        else:
            judged_texts = records.texts_of(*judged) if judged and not weights_only else []
        mean_weight, ess = scores.summary() if scores is not None else (1.0, None)
        info.update(method_used=method_used, effective_sample_size=None if ess is None else round(ess, 1),
                    valid_draws=drawn.draws, valid_unique=len(drawn.index),
                    train_kept=n_train - len(drawn.index))
        _judge(info, featurizer, [_at_most(t, budget, rng) for t in judged_texts], check_texts, folds, seed)
        if scores is not None and out is not None:
            scores.write_parquet(os.path.join(folder, "weights.parquet"), drawn, mean_weight)
        weights = counts = None
        if out is None:
            weights = discriminator.importance(scores.all()) / mean_weight if scores is not None else np.ones(n_train)
            counts = drawn.counts(0, n_train)
        if scores is not None:
            os.remove(scores.path)
        if out is not None:
            _write_report(folder, info, train, test, command, started, settings)
    info.setdefault("auc_valid_vs_test", None)
    info.setdefault("auc_random_vs_test", None)
    return SplitResult(method_used, n_train, info.get("test_records", 0), info["valid_draws"], info["valid_unique"],
                       info.get("auc_train_vs_test"), info["auc_valid_vs_test"], info["auc_random_vs_test"],
                       info["effective_sample_size"], info, weights, counts, out)


@contextlib.contextmanager
def _workspace(out: str | None, force: bool, tmp: str | None) -> Iterator[str]:
    """The output folder under a temporary name (renamed when complete), or a scratch folder."""
    if out is not None:
        with atomic_dir(out, force) as folder:
            yield folder
    else:
        with tempfile.TemporaryDirectory(prefix="corpuskit-split-", dir=tmp) as folder:
            yield folder


def _sample_budget(mem: str | int | None) -> int | None:
    """Bytes of text each side of a discriminator may fit on within ``mem``: its features and the
    fold models (two fitting at once) take about ``FIT_COST`` times the text of both sides, and the
    process needs ``BASE_RSS``."""
    if mem is None:
        return None
    limit = parse_size(mem)
    if limit < MIN_MEM:
        raise CorpusError(f"mem={mem}: a split needs at least {format_size(MIN_MEM)}")
    return (limit - BASE_RSS) // FIT_COST // 2


def _at_most(texts: pa.Array, max_bytes: int | None, rng: np.random.Generator) -> pa.Array:
    """A uniform subset of ``texts`` whose bytes stay within ``max_bytes``."""
    if max_bytes is None or texts.nbytes <= max_bytes:
        return texts
    order = rng.permutation(len(texts))
    sizes = pc.binary_length(texts).to_numpy(zero_copy_only=False).astype(np.int64)[order]
    keep = order[:max(2, int(np.searchsorted(np.cumsum(sizes), max_bytes)))]
    return texts.take(pa.array(np.sort(keep)))


def _check_arguments(method: str, test, valid_size, valid_frac, weights_only, sample, folds, check_frac) -> None:
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
    if not 0 <= check_frac < 1:
        raise CorpusError(f"check_frac must be at least 0 and below 1, not {check_frac}")
    if sample < 10 or folds < 2:
        raise CorpusError("sample must be at least 10 and folds at least 2")


def _hold_out(texts: pa.Array, fraction: float, seed: int) -> tuple[pa.Array, pa.Array]:
    """(records to fit the weights on, records to judge the split with), split by hash of the text
    so that copies of one text fall on one side; the fitting side is never left empty."""
    held = draw.by_hash(texts, fraction, seed ^ 0x5EED) > 0
    if held.all() or fraction == 0:
        held[:] = False
    return texts.filter(pa.array(~held)), texts.filter(pa.array(held))


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


def _judge(info: dict, featurizer: Featurizer, judged: list[pa.Array], test_texts: pa.Array | None, folds: int,
           seed: int) -> None:
    """AUC of fresh discriminators against the held-out test records: the chosen validation set, and a
    random one of the same size (0.5: indistinguishable from test); and their mean text length, which
    the weights may bend (a linear model grows more confident on longer texts)."""
    if len(judged) != 2 or test_texts is None or len(test_texts) < 2 or min(map(len, judged)) < 2:
        return
    info["mean_text_bytes"] = {name: round(float(pc.mean(pc.binary_length(texts)).as_py()), 1)
                               for name, texts in (("valid", judged[0]), ("random", judged[1]), ("test", test_texts))}
    test_matrix = featurizer.matrix(test_texts)
    for name, texts in zip(("auc_valid_vs_test", "auc_random_vs_test"), judged):
        info[name] = round(discriminator.fit(featurizer.matrix(texts), test_matrix, folds, seed,
                                             discriminator.text_groups(texts, test_texts), discriminator.C_CHECK).auc, 4)


def _write_report(folder: str, info: dict, train, test, command: str | None, started: float,
                  settings: dict) -> None:
    info.update(corpuskit=__version__, command=command, train=_paths(train), test=_paths(test),
                settings=settings, seconds=round(time.perf_counter() - started, 3))
    with open(os.path.join(folder, "report.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2, ensure_ascii=False, default=_plain)
        f.write("\n")
    with open(os.path.join(folder, "report.html"), "w", encoding="utf-8") as f:
        f.write(report.to_html(json.loads(json.dumps(info, default=_plain))))


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
