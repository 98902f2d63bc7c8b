"""Query text tokenized the way the trie's sequences were, then mapped to the trie's ids."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from corpuskit.errors import CorpusError
from corpuskit.tokenize.tokenizers import tokenizer_spec

if TYPE_CHECKING:
    from corpuskit.trie.trie import Trie


def tokenize_query(trie: "Trie", text: str) -> list[int]:
    """Ids of ``text``'s tokens under the trie's own tokenizer; a token it never saw is an error."""
    identity = trie.meta.get("tokenizer") or {}
    name = identity.get("tokenizer")
    if name == "ids":
        try:
            return [int(part) for part in text.split()]
        except ValueError:
            raise CorpusError(f"this trie holds token ids: give a prefix as space-separated numbers, not {text!r}") \
                from None
    if name and name.startswith("hf:"):
        return _hf_tokenizer(trie).encode(text, add_special_tokens=False).ids
    if name not in ("char", "jieba", "whitespace"):
        raise CorpusError(f"the trie's tokenizer {name!r} is unknown to this corpuskit")
    options = {"mode": identity.get("mode", "accurate"), "hmm": identity.get("hmm", True),
               "engine": identity.get("engine", "jieba")} if name == "jieba" else \
        {"keep_ascii": identity.get("keep_ascii", False)} if name == "char" else {}
    segmenter = _segmenter(name, tuple(sorted(options.items())))
    tokens = segmenter.tokens(pa.array([text], type=pa.large_string()))[0].as_py()
    if identity.get("drop_space"):
        tokens = [t for t in tokens if not t.isspace()]
    return trie.token_ids(tokens)


_loaded: dict = {}


def _segmenter(name: str, options: tuple):
    key = (name, options)
    if key not in _loaded:
        _loaded[key] = tokenizer_spec(name, **dict(options)).check().load()
    return _loaded[key]


def _hf_tokenizer(trie: "Trie"):
    from tokenizers import Tokenizer

    if "_hf" not in trie.__dict__:
        raw = trie._arrays["tokenizer_json"].tobytes().decode("utf-8")
        trie.__dict__["_hf"] = Tokenizer.from_str(raw)
    return trie.__dict__["_hf"]
