"""Vocabularies: counts equal to a Counter over the same tokens, which tokens are kept and in what order,
the token<TAB>count file and its manifest, loading it back, and clear errors for files that cannot be."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import jieba
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import corpuskit as ck
from corpuskit import CorpusError, InputError, OutputError
from corpuskit.tokenize import SPECIALS, vocab_from_counts

DATA = Path(__file__).resolve().parent.parent / "examples" / "data"
ZH = (DATA / "fortunes-zh.txt").read_text(encoding="utf-8").splitlines()
EN = (DATA / "fortunes-en.txt").read_text(encoding="utf-8").splitlines()
RECORDS = [json.loads(line) for line in (DATA / "fortunes.jsonl").read_text(encoding="utf-8").splitlines()]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def ranked(counts: Counter) -> list[str]:
    """Tokens as a vocabulary orders them: by count descending, then by code point."""
    return sorted(counts, key=lambda t: (-counts[t], t))


def entries(vocab) -> dict[str, int]:
    """Token -> count, special tokens left out."""
    return dict(zip(vocab.tokens[len(SPECIALS):], vocab.counts[len(SPECIALS):]))


@pytest.fixture
def records_file(tmp_path) -> tuple[Path, list[dict]]:
    chosen = RECORDS[:60] + [r for r in RECORDS if r["lang"] == "zh"][:60]
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen), encoding="utf-8")
    return path, chosen


# --- counts ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_counts_from_a_tokens_column(tmp_path, records_file, suffix):
    source, chosen = records_file
    tokenized = tmp_path / f"tok{suffix}"
    (ck.read(source) | ck.tokenize("char") | ck.write(tokenized)).run(progress=False)
    expected = Counter(c for r in chosen for c in r["text"])
    vocab = ck.build_vocab(tokenized)
    assert entries(vocab) == dict(expected)
    assert list(vocab.tokens) == list(SPECIALS) + ranked(expected)


def test_counts_from_a_named_list_field(tmp_path):
    rows = [{"text": "x y", "words": ["a", "b", "a"]}, {"text": "x", "words": ["b", "c", "a"]}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "t.parquet")
    vocab = ck.build_vocab(tmp_path / "t.parquet", field="words")
    assert entries(vocab) == {"a": 3, "b": 2, "c": 1}
    assert entries(ck.build_vocab(tmp_path / "t.parquet", field="text")) == {"x": 2, "y": 1}


def test_counts_from_space_joined_text(tmp_path):
    lines = [" ".join(line.split()) for line in EN[:400]]
    vocab = ck.build_vocab(write_lines(tmp_path / "tok.txt", lines))
    expected = Counter(t for line in lines for t in line.split(" "))
    assert entries(vocab) == dict(expected)
    assert list(vocab.tokens) == list(SPECIALS) + ranked(expected)


def test_counts_from_text_with_another_separator(tmp_path):
    lines = ["|".join(line.split()) for line in EN[:200]] + ["a||b|", ""]
    vocab = ck.build_vocab(write_lines(tmp_path / "tok.txt", lines), sep="|")
    assert entries(vocab) == dict(Counter(t for line in lines for t in line.split("|") if t))


def test_counts_with_jieba_on_raw_text(tmp_path):
    lines = ZH[:150]
    out = tmp_path / "vocab.txt"
    vocab = ck.build_vocab(write_lines(tmp_path / "raw.txt", lines), out, tokenizer="jieba")
    expected = Counter(t for line in lines for t in jieba.lcut(line))
    assert entries(vocab) == dict(expected)
    assert ck.load_vocab(out) == vocab


def test_counts_with_char_on_raw_jsonl_text(tmp_path, records_file):
    source, chosen = records_file
    vocab = ck.build_vocab(source, tokenizer="char", keep_ascii=True, field="text")
    expected = Counter(t for r in chosen for t in re.findall(r"[A-Za-z0-9]+|.", r["text"], re.S))
    assert entries(vocab) == dict(expected)


# --- what is kept, and in which order ----------------------------------------------------------------------


@pytest.fixture
def en_tokens(tmp_path) -> tuple[Path, Counter]:
    lines = [" ".join(line.split()) for line in EN[:600]]
    return write_lines(tmp_path / "tok.txt", lines), Counter(t for line in lines for t in line.split(" "))


@pytest.mark.parametrize("min_count", [1, 2, 5])
def test_min_count(en_tokens, min_count):
    path, counts = en_tokens
    vocab = ck.build_vocab(path, min_count=min_count)
    assert entries(vocab) == {t: n for t, n in counts.items() if n >= min_count}


def test_max_size_counts_the_specials(en_tokens):
    path, counts = en_tokens
    vocab = ck.build_vocab(path, max_size=50)
    assert len(vocab) == 50
    assert list(vocab.tokens) == list(SPECIALS) + ranked(counts)[:48]
    assert len(ck.build_vocab(path, max_size=50, specials=())) == 50
    with pytest.raises(CorpusError, match="max_size"):
        ck.build_vocab(path, max_size=1)


def test_order_is_count_descending_then_token():
    counts = {"b": 3, "a": 3, "c": 5, "日": 3, "Z": 3, "d": 1}
    vocab = vocab_from_counts(counts)
    assert vocab.tokens == ("[PAD]", "[UNK]", "c", "Z", "a", "b", "日", "d")
    assert vocab.counts == (0, 0, 5, 3, 3, 3, 3, 1)


def test_specials_come_first_and_can_be_chosen(en_tokens):
    path, counts = en_tokens
    assert ck.build_vocab(path).tokens[:2] == ("[PAD]", "[UNK]")
    mine = ck.build_vocab(path, specials=["<s>", "</s>", "the"])
    assert mine.tokens[:3] == ("<s>", "</s>", "the")
    assert mine.tokens.count("the") == 1  # a special seen in the corpus is not listed twice
    assert list(mine.tokens[3:]) == [t for t in ranked(counts) if t != "the"]
    none = ck.build_vocab(path, specials=())
    assert list(none.tokens) == ranked(counts)
    assert none.counts == tuple(counts[t] for t in ranked(counts))


@pytest.mark.parametrize("special", ["", "a\tb", "line\nbreak"])
def test_unsavable_specials_are_refused(special):
    with pytest.raises(CorpusError, match="special"):
        vocab_from_counts({"a": 1}, specials=["[PAD]", special])


def test_min_count_below_one_is_refused(en_tokens):
    with pytest.raises(CorpusError, match="min_count"):
        ck.build_vocab(en_tokens[0], min_count=0)


# --- the file -------------------------------------------------------------------------------------------


def test_file_is_token_tab_count_lines(tmp_path, en_tokens):
    path, counts = en_tokens
    out = tmp_path / "vocab.txt"
    vocab = ck.build_vocab(path, out)
    raw = out.read_bytes()
    assert raw.endswith(b"\n") and b"\r" not in raw
    rows = [line.split("\t") for line in raw.decode("utf-8").split("\n")[:-1]]
    assert rows == [[t, str(n)] for t, n in zip(vocab.tokens, vocab.counts)]
    assert rows[:2] == [["[PAD]", "0"], ["[UNK]", "0"]]
    assert rows[2:] == [[t, str(counts[t])] for t in ranked(counts)]


def test_manifest_beside_the_vocab(tmp_path, en_tokens):
    path, counts = en_tokens
    out = tmp_path / "vocab.txt"
    vocab = ck.build_vocab(path, out, min_count=2)
    manifest = json.loads((tmp_path / "vocab.txt.manifest.json").read_text(encoding="utf-8"))
    assert manifest["tokens_counted"] == sum(counts.values())
    assert manifest["distinct_tokens"] == len(counts)
    assert manifest["vocab_size"] == len(vocab)
    assert manifest["settings"]["min_count"] == 2
    assert manifest["output"]["bytes"] == out.stat().st_size
    assert [i["path"] for i in manifest["inputs"]] == [str(path)]
    assert sorted(os.listdir(tmp_path)) == ["tok.txt", "vocab.txt", "vocab.txt.manifest.json"]


def test_an_existing_output_is_kept_without_force(tmp_path, en_tokens):
    out = tmp_path / "vocab.txt"
    out.write_text("precious\t1\n", encoding="utf-8")
    with pytest.raises(OutputError, match="exists"):
        ck.build_vocab(en_tokens[0], out)
    assert out.read_text(encoding="utf-8") == "precious\t1\n"
    assert not (tmp_path / "vocab.txt.manifest.json").exists()
    vocab = ck.build_vocab(en_tokens[0], out, force=True)
    assert ck.load_vocab(out) == vocab


def test_an_existing_output_is_refused_before_reading(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"a b\n\xff\n")
    out = tmp_path / "vocab.txt"
    out.write_text("precious\t1\n", encoding="utf-8")
    with pytest.raises(OutputError, match="exists"):  # not the input's error: nothing was read
        ck.build_vocab(bad, out)


def test_tokens_with_tabs_or_line_breaks_are_left_out_and_counted(tmp_path):
    path = tmp_path / "tok.jsonl"
    rows = [["a", "a\tb", "b"], ["c\nd", "a", "e\rf", "a\tb"]]
    path.write_text("".join(json.dumps({"tokens": r}) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "vocab.txt"
    vocab = ck.build_vocab(path, out)
    assert vocab.skipped == 3
    assert entries(vocab) == {"a": 2, "b": 1}
    assert ck.load_vocab(out).tokens == vocab.tokens
    assert json.loads((tmp_path / "vocab.txt.manifest.json").read_text())["left_out_unsavable"] == 3


def test_an_empty_token_does_not_break_the_file(tmp_path):
    """A tokens column may hold "": the saved vocabulary must still load."""
    path = tmp_path / "tok.jsonl"
    path.write_text('{"tokens": ["a", "", "b"]}\n{"tokens": ["a"]}\n', encoding="utf-8")
    out = tmp_path / "vocab.txt"
    vocab = ck.build_vocab(path, out)
    assert ck.load_vocab(out).tokens == vocab.tokens
    assert {"a": 2, "b": 1}.items() <= entries(vocab).items()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(counts=st.dictionaries(st.text(min_size=1, max_size=8), st.integers(1, 50), max_size=30),
       specials=st.sampled_from([(), SPECIALS, ("<s>",)]))
def test_save_and_load_round_trip(fresh, counts, specials):
    vocab = vocab_from_counts(counts, specials=specials)
    unsavable = [t for t in counts if any(c in t for c in "\t\n\r")]
    assert vocab.skipped == len(unsavable)
    assert not set(unsavable) & set(vocab.tokens)
    if not vocab.tokens:
        return
    path = vocab.save(fresh() / "vocab.txt")
    loaded = ck.load_vocab(path)
    assert (loaded.tokens, loaded.counts) == (vocab.tokens, vocab.counts)
    assert [loaded.id(t) for t in vocab.tokens] == list(range(len(vocab)))


def test_tokenize_with_the_saved_vocab_gives_its_ids(tmp_path):
    lines = ZH[:120]
    raw = write_lines(tmp_path / "raw.txt", lines)
    out = tmp_path / "vocab.txt"
    ck.build_vocab(raw, out, tokenizer="char", min_count=2)
    loaded = ck.load_vocab(out)
    ids = [r["ids"] for r in ck.read(raw) | ck.tokenize("char", vocab=out)]
    unk = loaded.id("[UNK]")
    assert ids == [[loaded.index.get(c, unk) for c in line] for line in lines]
    rare = Counter(c for line in lines for c in line)
    assert any(unk in row for row in ids) and any(n == 1 for n in rare.values())
    assert [[loaded.tokens[i] for i in row] for row in ids[:3]] == \
        [[c if rare[c] >= 2 else "[UNK]" for c in line] for line in lines[:3]]


# --- reading vocabulary files ----------------------------------------------------------------------------


def test_one_token_per_line_and_crlf_files_load(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_bytes("[UNK]\n的\nthe\n".encode())
    assert (ck.load_vocab(plain).tokens, ck.load_vocab(plain).counts) == (("[UNK]", "的", "the"), (0, 0, 0))
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes("[UNK]\t0\r\n的\t7\r\nthe\t3\r\n".encode())
    assert (ck.load_vocab(crlf).tokens, ck.load_vocab(crlf).counts) == (("[UNK]", "的", "the"), (0, 7, 3))


@pytest.mark.parametrize("data, line, message", [
    ("[PAD]\t0\n[UNK]\t0\nthe\t9\nof\t5\nthe\t2\n".encode(), 5, "token 'the' is already on line 3"),
    (b"[PAD]\t0\n[UNK]\t0\ncaf\xe9\t3\n", 3, "not UTF-8"),
    (b"[PAD]\t0\n\t4\n", 2, "empty token"),
    (b"[PAD]\t0\nthe\tmany\n", 2, "whole number"),
    (b"", None, "empty"),
])
def test_bad_vocab_files_name_the_file_and_line(tmp_path, data, line, message):
    path = tmp_path / "vocab.txt"
    path.write_bytes(data)
    with pytest.raises(InputError) as caught:
        ck.load_vocab(path)
    assert (caught.value.path, caught.value.line) == (str(path), line)
    assert message in str(caught.value)


def test_missing_vocab_file(tmp_path):
    with pytest.raises(InputError, match="cannot read the vocabulary") as caught:
        ck.load_vocab(tmp_path / "nope.txt")
    assert caught.value.path == str(tmp_path / "nope.txt")


def test_invalid_utf8_input_names_file_and_line(tmp_path):
    path = tmp_path / "tok.txt"
    path.write_bytes(b"a b\nc d\ne \xff f\n")
    with pytest.raises(InputError) as caught:
        ck.build_vocab(path, tmp_path / "vocab.txt")
    assert (caught.value.path, caught.value.line) == (str(path), 3)
    assert sorted(os.listdir(tmp_path)) == ["tok.txt"]
    vocab = ck.build_vocab(path, tokenizer="whitespace", errors="replace")
    assert entries(vocab) == {"a": 1, "b": 1, "c": 1, "d": 1, "e": 1, "\ufffd": 1, "f": 1}
