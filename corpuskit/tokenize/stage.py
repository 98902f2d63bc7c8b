"""The tokenize stage: a column of tokens (or ids) added to every batch, in order, over N processes."""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from typing import Iterator

import pyarrow as pa

from corpuskit.errors import CorpusError
from corpuskit.pipeline import Context, Stage
from corpuskit.records import text_values, unterminated, with_tokens
from corpuskit.tokenize.arrays import BadText, decode, drop_space, pieces, to_ids
from corpuskit.tokenize.tokenizers import Segmenter, TokenizerSpec, tokenizer_spec
from corpuskit.tokenize.vocab import Vocab, as_vocab
from corpuskit.tokenize.workers import ordered_map

ERRORS = ("strict", "replace")
PIECE_BYTES = 256 * 1024
"""Text per item of work: small enough to share a batch among workers, large enough that IPC costs little."""


@dataclass(frozen=True)
class Settings:
    """Everything a worker needs to turn texts into token lists (small and picklable)."""

    spec: TokenizerSpec
    vocabulary: pa.Array | None
    unk_id: int | None
    own_ids: bool
    drop_space: bool
    errors: str


def tokenize(tokenizer: str = "jieba", *, mode: str = "accurate", hmm: bool = True,
             user_dict: str | os.PathLike | None = None, engine: str = "jieba", keep_ascii: bool = False,
             vocab: "Vocab | str | os.PathLike | None" = None, unk: str | int = "[UNK]", ids: bool = False,
             field: str | None = None, column: str | None = None, sep: str = " ", drop_space: bool = False,
             errors: str = "strict", workers: int = 1) -> Stage:
    """A stage that adds each record's tokens as a ``list<string>`` column (``tokens``).

    With ``vocab`` the column holds ids instead (``ids``, ``list<int32>``, ``unk`` for
    tokens the vocabulary lacks); ``ids=True`` with an ``hf:`` tokenizer gives the
    tokenizer's own ids. A text writer stores the tokens joined by ``sep``.
    ``workers`` processes (0: one per core) tokenize in parallel; the output is the
    same for any number. Every file is checked before any work starts.
    """
    spec = tokenizer_spec(tokenizer, mode, hmm, user_dict, engine, keep_ascii).check()
    if errors not in ERRORS:
        raise CorpusError(f"errors must be one of {', '.join(ERRORS)}, not {errors!r}")
    if ids and vocab is None and spec.name != "hf":
        raise CorpusError(f"ids=True needs a vocabulary for tokenizer {spec.name!r} (vocab=...)")
    if ids and vocab is None and drop_space:
        raise CorpusError("drop_space works on tokens, not on a tokenizer's own ids")
    workers = (os.cpu_count() or 1) if workers == 0 else workers
    if workers < 1:
        raise CorpusError(f"workers must be 1 or more (0 for one per core), not {workers}")
    loaded = None if vocab is None else as_vocab(vocab)
    unk_id = None if loaded is None else _unk_id(loaded, unk)
    settings = Settings(spec, None if loaded is None else loaded.array, unk_id, ids and loaded is None,
                        drop_space, errors)
    column = column or ("ids" if loaded is not None or ids else "tokens")

    def tokenize_batches(batches: Iterator[pa.RecordBatch], ctx: Context) -> Iterator[pa.RecordBatch]:
        waiting: deque[tuple[pa.RecordBatch, int, bool]] = deque()

        def texts() -> Iterator[pa.Array]:
            for batch in batches:
                batch = unterminated(batch)
                if column in batch.schema.names:
                    raise CorpusError(f"records already have a field {column!r}; name the output column "
                                      "another way (column=... / --column)")
                runs = list(pieces(text_values(batch, field), PIECE_BYTES))
                for n, (start, run) in enumerate(runs):
                    waiting.append((batch, start, n == len(runs) - 1))
                    yield run

        results = ordered_map(_tokenize, _setup, (settings,), texts(), workers)
        done: list[pa.ListArray] = []
        try:
            while True:
                try:
                    lists, replaced = next(results)
                except StopIteration:
                    return
                except BadText as exc:
                    batch, start, _ = waiting[0]
                    raise BadText(start + exc.index, exc.snippet).located(batch) from None
                batch, _, last = waiting.popleft()
                done.append(lists)
                if replaced:
                    ctx.counters.note("utf8_replaced", replaced)
                if last:
                    tokens = done[0] if len(done) == 1 else pa.concat_arrays(done)
                    done = []
                    yield with_tokens(batch.append_column(column, tokens), column, sep)
        finally:
            results.close()

    described = {**spec.identity, "column": column, "sep": sep, "drop_space": drop_space, "errors": errors,
                 "workers": workers}
    if loaded is not None:
        named = os.fspath(vocab) if isinstance(vocab, (str, os.PathLike)) else "<Vocab object>"
        described.update(vocab=named, vocab_size=len(loaded), unk_id=unk_id)
    return Stage(tokenize_batches, f"tokenize:{spec.describe()}", described)


def _unk_id(vocab: Vocab, unk: str | int) -> int:
    if isinstance(unk, int):
        if not 0 <= unk < len(vocab):
            raise CorpusError(f"unk id {unk} is outside the vocabulary (0..{len(vocab) - 1})")
        return unk
    found = vocab.id(unk)
    if found is None:
        raise CorpusError(f"the vocabulary has no {unk!r} for unknown tokens; add it, or give unk= another token "
                          "or an id")
    return found


@dataclass
class _Loaded:
    settings: Settings
    segmenter: Segmenter


def _setup(settings: Settings) -> _Loaded:
    return _Loaded(settings, settings.spec.load())


def _tokenize(loaded: _Loaded, values: pa.Array) -> tuple[pa.ListArray, int]:
    settings = loaded.settings
    texts, replaced = decode(values, settings.errors)
    if settings.own_ids:
        return loaded.segmenter.ids(texts), replaced
    lists = loaded.segmenter.tokens(texts)
    if settings.drop_space:
        lists = drop_space(lists)
    if settings.vocabulary is not None:
        lists = to_ids(lists, settings.vocabulary, settings.unk_id)
    return lists, replaced
