"""``build_trie``: records -> token-id sequences -> external sort -> one streaming layout pass -> file."""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpuskit.errors import CorpusError, InputError
from corpuskit.io.atomic import atomic_file, check_folder, refuse_existing
from corpuskit.memory import bound_allocations
from corpuskit.pipeline import Context, Stage
from corpuskit.progress import bar
from corpuskit.records import origin, tag
from corpuskit.threads import closing
from corpuskit.tokenize.vocab import Vocab, as_vocab
from corpuskit.trie import fileformat
from corpuskit.trie.layout import ARRAYS, MAX_EDGE, Arrays, Chunk, build_layout
from corpuskit.trie.records import MAX_ID, encode
from corpuskit.trie.sequences import NUMBER, PAYLOAD, TEXT, Ids, parse_ids, template_fields, texts_of
from corpuskit.trie.sort import sorted_chunks
from corpuskit.units import format_size, parse_size
from corpuskit.version import __version__

SORT_SHARE = 0.15
"""Share of ``--mem`` given to a sorted run: sorting holds the run twice, and reading needs room too."""


@dataclass
class TrieBuild:
    """What ``build_trie`` did."""

    path: str
    sequences: int
    duplicates: int
    records: int
    tokens: int
    nodes: int
    bytes: int
    seconds: float
    runs: int
    vocab_size: int
    meta: dict = field(repr=False, default_factory=dict)

    def summary(self) -> str:
        return (f"{self.path}: {self.sequences:,} sequences from {self.records:,} records "
                f"({self.duplicates:,} duplicates collapsed), {self.nodes:,} nodes, "
                f"{format_size(self.bytes)} ({self.bytes / max(self.tokens, 1):.2f} bytes per token), "
                f"{self.seconds:.1f}s")


def build_trie(inputs: str | os.PathLike | Iterable[str | os.PathLike], out: str | os.PathLike, *,
               tokenizer: str = "char", field: str | None = None, template: str | None = None,
               vocab: "Vocab | str | os.PathLike | None" = None, unk: str | None = None,
               payload: str | None = None, eos: int | None = None, vocab_size: int | None = None,
               mem: str | int = "1G", tmp: str | None = None, format: str | None = None, workers: int = 1,
               force: bool = False, progress: bool | None = None, command: str | None = None,
               log: Callable[[str], None] = lambda text: None, **tokenize_options) -> TrieBuild:
    """Builds a trie file from the sequences in ``inputs``; the same inputs and settings give the same bytes.

    Each record gives one sequence: its ``field`` (or the text lines), or ``template``
    filled from several fields (``"{s}|{p}|{m}"``), tokenized by ``tokenizer`` (``char``,
    ``jieba``, ``whitespace``, ``hf:PATH``, or ``ids`` for space-separated token ids).
    Token strings become ids through ``vocab``, the ``hf:`` tokenizer's own vocabulary, or
    a vocabulary grown in order of first appearance; the trie stores it. ``payload``
    names an integer field to keep per sequence (default: the record's number from 0).
    Sorting stays within ``mem``, spilling sorted runs under ``tmp`` when needed.
    """
    started = time.perf_counter()
    bound_allocations()
    out = os.fspath(out)
    refuse_existing(out, force)
    check_folder(out)
    budget = max(int(parse_size(mem) * SORT_SHARE), 1 << 20)
    if template is not None:
        template_fields(template)
    if eos is not None and eos < 0:
        raise CorpusError(f"--eos must be a token id (>= 0), not {eos}")
    source, stage, ids_of, identity, vocab_tokens, hf_json = _plan_tokens(
        inputs, tokenizer, field, template, vocab, unk, format, workers, tokenize_options)
    total = source.source.total_bytes()
    log(f"plan: {len(source.source.specs)} input file(s), {format_size(total) if total is not None else 'stdin'}; "
        f"tokenizer {identity.get('tokenizer')}; sort within {format_size(budget)} of records in memory "
        f"(--mem {format_size(parse_size(mem))}), spilling sorted runs to {tmp or tempfile.gettempdir()} beyond that")
    pipe = source | _select(field, template, payload)
    if stage is not None:
        pipe = pipe | stage
    counted = {"records": 0, "max_id": -1, "runs": 0}
    temp_dir = tempfile.mkdtemp(prefix="corpuskit-trie-", dir=tmp)
    batches = pipe.batches(progress=progress)
    try:
        with closing(batches):
            chunks = sorted_chunks(_records(batches, ids_of, counted, vocab_size), budget, temp_dir,
                                   on_spill=lambda runs, size: counted.update(runs=runs))
            arrays = build_layout(_progress(chunks, progress), scratch=temp_dir)
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
    vocab_tokens = vocab_tokens() if callable(vocab_tokens) else vocab_tokens
    size_of_vocab = _vocab_size(vocab_tokens, vocab_size, counted["max_id"], eos)
    meta = {
        "corpuskit": __version__, "tokenizer": identity, "vocab_size": size_of_vocab, "eos_id": eos,
        "sequences": arrays.sequences, "duplicates": arrays.duplicates, "records": counted["records"],
        "tokens": arrays.tokens, "nodes": arrays.nodes, "max_edge": MAX_EDGE,
        "payload": payload or "record number", "field": field, "template": template,
        "inputs": source.source.describe(),
    }
    size = fileformat.save(out, _file_arrays(arrays, vocab_tokens, hf_json), meta, force)
    result = TrieBuild(out, arrays.sequences, arrays.duplicates, counted["records"], arrays.tokens,
                       arrays.nodes, size, time.perf_counter() - started, counted["runs"], size_of_vocab,
                       meta)
    _write_manifest(out, result, command)
    return result


def _plan_tokens(inputs, tokenizer: str, field, template, vocab, unk, format, workers, tokenize_options):
    """The reader, the tokenize stage (if any), the tokens-to-ids step, and what identifies them."""
    from corpuskit.io.reader import read
    from corpuskit.tokenize.stage import tokenize

    if not isinstance(tokenizer, str) or not (tokenizer in ("ids", "char", "jieba", "whitespace")
                                               or tokenizer.startswith("hf:")):
        raise CorpusError(f"unknown tokenizer {tokenizer!r}; choose one of char, jieba, whitespace, hf:PATH, ids")
    source = read(inputs, format=format, field=None if template else field)
    if tokenizer == "ids":
        if vocab is not None or tokenize_options:
            raise CorpusError("--tokenizer ids reads token ids; it takes no vocabulary or tokenizer options")
        return source, None, _ids_from_text, {"tokenizer": "ids"}, None, None
    if tokenizer.startswith("hf:"):
        if vocab is not None:
            raise CorpusError("an hf: tokenizer brings its own vocabulary; --vocab is not used with it")
        stage = tokenize(tokenizer, ids=True, field=TEXT, workers=workers, **tokenize_options)
        path = tokenizer[3:]
        tokens, hf_json = _hf_vocab(path)
        identity = {k: v for k, v in stage.settings.items() if k in ("tokenizer", "engine_version", "tokenizer_xxh64")}
        return source, stage, _column("ids"), identity, tokens, hf_json
    stage = tokenize(tokenizer, field=TEXT, workers=workers, **tokenize_options)
    identity = {k: v for k, v in stage.settings.items()
                if k in ("tokenizer", "engine", "mode", "hmm", "keep_ascii", "drop_space", "user_dict_xxh64")}
    ids = Ids(None if vocab is None else as_vocab(vocab), unk)
    return source, stage, lambda batch: ids(batch.column("tokens"), batch), identity, lambda: ids.tokens, None


def _select(field: str | None, template: str | None, payload: str | None) -> Stage:
    """Keeps what the trie needs of each record: its text and its payload."""

    def select(batches: Iterator[pa.RecordBatch], ctx: Context) -> Iterator[pa.RecordBatch]:
        number = 0
        for batch in batches:
            texts = texts_of(batch, field, template)
            numbers = pa.array(np.arange(number, number + batch.num_rows, dtype=np.int64))
            values = numbers if payload is None else _payload_values(batch, payload)
            number += batch.num_rows
            source, line = origin(batch)
            selected = pa.RecordBatch.from_arrays([texts, numbers, values], names=[TEXT, NUMBER, PAYLOAD])
            yield tag(selected, field=TEXT, source=source, line=line)

    return Stage(select, "select")


def _payload_values(batch: pa.RecordBatch, name: str) -> pa.Array:
    source, line = origin(batch)
    if name not in batch.schema.names:
        raise InputError(f"records have no payload field {name!r} (fields: {', '.join(batch.schema.names)})",
                         source, line)
    column = batch.column(name)
    try:
        values = column.cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = None
    if values is None or values.null_count or (len(values) and pc.min(values).as_py() < 0):
        bad = next(i for i, v in enumerate(column.to_pylist())
                   if not (isinstance(v, int) and not isinstance(v, bool) and v >= 0)
                   and not (isinstance(v, float) and v.is_integer() and v >= 0))
        raise InputError(f"payload field {name!r} must be a whole number >= 0", source,
                         None if line is None else line + bad, repr(column[bad].as_py()))
    return values


def _ids_from_text(batch: pa.RecordBatch) -> pa.ListArray:
    return parse_ids(batch.column(TEXT), batch)


def _column(name: str) -> Callable[[pa.RecordBatch], pa.ListArray]:
    return lambda batch: batch.column(name)


def _records(batches: Iterator[pa.RecordBatch], ids_of: Callable[[pa.RecordBatch], pa.ListArray],
             counted: dict, vocab_size: int | None) -> Iterator[pa.Array]:
    limit = MAX_ID if vocab_size is None else vocab_size - 1
    for batch in batches:
        lists = ids_of(batch)
        flat = pc.list_flatten(lists)
        if len(flat):
            largest = pc.max(flat).as_py()
            if largest > limit:
                _raise_outside(lists, limit, batch)
            counted["max_id"] = max(counted["max_id"], largest)
        counted["records"] += batch.num_rows
        yield encode(lists, batch.column(NUMBER).to_numpy(zero_copy_only=False),
                     batch.column(PAYLOAD).to_numpy(zero_copy_only=False))


def _raise_outside(lists: pa.ListArray, limit: int, batch: pa.RecordBatch) -> None:
    first = pc.index(pc.greater(pc.list_flatten(lists), limit), True).as_py()
    record = int(pc.list_parent_indices(lists)[first].as_py())
    source, line = origin(batch)
    value = pc.list_flatten(lists)[first].as_py()
    raise InputError(f"token id {value} is outside the vocabulary (ids 0 to {limit}; --vocab-size)", source,
                     None if line is None else line + record)


def _progress(chunks: Iterator[Chunk], progress: bool | None) -> Iterator[Chunk]:
    with bar(progress, None, "build", unit="seq") as pbar:
        for chunk in chunks:
            pbar.update(len(chunk.offsets) - 1)
            yield chunk


def _vocab_size(tokens: list[str] | None, given: int | None, max_id: int, eos: int | None) -> int:
    needed = max(max_id, -1 if eos is None else eos) + 1
    size = len(tokens) if tokens is not None else (given if given is not None else needed)
    if given is not None and tokens is not None and given != len(tokens):
        raise CorpusError(f"--vocab-size {given} disagrees with the vocabulary's {len(tokens)} tokens")
    if needed > size:
        what = f"--eos {eos}" if eos is not None and eos >= max_id + 1 and eos >= size else f"token id {max_id}"
        raise CorpusError(f"{what} is outside the vocabulary of {size} tokens")
    return size


def _hf_vocab(path: str) -> tuple[list[str], bytes]:
    from tokenizers import Tokenizer

    with open(path, "rb") as f:
        raw = f.read()
    tokenizer = Tokenizer.from_str(raw.decode("utf-8"))
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    return [tokenizer.id_to_token(i) or "" for i in range(size)], raw


def _file_arrays(arrays: Arrays, vocab_tokens: list[str] | None, hf_json: bytes | None) -> dict[str, np.ndarray]:
    out = {name: getattr(arrays, name) for name in ARRAYS}
    if vocab_tokens is not None:
        encoded = [t.encode("utf-8") for t in vocab_tokens]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        out["vocab_blob"] = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        out["vocab_offsets"] = offsets.astype(np.uint32 if offsets[-1] < 2**32 else np.uint64)
    if hf_json is not None:
        out["tokenizer_json"] = np.frombuffer(hf_json, dtype=np.uint8)
    return out


def _write_manifest(out: str, result: TrieBuild, command: str | None) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    manifest = {
        "corpuskit": __version__, "command": command or " ".join(sys.argv), "output": out,
        "bytes": result.bytes, "seconds": round(result.seconds, 3), "peak_rss": peak,
        "sorted_runs_spilled": result.runs, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **{k: v for k, v in result.meta.items()},
    }
    with atomic_file(out + ".manifest.json", force=True) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False, default=str)
        f.write("\n")
