"""Which tokenizer, with which settings: checked up front, loaded once per process.

A :class:`TokenizerSpec` is small and picklable, so worker processes get the spec
and load the tokenizer themselves. ``check()`` finds every unreadable file before
any work starts; ``load()`` returns a :class:`Segmenter` that turns an Arrow array
of strings into a list array of tokens.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Callable

import pyarrow as pa

from corpuskit.errors import CorpusError, InputError
from corpuskit.hashing import file_digest
from corpuskit.tokenize.arrays import char_tokens, from_segments, from_token_lists

NAMES = ("jieba", "char", "whitespace", "hf:PATH")
JIEBA_MODES = ("accurate", "search", "full")
ENGINES = ("jieba", "rjieba")


@dataclass(frozen=True)
class TokenizerSpec:
    """A tokenizer by name and settings; ``identity`` says exactly which, for manifests and tries."""

    name: str
    mode: str = "accurate"
    hmm: bool = True
    user_dict: str | None = None
    engine: str = "jieba"
    keep_ascii: bool = False
    path: str | None = None
    digests: dict = field(default_factory=dict, compare=False, hash=False)

    def check(self) -> "TokenizerSpec":
        """This spec with its files read and fingerprinted, or a clear error naming what is wrong."""
        digests = {}
        if self.name == "jieba":
            _require_engine(self.engine)
            if self.user_dict is not None:
                digests["user_dict"] = _check_user_dict(self.user_dict)
        if self.name == "hf":
            digests["tokenizer"] = _check_hf(self.path)
        return TokenizerSpec(self.name, self.mode, self.hmm, self.user_dict, self.engine, self.keep_ascii,
                             self.path, digests)

    @property
    def identity(self) -> dict:
        """Everything that decides the tokens, with library versions and file digests."""
        if self.name == "jieba":
            out = {"tokenizer": "jieba", "engine": self.engine, "engine_version": _version(self.engine),
                   "mode": self.mode, "hmm": self.hmm}
            if self.user_dict is not None:
                out["user_dict"] = self.user_dict
        elif self.name == "char":
            out = {"tokenizer": "char", "keep_ascii": self.keep_ascii}
        elif self.name == "whitespace":
            out = {"tokenizer": "whitespace"}
        else:
            out = {"tokenizer": f"hf:{self.path}", "engine_version": _version("tokenizers")}
        return {**out, **{f"{k}_xxh64": v for k, v in self.digests.items()}}

    def describe(self) -> str:
        """One line for the plan a command prints."""
        if self.name == "jieba":
            extra = f", user dictionary {self.user_dict}" if self.user_dict else ""
            return f"{self.engine} ({self.mode} mode, HMM {'on' if self.hmm else 'off'}{extra})"
        if self.name == "char":
            return "char (ASCII letter and digit runs kept whole)" if self.keep_ascii else "char"
        return self.name if self.name == "whitespace" else f"hf:{self.path}"

    def load(self) -> "Segmenter":
        """The tokenizer itself, ready to use in this process."""
        if self.name == "char":
            return Segmenter(lambda texts: char_tokens(texts, self.keep_ascii))
        if self.name == "whitespace":
            return Segmenter(whitespace_tokens)
        if self.name == "hf":
            return _load_hf(self.path)
        return _load_jieba(self)


def tokenizer_spec(name: str, mode: str = "accurate", hmm: bool = True, user_dict: str | os.PathLike | None = None,
                   engine: str = "jieba", keep_ascii: bool = False) -> TokenizerSpec:
    """Parses a tokenizer name (``jieba``, ``char``, ``whitespace``, ``hf:PATH``) and its options."""
    if not isinstance(name, str):
        raise CorpusError(f"a tokenizer is named by a string ({', '.join(NAMES)}), not {type(name).__name__}")
    path = None
    if name.startswith("hf:"):
        name, path = "hf", name[3:]
        if not path:
            raise CorpusError("hf: needs the path of a tokenizer.json (hf:PATH)")
    elif name not in ("jieba", "char", "whitespace"):
        raise CorpusError(f"unknown tokenizer {name!r}; choose one of {', '.join(NAMES)}")
    if name != "jieba" and (mode != "accurate" or not hmm or user_dict is not None or engine != "jieba"):
        raise CorpusError(f"mode, hmm, user_dict and engine are jieba settings; tokenizer {name!r} takes none")
    if name != "char" and keep_ascii:
        raise CorpusError("keep_ascii is a setting of the char tokenizer")
    if mode not in JIEBA_MODES:
        raise CorpusError(f"unknown jieba mode {mode!r}; choose one of {', '.join(JIEBA_MODES)}")
    if engine not in ENGINES:
        raise CorpusError(f"unknown jieba engine {engine!r}; choose one of {', '.join(ENGINES)}")
    return TokenizerSpec(name, mode, hmm, None if user_dict is None else os.fspath(user_dict), engine,
                         keep_ascii, path)


@dataclass(frozen=True)
class Segmenter:
    """Turns an array of strings into a list array of their tokens (strings)."""

    tokens: Callable[[pa.Array], pa.ListArray]
    ids: Callable[[pa.Array], pa.ListArray] | None = None


def whitespace_tokens(texts: pa.Array) -> pa.ListArray:
    """Tokens between runs of whitespace, exactly as ``str.split()`` gives them.

    Not Arrow's ``utf8_split_whitespace``: in pyarrow 26 it gives different tokens from
    run to run on text with U+3000 (the ideographic space).
    """
    return from_token_lists([text.split() for text in texts.to_pylist()])


def _load_jieba(spec: TokenizerSpec) -> Segmenter:
    if spec.engine == "rjieba":
        import rjieba

        engine = getattr(rjieba, "_DEFAULT_JIEBA", None) if spec.user_dict is None else None
        engine = engine or rjieba.Jieba()
        if spec.user_dict is not None:
            for word, freq, tag in _user_dict_entries(spec.user_dict):
                engine.add_word(word, freq, tag)
        cut = {"accurate": lambda s: engine.cut(s, spec.hmm),
               "search": lambda s: engine.cut_for_search(s, spec.hmm),
               "full": engine.cut_all}[spec.mode]
    else:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        engine = jieba.Tokenizer()
        engine.initialize()
        if spec.user_dict is not None:
            engine.load_userdict(spec.user_dict)
        cut = {"accurate": lambda s: engine.lcut(s, HMM=spec.hmm),
               "search": lambda s: engine.lcut_for_search(s, HMM=spec.hmm),
               "full": lambda s: engine.lcut(s, cut_all=True, HMM=spec.hmm)}[spec.mode]
    if spec.mode == "accurate":
        return Segmenter(lambda texts: from_segments([cut(s) for s in texts.to_pylist()], texts))
    return Segmenter(lambda texts: from_token_lists([cut(s) for s in texts.to_pylist()]))


def _require_engine(engine: str) -> None:
    try:
        __import__(engine)
    except ImportError:
        raise CorpusError(f"engine {engine!r} is not installed (pip install 'corpuskit[{engine}]')") from None


_USER_DICT_LINE = re.compile(r"^(.+?)(?: (\d+))?(?: ([a-z]+))?$")


def _user_dict_entries(path: str) -> list[tuple[str, int | None, str | None]]:
    """(word, frequency, tag) per line of a jieba user dictionary, as jieba reads it."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise InputError(f"cannot read the user dictionary ({exc.strerror or exc})", path) from None
    entries = []
    for number, line in enumerate(raw.splitlines(), 1):
        try:
            text = line.decode("utf-8").strip().lstrip("\ufeff")
        except UnicodeDecodeError:
            raise InputError("user dictionary line is not UTF-8", path, number, line) from None
        if not text:
            continue
        match = _USER_DICT_LINE.match(text)
        if match is None:
            raise InputError("not a user dictionary entry ('word [frequency] [tag]')", path, number, text)
        word, freq, tag = match.groups()
        entries.append((word.strip(), None if freq is None else int(freq), tag))
    return entries


def _check_user_dict(path: str) -> str:
    _user_dict_entries(path)
    return file_digest(path)


def _check_hf(path: str) -> str:
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise CorpusError("hf: tokenizers need the 'tokenizers' package (pip install 'corpuskit[hf]')") from None
    if not os.path.isfile(path):
        raise InputError("no such tokenizer file (hf:PATH takes a local tokenizer.json; nothing is downloaded)",
                         path)
    try:
        Tokenizer.from_file(path)
    except Exception as exc:
        raise InputError(f"not a tokenizer.json the tokenizers library can load ({exc})", path) from None
    return file_digest(path)


def _load_hf(path: str) -> Segmenter:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(path)

    def tokens(texts: pa.Array) -> pa.ListArray:
        encodings = tokenizer.encode_batch(texts.to_pylist(), add_special_tokens=False)
        return from_token_lists([e.tokens for e in encodings])

    def ids(texts: pa.Array) -> pa.ListArray:
        encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)
        lists = [e.ids for e in encode(texts.to_pylist(), add_special_tokens=False)]
        return pa.array(lists, type=pa.list_(pa.int32()))

    return Segmenter(tokens, ids)


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None
