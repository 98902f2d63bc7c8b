"""From records to token-id sequences: the text (a field, or a template over fields), then ids.

Ids come from a vocabulary file, from an ``hf:`` tokenizer's own vocabulary, straight
from the text (``ids``: space-separated integers), or, with none of these, from a
vocabulary grown in order of first appearance, which the trie file then stores.
"""

from __future__ import annotations

import string

import pyarrow as pa
import pyarrow.compute as pc

from corpuskit.errors import CorpusError, InputError
from corpuskit.records import origin, text_values
from corpuskit.tokenize.arrays import BadText, decode, drop_empty, list_offsets
from corpuskit.tokenize.vocab import Vocab
from corpuskit.trie.records import MAX_ID

TEXT = "__trie_text__"
NUMBER = "__trie_record__"
PAYLOAD = "__trie_payload__"


def template_fields(template: str) -> list[str]:
    """The field names a template such as ``"{s}|{p}|{m}"`` uses."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise CorpusError(f"bad template {template!r}: {exc}") from None
    if not names or any(not n or not n.isidentifier() for n in names):
        raise CorpusError(f"a template names fields in braces, e.g. '{{s}}|{{p}}|{{m}}', not {template!r}")
    return names


def texts_of(batch: pa.RecordBatch, field: str | None, template: str | None) -> pa.Array:
    """The text each record contributes: its field, or the template filled from its fields."""
    if template is None:
        return text_values(batch, field)
    parts = []
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            parts.append(pa.scalar(literal.encode(), pa.large_binary()))
        if name is not None:
            parts.append(_as_binary(batch, name))
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, pa.scalar(b"", pa.large_binary()))


def _as_binary(batch: pa.RecordBatch, name: str) -> pa.Array:
    if name not in batch.schema.names:
        source, line = origin(batch)
        raise InputError(f"records have no field {name!r} (fields: {', '.join(batch.schema.names)})", source, line)
    column = batch.column(name)
    if column.null_count:
        source, line = origin(batch)
        first = column.is_null().index(True).as_py()
        raise InputError(f"record has no value for {name!r}", source, None if line is None else line + first)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
            or pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type)):
        column = column.cast(pa.string())
    return column.cast(pa.large_binary())


def parse_ids(texts: pa.Array, batch: pa.RecordBatch) -> pa.ListArray:
    """Space-separated non-negative integers per record, as ``list<int64>``."""
    try:
        strings, _ = decode(texts)
    except BadText as exc:
        raise exc.located(batch) from None
    parts = drop_empty(pc.ascii_split_whitespace(strings))
    flat = pc.list_flatten(parts)
    try:
        values = pc.cast(flat, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = None
    if values is None or (len(values) and not 0 <= pc.min(values).as_py() <= pc.max(values).as_py() <= MAX_ID):
        _raise_bad_id(parts, batch)
    counts = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    return pa.ListArray.from_arrays(list_offsets(counts), values)


def _raise_bad_id(parts: pa.ListArray, batch: pa.RecordBatch) -> None:
    source, line = origin(batch)
    for index, tokens in enumerate(parts.to_pylist()):
        for token in tokens:
            if not (token.isascii() and token.isdigit()) or int(token) > MAX_ID:
                raise InputError(f"expected space-separated token ids (whole numbers from 0 to {MAX_ID})", source,
                                 None if line is None else line + index, token)
    raise InputError("expected space-separated token ids", source, line)


class Ids:
    """Token strings to ids: a fixed vocabulary (unknown tokens are an error, or ``unk``), or a growing one."""

    def __init__(self, vocab: Vocab | None = None, unk: str | None = None) -> None:
        self.fixed = vocab is not None
        self.tokens: list[str] = list(vocab.tokens) if vocab is not None else []
        self._array = pa.array(self.tokens, type=pa.string())
        self.unk_id = None
        if unk is not None:
            if vocab is None or vocab.id(unk) is None:
                raise CorpusError(f"--unk {unk!r} must be a token of the vocabulary")
            self.unk_id = vocab.id(unk)

    def __call__(self, lists: pa.ListArray, batch: pa.RecordBatch) -> pa.ListArray:
        flat = pc.list_flatten(lists)
        ids = pc.index_in(flat, value_set=self._array)
        if ids.null_count:
            if self.unk_id is not None:
                ids = pc.fill_null(ids, self.unk_id)
            elif self.fixed:
                self._raise_unknown(lists, ids, batch)
            else:
                new = pc.unique(flat.filter(pc.is_null(ids)))
                self.tokens.extend(new.to_pylist())
                self._array = pa.concat_arrays([self._array, new.cast(pa.string())])
                ids = pc.index_in(flat, value_set=self._array)
        counts = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
        return pa.ListArray.from_arrays(list_offsets(counts), ids.cast(pa.int64()))

    def _raise_unknown(self, lists: pa.ListArray, ids: pa.Array, batch: pa.RecordBatch) -> None:
        first = pc.index(pc.is_null(ids), True).as_py()
        parents = pc.list_parent_indices(lists).to_numpy()
        token = pc.list_flatten(lists)[first].as_py()
        source, line = origin(batch)
        raise InputError(f"token {token!r} is not in the vocabulary (add it, or pass --unk)", source,
                         None if line is None else line + int(parents[first]))

