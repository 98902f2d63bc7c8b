"""Vocabularies: token counts over any number of files, saved as ``token<TAB>count`` lines.

A token's id is its line number from 0: the special tokens come first, then the
rest by descending count (ties by code point order), so the same corpus and
settings always give the same file.
"""

from __future__ import annotations

import functools
import json
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from corpuskit.errors import CorpusError, InputError
from corpuskit.hashing import file_digest
from corpuskit.io.atomic import atomic_file, check_folder, refuse_existing
from corpuskit.records import origin, text_values, tokens_column
from corpuskit.threads import closing
from corpuskit.tokenize.arrays import BadText, decode, drop_empty
from corpuskit.version import __version__

if TYPE_CHECKING:
    from corpuskit.pipeline import Pipeline, Stage

SPECIALS = ("[PAD]", "[UNK]")
_UNSAVABLE = ("\t", "\n", "\r")


@dataclass(frozen=True)
class Vocab:
    """Tokens in id order, with the count each had in the corpus it was built from."""

    tokens: tuple[str, ...]
    counts: tuple[int, ...]
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self.index

    @functools.cached_property
    def index(self) -> dict[str, int]:
        return {token: i for i, token in enumerate(self.tokens)}

    @functools.cached_property
    def array(self) -> pa.Array:
        """The tokens as an Arrow string array: position is id."""
        return pa.array(self.tokens, type=pa.string())

    def id(self, token: str) -> int | None:
        return self.index.get(token)

    def save(self, path: str | os.PathLike, force: bool = False) -> str:
        """Writes ``token<TAB>count`` lines (atomically: complete or not at all); returns the path."""
        path = os.fspath(path)
        with atomic_file(path, force) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(f"{token}\t{count}\n" for token, count in zip(self.tokens, self.counts))
        return path


def build_vocab(inputs: "str | os.PathLike | Iterable[str | os.PathLike] | Pipeline",
                out: str | os.PathLike | None = None, *, field: str | None = None, format: str | None = None,
                tokenizer: "str | Stage | None" = None, sep: str = " ", min_count: int = 1,
                max_size: int | None = None, specials: Sequence[str] = SPECIALS, force: bool = False,
                progress: bool | None = None, command: str | None = None, **tokenize_options) -> Vocab:
    """Counts the tokens of ``inputs`` in one streaming pass and keeps the frequent ones.

    Inputs hold tokens already (a ``tokens`` column, or text split at ``sep``), or are
    tokenized on the way when ``tokenizer`` is given (a name, with ``tokenize``'s options,
    or a tokenize stage). Memory grows with the number of distinct tokens, not the
    corpus. With ``out`` the vocabulary is saved there, with a manifest beside it.
    """
    from corpuskit.io.reader import read
    from corpuskit.pipeline import Pipeline, Stage
    from corpuskit.tokenize.stage import tokenize

    if out is not None:
        out = os.fspath(out)
        refuse_existing(out, force)
        check_folder(out)
    vocab_from_counts({}, min_count, max_size, specials)
    pipe = inputs if isinstance(inputs, Pipeline) else read(inputs, format=format, field=field)
    if tokenizer is not None:
        pipe = pipe | (tokenizer if isinstance(tokenizer, Stage) else tokenize(tokenizer, field=field,
                                                                                  **tokenize_options))
    started = time.perf_counter()
    batches = pipe.batches(progress=progress)
    with closing(batches):
        counts = count_tokens(batches, None if tokenizer is not None else field, sep)
    vocab = vocab_from_counts(counts, min_count, max_size, specials)
    if out is not None:
        vocab.save(out, force)
        _write_manifest(vocab, counts, out, pipe, command, started,
                        {"min_count": min_count, "max_size": max_size, "specials": list(specials), "sep": sep})
    return vocab


def _write_manifest(vocab: Vocab, counts: dict[str, int], out: str, pipe: "Pipeline", command: str | None,
                    started: float, settings: dict) -> None:
    manifest = {
        "corpuskit": __version__,
        "command": command or repr(pipe),
        "inputs": pipe.source.describe(),
        "stages": [{"name": s.name, **s.settings} for s in pipe.stages],
        "settings": settings,
        "tokens_counted": sum(counts.values()),
        "distinct_tokens": len(counts),
        "left_out_unsavable": vocab.skipped,
        "vocab_size": len(vocab),
        "output": {"path": out, "bytes": os.path.getsize(out), "xxh64": file_digest(out)},
        "seconds": round(time.perf_counter() - started, 3),
    }
    with atomic_file(out + ".manifest.json", force=True) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False, default=str)
        f.write("\n")


def load_vocab(path: str | os.PathLike) -> Vocab:
    """Reads a vocabulary: ``token<TAB>count`` lines, or one token per line (counts then 0)."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise InputError(f"cannot read the vocabulary ({exc.strerror or exc})", path) from None
    tokens, counts, seen = [], [], {}
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for number, line in enumerate(lines, 1):
        try:
            text = line.decode("utf-8").removesuffix("\r")
        except UnicodeDecodeError:
            raise InputError("vocabulary line is not UTF-8", path, number, line) from None
        token, tab, count = text.partition("\t")
        if not token:
            raise InputError("empty token in the vocabulary", path, number, text)
        count = count.strip()
        if tab and not (count.isascii() and count.isdigit()):
            raise InputError("expected 'token<TAB>count' with a whole number count", path, number, text)
        if token in seen:
            raise InputError(f"token {token!r} is already on line {seen[token]}", path, number)
        seen[token] = number
        tokens.append(token)
        counts.append(int(count) if tab else 0)
    if not tokens:
        raise InputError("the vocabulary is empty", path)
    return Vocab(tuple(tokens), tuple(counts))


def as_vocab(vocab: "Vocab | str | os.PathLike") -> Vocab:
    return vocab if isinstance(vocab, Vocab) else load_vocab(vocab)


def count_tokens(batches: Iterable[pa.RecordBatch], field: str | None = None, sep: str = " ") -> dict[str, int]:
    """How often each token occurs: from a tokenize stage's column, else the text split at ``sep``."""
    counts: dict[str, int] = {}
    for batch in batches:
        tally = pc.value_counts(pc.list_flatten(_token_lists(batch, field, sep)))
        for token, n in zip(tally.field("values").to_pylist(), tally.field("counts").to_pylist()):
            counts[token] = counts.get(token, 0) + n
    return counts


def vocab_from_counts(counts: dict[str, int], min_count: int = 1, max_size: int | None = None,
                      specials: Sequence[str] = SPECIALS) -> Vocab:
    """The specials, then every token seen ``min_count`` times or more, most frequent first.

    ``max_size`` bounds the whole vocabulary, specials included. Tokens holding a
    tab or a line break, and the empty token, cannot be saved one per line; they are
    left out and counted in ``skipped``.
    """
    if min_count < 1:
        raise CorpusError(f"min_count must be at least 1, not {min_count}")
    specials = list(dict.fromkeys(specials))
    if max_size is not None and max_size < len(specials):
        raise CorpusError(f"max_size {max_size} leaves no room for the {len(specials)} special tokens")
    for special in specials:
        if not special or any(c in special for c in _UNSAVABLE):
            raise CorpusError(f"special token {special!r} must be non-empty, without tabs or line breaks")
    taken = set(specials)
    savable = [(t, n) for t, n in counts.items() if t and not any(c in t for c in _UNSAVABLE)]
    ranked = sorted(((t, n) for t, n in savable if n >= min_count and t not in taken), key=lambda x: (-x[1], x[0]))
    if max_size is not None:
        ranked = ranked[:max_size - len(specials)]
    tokens = specials + [t for t, _ in ranked]
    return Vocab(tuple(tokens), tuple(counts.get(t, 0) for t in specials) + tuple(n for _, n in ranked),
                 skipped=len(counts) - len(savable))


def _token_lists(batch: pa.RecordBatch, field: str | None, sep: str) -> pa.ListArray:
    tagged = tokens_column(batch)
    name = field or (tagged[0] if tagged else None)
    if name is None and "tokens" in batch.schema.names and pa.types.is_list(batch.schema.field("tokens").type):
        name = "tokens"
    if name is not None and name in batch.schema.names and pa.types.is_list(batch.schema.field(name).type):
        lists = batch.column(name)
        value_type = lists.type.value_type
        if not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
            raise InputError(f"field {name!r} holds {lists.type}; a vocabulary counts string tokens", origin(batch)[0])
        return lists
    try:
        texts, _ = decode(text_values(batch, field))
    except BadText as exc:
        raise exc.located(batch) from None
    if not sep:
        raise CorpusError("the token separator must not be empty")
    return drop_empty(pc.split_pattern(texts, sep))
