"""The tokenize stage: jieba, char, whitespace and hf: tokenizers on real text, the columns and text lines
they produce, ids from a vocabulary, ordered parallel workers, and clear errors for bad input and bad files."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import jieba
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import corpuskit as ck
from corpuskit import CorpusError, InputError
from corpuskit.records import terminated_batch
from corpuskit.tokenize import tokenizer_spec
from corpuskit.tokenize.arrays import char_tokens

DATA = Path(__file__).resolve().parent.parent / "examples" / "data"
ZH = (DATA / "fortunes-zh.txt").read_text(encoding="utf-8").splitlines()
EN = (DATA / "fortunes-en.txt").read_text(encoding="utf-8").splitlines()
RECORDS = [json.loads(line) for line in (DATA / "fortunes.jsonl").read_text(encoding="utf-8").splitlines()]

# Tang poems (with 司空曙, a poet jieba splits), the Debian lines that mix Chinese with ASCII words,
# and proverbs from the end of the file.
ZH_SAMPLE = ZH[:30] + ZH[130:140] + ZH[405:416] + ZH[1055:]
ASCII_WORD = re.compile(r"[A-Za-z0-9]+|.", re.S)


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def column(pipe, name: str = "tokens") -> list:
    """The values of one column over every batch the pipeline yields."""
    return [value for batch in pipe.batches() for value in batch.column(name).to_pylist()]


def column_types(pipe, name: str = "tokens") -> set:
    return {batch.schema.field(name).type for batch in pipe.batches()}


@pytest.fixture
def zh_file(tmp_path) -> Path:
    return write_lines(tmp_path / "zh.txt", ZH_SAMPLE)


@pytest.fixture
def en_file(tmp_path) -> Path:
    return write_lines(tmp_path / "en.txt", EN[:200])


@pytest.fixture
def jsonl_file(tmp_path) -> Path:
    """English records, then Chinese ones: every field of fortunes.jsonl."""
    path = tmp_path / "mixed.jsonl"
    chosen = RECORDS[:25] + [r for r in RECORDS if r["lang"] == "zh"][:25]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hf_tokenizer(tmp_path_factory):
    """A WordLevel tokenizer.json trained on English fortunes, that adds [CLS] ... [SEP] when asked to."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(EN[:1000], trainers.WordLevelTrainer(special_tokens=["[UNK]", "[CLS]", "[SEP]"],
                                                                 min_frequency=2))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", tok.token_to_id("[CLS]")),
                                                 ("[SEP]", tok.token_to_id("[SEP]"))])
    path = tmp_path_factory.mktemp("hf") / "tokenizer.json"
    tok.save(str(path))
    return Tokenizer.from_file(str(path)), path


# --- jieba ------------------------------------------------------------------------------------------------

JIEBA_SETTINGS = [
    ("accurate", True, lambda text: jieba.lcut(text, HMM=True)),
    ("accurate", False, lambda text: jieba.lcut(text, HMM=False)),
    ("search", True, lambda text: jieba.lcut_for_search(text, HMM=True)),
    ("search", False, lambda text: jieba.lcut_for_search(text, HMM=False)),
    ("full", True, lambda text: jieba.lcut(text, cut_all=True)),
    ("full", False, lambda text: jieba.lcut(text, cut_all=True)),
]


@pytest.mark.parametrize("mode, hmm, reference", JIEBA_SETTINGS, ids=[f"{m}-hmm{h}" for m, h, _ in JIEBA_SETTINGS])
def test_jieba_gives_exactly_what_jieba_gives(zh_file, mode, hmm, reference):
    options = {} if (mode, hmm) == ("accurate", True) else {"mode": mode, "hmm": hmm}  # the defaults, unnamed
    pipe = ck.read(zh_file) | ck.tokenize("jieba", **options)
    expected = [reference(text) for text in ZH_SAMPLE]
    assert column(pipe) == expected
    assert column_types(pipe) == {pa.list_(pa.string())}
    if options:  # the sample tells the settings apart, so a tokenizer that ignored them would fail
        assert expected != [jieba.lcut(text) for text in ZH_SAMPLE]


USER_WORDS = ["司空曙", "闻风坐相悦 10", "沈佺期 5 nr"]


def test_jieba_user_dictionary(tmp_path, zh_file):
    user_dict = write_lines(tmp_path / "user.dict", USER_WORDS)
    reference = jieba.Tokenizer()
    reference.load_userdict(str(user_dict))
    got = column(ck.read(zh_file) | ck.tokenize("jieba", user_dict=user_dict))
    assert got == [reference.lcut(text) for text in ZH_SAMPLE]
    found = Counter(token for tokens in got for token in tokens)
    plain = Counter(token for text in ZH_SAMPLE for token in jieba.lcut(text))
    for word in ("司空曙", "闻风坐相悦", "沈佺期"):
        assert found[word] >= 1 and plain[word] == 0
    # the dictionary belongs to the stage: the process's own jieba is unchanged
    assert "司空曙" not in jieba.lcut(ZH[135])


def test_rjieba_engine_segments_the_whole_text(tmp_path, zh_file):
    user_dict = write_lines(tmp_path / "user.dict", USER_WORDS)
    got = column(ck.read(zh_file) | ck.tokenize("jieba", engine="rjieba", user_dict=user_dict))
    assert ["".join(tokens) for tokens in got] == ZH_SAMPLE
    tokens = [token for line in got for token in line]
    assert sum(len(token) > 1 for token in tokens) > len(tokens) // 4  # words, not characters
    assert "司空曙" in tokens and "闻风坐相悦" in tokens


# --- char and whitespace -------------------------------------------------------------------------------


def test_char_one_token_per_character(zh_file, en_file):
    for path, lines in ((zh_file, ZH_SAMPLE), (en_file, EN[:200])):
        assert column(ck.read(path) | ck.tokenize("char")) == [list(text) for text in lines]


def test_char_keep_ascii_keeps_letter_and_digit_runs(zh_file, en_file):
    assert column(ck.read(en_file) | ck.tokenize("char", keep_ascii=True)) == \
        [ASCII_WORD.findall(text) for text in EN[:200]]
    got = column(ck.read(zh_file) | ck.tokenize("char", keep_ascii=True))
    assert got == [ASCII_WORD.findall(text) for text in ZH_SAMPLE]
    mixed = got[ZH_SAMPLE.index(ZH[411])]  # 第 1 章 GNU/Linux 教程 ... Debian GNU/Linux中最强大的设计来自Unix操作系统
    assert {"Debian", "GNU", "Linux", "Unix", "第", "章"} <= set(mixed)


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(st.text(max_size=30), max_size=12), skip=st.integers(0, 12), large=st.booleans(),
       keep_ascii=st.booleans())
def test_char_tokens_on_any_text_and_sliced_arrays(texts, skip, large, keep_ascii):
    array = pa.array(texts, type=pa.large_string() if large else pa.string()).slice(min(skip, len(texts)))
    expected = [ASCII_WORD.findall(t) if keep_ascii else list(t) for t in texts[skip:]]
    assert char_tokens(array, keep_ascii).to_pylist() == expected


@settings(max_examples=50, deadline=None)
@given(texts=st.lists(st.text(max_size=30), max_size=12), skip=st.integers(0, 4))
def test_char_tokens_on_sliced_arrays_of_a_slice(texts, skip):
    array = pa.array(texts, type=pa.string()).slice(min(skip, len(texts)))
    inner = array.slice(1, max(len(array) - 2, 0)) if len(array) > 1 else array
    assert char_tokens(inner, True).to_pylist() == [ASCII_WORD.findall(t) for t in inner.to_pylist()]


WHITESPACE_TEXT = st.text(alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2028\u2029\u202f\u3000\u200b\ufeff")), max_size=40)


# No shrinking: a failure here may not repeat (a kernel that reads past a string's end fails now and then),
# and shrinking an unrepeatable failure only burns time. The failing example is printed as found.
@settings(max_examples=150, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(st.lists(WHITESPACE_TEXT, max_size=10))
def test_whitespace_is_str_split(texts):
    segmenter = tokenizer_spec("whitespace").check().load()
    assert segmenter.tokens(pa.array(texts, type=pa.large_string())).to_pylist() == [t.split() for t in texts]


def test_whitespace_on_real_text(en_file):
    assert column(ck.read(en_file) | ck.tokenize("whitespace")) == [text.split() for text in EN[:200]]


# Chinese with ideographic spaces (U+3000) and a trailing space on the last record
IDEOGRAPHIC_SPACES = [" 中\u3000\u3000中a 中a\u3000\u3000\u3000", "a", "中a中 ", "a ", "\u3000中",
                      "中a\u3000a a  中\u3000 "]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_whitespace_is_str_split_every_time(tmp_path, suffix):
    path = tmp_path / f"in{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in IDEOGRAPHIC_SPACES),
                        encoding="utf-8")
    else:
        pq.write_table(pa.table({"text": IDEOGRAPHIC_SPACES}), path)
    expected = [text.split() for text in IDEOGRAPHIC_SPACES]
    runs = [column(ck.read(path) | ck.tokenize("whitespace")) for _ in range(30)]
    assert [run for run in runs if run != expected] == []


def test_drop_space_leaves_out_whitespace_tokens(zh_file):
    got = column(ck.read(zh_file) | ck.tokenize("char", drop_space=True))
    assert got == [[c for c in text if not c.isspace()] for text in ZH_SAMPLE]
    assert any("\u3000" in text or " " in text for text in ZH_SAMPLE)


# --- hf: a tokenizer.json --------------------------------------------------------------------------------


def test_hf_tokens_are_the_tokenizers(en_file, hf_tokenizer):
    tok, path = hf_tokenizer
    encodings = [tok.encode(text, add_special_tokens=False) for text in EN[:200]]
    assert any("[UNK]" in e.tokens for e in encodings)  # words the tokenizer never saw
    tokens = ck.read(en_file) | ck.tokenize(f"hf:{path}")
    assert column(tokens) == [e.tokens for e in encodings]
    assert column_types(tokens) == {pa.list_(pa.string())}


def test_hf_ids_are_the_tokenizers(en_file, hf_tokenizer):
    tok, path = hf_tokenizer
    encodings = [tok.encode(text, add_special_tokens=False) for text in EN[:200]]
    assert tok.encode(EN[0]).ids != encodings[0].ids  # [CLS] and [SEP] are left out
    ids = ck.read(en_file) | ck.tokenize(f"hf:{path}", ids=True)
    assert column(ids, "ids") == [e.ids for e in encodings]
    assert column_types(ids, "ids") == {pa.list_(pa.int32())}


# --- the column and the records around it -------------------------------------------------------------


@pytest.mark.parametrize("tokenizer", ["char", "whitespace", "hf"])
def test_tokens_column_is_list_of_string(en_file, hf_tokenizer, tokenizer):
    name = f"hf:{hf_tokenizer[1]}" if tokenizer == "hf" else tokenizer
    assert column_types(ck.read(en_file) | ck.tokenize(name)) == {pa.list_(pa.string())}


def test_jsonl_records_keep_their_fields(tmp_path, jsonl_file):
    source = [json.loads(line) for line in jsonl_file.read_text(encoding="utf-8").splitlines()]
    records = list(ck.read(jsonl_file) | ck.tokenize("char"))
    assert [list(r) for r in records] == [["id", "lang", "source", "text", "tokens"]] * len(source)
    assert [{k: v for k, v in r.items() if k != "tokens"} for r in records] == source
    assert [r["tokens"] for r in records] == [list(s["text"]) for s in source]

    (ck.read(jsonl_file) | ck.tokenize("char") | ck.write(tmp_path / "out.jsonl")).run(progress=False)
    written = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert written == [{**s, "tokens": list(s["text"])} for s in source]

    (ck.read(jsonl_file) | ck.tokenize("char") | ck.write(tmp_path / "out.parquet")).run(progress=False)
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.schema.names == ["id", "lang", "source", "text", "tokens"]
    assert table.schema.field("tokens").type == pa.list_(pa.string())
    assert table.column("tokens").to_pylist() == [list(s["text"]) for s in source]


def test_field_chooses_the_text(tmp_path, jsonl_file):
    got = column(ck.read(jsonl_file) | ck.tokenize("char", field="source"))
    source = [json.loads(line)["source"] for line in jsonl_file.read_text(encoding="utf-8").splitlines()]
    assert got == [list(s) for s in source]


def test_column_renames_the_output(tmp_path, en_file):
    records = list(ck.read(en_file) | ck.tokenize("char", column="chars"))
    assert [list(r) for r in records[:1]] == [["text", "chars"]]
    assert [r["chars"] for r in records] == [list(t) for t in EN[:200]]
    (ck.read(en_file) | ck.tokenize("char", column="chars", sep="|") | ck.write(tmp_path / "out.txt")).run(
        progress=False)
    assert (tmp_path / "out.txt").read_text(encoding="utf-8").splitlines() == ["|".join(t) for t in EN[:200]]


def test_an_existing_tokens_field_is_an_error(tmp_path):
    path = tmp_path / "tok.jsonl"
    path.write_text('{"text": "a b", "tokens": ["a", "b"]}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match="tokens"):
        (ck.read(path) | ck.tokenize("whitespace") | ck.write(tmp_path / "out.jsonl")).run(progress=False)
    assert sorted(os.listdir(tmp_path)) == ["tok.jsonl"]
    # another name for the new column works
    assert column(ck.read(path) | ck.tokenize("whitespace", column="words"), "words") == [["a", "b"]]


# --- text output ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("tokenizer, split", [("char", list), ("whitespace", str.split)])
@pytest.mark.parametrize("sep", [" ", "|"])
def test_text_output_joins_tokens_one_line_per_record(tmp_path, tokenizer, split, sep):
    lines = EN[:40] + ["", "  ", "last line"] + ZH[:5] + [""]
    source = write_lines(tmp_path / "in.txt", lines)
    options = {} if sep == " " else {"sep": sep}
    (ck.read(source) | ck.tokenize(tokenizer, **options) | ck.write(tmp_path / "out.txt")).run(progress=False)
    out = (tmp_path / "out.txt").read_text(encoding="utf-8")
    assert out == "".join(sep.join(split(line)) + "\n" for line in lines)
    assert out.split("\n")[40] == ""  # the empty line stays an empty line


def test_empty_line_is_an_empty_token_list(tmp_path):
    source = write_lines(tmp_path / "in.txt", ["a b", "", "c"])
    assert column(ck.read(source) | ck.tokenize("char")) == [["a", " ", "b"], [], ["c"]]


def test_tokenize_after_shuffle_writes_tokens(tmp_path):
    lines = ZH[:200]
    source = write_lines(tmp_path / "in.txt", lines)
    out = tmp_path / "out.txt"
    (ck.read(source) | ck.shuffle(mem="64M", seed=1) | ck.tokenize("char") | ck.write(out)).run(progress=False)
    written = out.read_text(encoding="utf-8").splitlines()
    assert Counter(written) == Counter(" ".join(line) for line in lines)
    assert written != [" ".join(line) for line in lines]  # shuffled


def test_tokenize_takes_lines_that_still_end_in_newlines(tmp_path):
    """What a line shuffle hands over: text lines whose values keep their newline ("terminated" batches)."""
    lines = ZH[:50] + [""] + EN[:50]
    source = write_lines(tmp_path / "in.txt", lines)

    def terminated(batches):
        for batch in batches:
            values = pc.binary_join_element_wise(batch.column(0), pa.scalar(b"\n", pa.large_binary()),
                                                 pa.scalar(b"", pa.large_binary()))
            yield terminated_batch(values)

    out = tmp_path / "out.txt"
    (ck.read(source, block_size=4096) | terminated | ck.tokenize("char") | ck.write(out)).run(progress=False)
    assert out.read_text(encoding="utf-8").splitlines() == [" ".join(line) for line in lines]


# --- ids from a vocabulary --------------------------------------------------------------------------------


@pytest.fixture
def half_vocab(tmp_path) -> tuple[Path, list[str]]:
    """A vocabulary of the characters of the first half of the lines: the second half has others."""
    counts = Counter(c for line in ZH[:20] for c in line)
    tokens = ["[PAD]", "[UNK]"] + sorted(counts, key=lambda t: (-counts[t], t))
    path = tmp_path / "vocab.txt"
    path.write_text("".join(f"{t}\t{counts.get(t, 0)}\n" for t in tokens), encoding="utf-8")
    return path, tokens


@pytest.mark.parametrize("unk, unk_id", [(None, 1), ("[PAD]", 0), (7, 7)])
def test_vocab_gives_ids_and_unknown_tokens_the_unk_id(tmp_path, half_vocab, unk, unk_id):
    path, tokens = half_vocab
    source = write_lines(tmp_path / "in.txt", ZH[:40])
    pipe = ck.read(source) | ck.tokenize("char", vocab=path, **({} if unk is None else {"unk": unk}))
    index = {t: i for i, t in enumerate(tokens)}
    expected = [[index.get(c, unk_id) for c in line] for line in ZH[:40]]
    assert any(unk_id in ids for ids in expected[20:])  # some characters are unknown
    assert column(pipe, "ids") == expected
    assert column_types(pipe, "ids") == {pa.list_(pa.int32())}
    assert "tokens" not in next(pipe.batches()).schema.names


def test_vocab_object_and_text_output_of_ids(tmp_path, half_vocab):
    path, tokens = half_vocab
    source = write_lines(tmp_path / "in.txt", ZH[18:24] + [""])
    vocab = ck.load_vocab(path)
    (ck.read(source) | ck.tokenize("char", vocab=vocab, sep=",", column="piece_ids")
     | ck.write(tmp_path / "ids.txt")).run(progress=False)
    index = {t: i for i, t in enumerate(tokens)}
    assert (tmp_path / "ids.txt").read_text().splitlines() == \
        [",".join(str(index.get(c, 1)) for c in line) for line in ZH[18:24] + [""]]


def test_vocab_without_unk_needs_unk(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\t0\na\t3\nb\t2\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"\[UNK\]"):
        ck.tokenize("char", vocab=path)
    with pytest.raises(CorpusError, match="unk"):
        ck.tokenize("char", vocab=path, unk=3)
    source = write_lines(tmp_path / "in.txt", ["abc"])
    assert column(ck.read(source) | ck.tokenize("char", vocab=path, unk="[PAD]"), "ids") == [[1, 2, 0]]


# --- workers ----------------------------------------------------------------------------------------------


def test_two_workers_give_the_same_records_in_the_same_order(tmp_path):
    lines = ZH[:300]
    source = write_lines(tmp_path / "in.txt", lines)
    one = list((ck.read(source, block_size=8192) | ck.tokenize("jieba", workers=1)).batches())
    two = list((ck.read(source, block_size=8192) | ck.tokenize("jieba", workers=2)).batches())
    assert len(one) > 4  # more batches than are in flight at once
    assert [b.to_pylist() for b in two] == [b.to_pylist() for b in one]
    assert [t for b in two for t in b.column("tokens").to_pylist()] == [jieba.lcut(line) for line in lines]


def test_a_big_batch_comes_back_whole_and_in_order(tmp_path):
    """One batch of 740 kB (the whole of both fortune files): shared among the workers, then put together."""
    lines = ZH + EN
    source = write_lines(tmp_path / "in.txt", lines)
    batches = list((ck.read(source) | ck.tokenize("char", keep_ascii=True, workers=2)).batches())
    assert [b.num_rows for b in batches] == [len(lines)]
    assert batches[0].column("tokens").to_pylist() == [ASCII_WORD.findall(line) for line in lines]


# --- bad input --------------------------------------------------------------------------------------------


@pytest.fixture
def bad_utf8(tmp_path) -> tuple[list[Path], int, list[bytes]]:
    """A good file, then one whose line 151 is not UTF-8 (past the first batch at a small block size)."""
    good = write_lines(tmp_path / "good.txt", ZH[:50])
    lines = [line.encode() for line in ZH[100:300]]
    lines[150] = "开头".encode() + b"\xff\xfe" + "结尾".encode()
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"".join(line + b"\n" for line in lines))
    return [good, bad], 151, lines


@pytest.mark.parametrize("workers", [1, 2])
def test_invalid_utf8_names_file_and_line(tmp_path, bad_utf8, workers):
    inputs, line, _ = bad_utf8
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    pipe = ck.read(inputs, block_size=4096) | ck.tokenize("char", workers=workers) | ck.write(out_dir / "tok.txt")
    with pytest.raises(InputError) as caught:
        pipe.run(progress=False)
    assert (caught.value.path, caught.value.line) == (str(inputs[1]), line)
    assert f"bad.txt:{line}" in str(caught.value) and "UTF-8" in str(caught.value)
    assert os.listdir(out_dir) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_invalid_utf8_far_into_a_big_batch(tmp_path, workers):
    lines = [line.encode() for line in ZH + EN]
    lines[3400] = b"caf\xe9 " + lines[3400]
    source = tmp_path / "big.txt"
    source.write_bytes(b"".join(line + b"\n" for line in lines))
    with pytest.raises(InputError) as caught:
        (ck.read(source) | ck.tokenize("char", workers=workers) | ck.write(tmp_path / "out.txt")).run(progress=False)
    assert (caught.value.path, caught.value.line) == (str(source), 3401)
    assert sorted(os.listdir(tmp_path)) == ["big.txt"]
    (ck.read(source) | ck.tokenize("char", errors="replace", workers=workers) | ck.write(tmp_path / "out.txt")).run(
        progress=False)
    written = (tmp_path / "out.txt").read_text(encoding="utf-8").splitlines()
    assert written == [" ".join(line.decode("utf-8", errors="replace")) for line in lines]


@pytest.mark.parametrize("workers", [1, 2])
def test_errors_replace_substitutes_and_continues(tmp_path, bad_utf8, workers):
    inputs, line, lines = bad_utf8
    out = tmp_path / "tok.txt"
    stats = (ck.read(inputs, block_size=4096) | ck.tokenize("char", errors="replace", workers=workers)
             | ck.write(out)).run(progress=False)
    texts = ZH[:50] + [raw.decode("utf-8", errors="replace") for raw in lines]
    assert out.read_text(encoding="utf-8").splitlines() == [" ".join(t) for t in texts]
    assert "\ufffd \ufffd" in out.read_text(encoding="utf-8").splitlines()[50 + line - 1]
    assert stats.records == 250
    assert stats.stages[1].as_dict()["noted"] == {"utf8_replaced": 1}


# --- checks made when the stage is built --------------------------------------------------------------


@pytest.mark.parametrize("args, options, message", [
    (("bert",), {}, "unknown tokenizer 'bert'"),
    (("hf:",), {}, "hf:PATH"),
    (("char",), {"hmm": False}, "jieba settings"),
    (("char",), {"mode": "search"}, "jieba settings"),
    (("whitespace",), {"user_dict": "user.dict"}, "jieba settings"),
    (("char",), {"engine": "rjieba"}, "jieba settings"),
    (("jieba",), {"keep_ascii": True}, "keep_ascii"),
    (("jieba",), {"mode": "precise"}, "unknown jieba mode 'precise'"),
    (("jieba",), {"engine": "pkuseg"}, "unknown jieba engine"),
    (("char",), {"errors": "ignore"}, "errors must be"),
    (("char",), {"workers": -1}, "workers"),
    (("char",), {"ids": True}, "vocab"),
    ((42,), {}, "string"),
])
def test_bad_settings_are_clear_errors(args, options, message):
    with pytest.raises(CorpusError, match=re.escape(message)):
        ck.tokenize(*args, **options)


def bad_files(tmp_path: Path) -> dict[str, tuple[dict, Path, str]]:
    """Each kind of unusable file: the tokenize options that name it, the file, what the error says."""
    garbage = tmp_path / "garbage.json"
    garbage.write_text("this is not JSON\n")
    not_a_tokenizer = tmp_path / "other.json"
    not_a_tokenizer.write_text('{"version": "1.0", "model": 3}\n')
    duplicate = tmp_path / "dup.txt"
    duplicate.write_text("[PAD]\t0\n[UNK]\t0\nthe\t9\nof\t5\nthe\t2\n", encoding="utf-8")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("[PAD]\t0\n[UNK]\t0\ncafé\t3\n".encode("latin-1"))
    bad_dict = tmp_path / "user-latin1.dict"
    bad_dict.write_bytes("司空曙 5\n".encode() + "café 3\n".encode("latin-1"))
    return {
        "missing user dict": ({"tokenizer": "jieba", "user_dict": tmp_path / "nope.dict"},
                              tmp_path / "nope.dict", "cannot read the user dictionary"),
        "user dict not UTF-8": ({"tokenizer": "jieba", "user_dict": bad_dict}, bad_dict, ":2: "),
        "missing hf file": ({"tokenizer": f"hf:{tmp_path / 'nope.json'}"}, tmp_path / "nope.json",
                            "no such tokenizer file"),
        "garbage hf file": ({"tokenizer": f"hf:{garbage}"}, garbage, "not a tokenizer.json"),
        "json that is no tokenizer": ({"tokenizer": f"hf:{not_a_tokenizer}"}, not_a_tokenizer,
                                      "not a tokenizer.json"),
        "missing vocab": ({"tokenizer": "char", "vocab": tmp_path / "nope.txt"}, tmp_path / "nope.txt",
                          "cannot read the vocabulary"),
        "duplicate token": ({"tokenizer": "char", "vocab": duplicate}, duplicate, "dup.txt:5: token 'the' is "
                            "already on line 3"),
        "vocab not UTF-8": ({"tokenizer": "char", "vocab": latin1}, latin1, "latin1.txt:3: vocabulary line is "
                            "not UTF-8"),
    }


BAD_FILES = ["missing user dict", "user dict not UTF-8", "missing hf file", "garbage hf file",
             "json that is no tokenizer", "missing vocab", "duplicate token", "vocab not UTF-8"]


@pytest.mark.parametrize("kind", BAD_FILES)
def test_unusable_files_are_errors_when_the_stage_is_built(tmp_path, kind):
    options, path, message = bad_files(tmp_path)[kind]
    with pytest.raises(InputError) as caught:
        ck.tokenize(**options)  # no input exists at all: nothing was read
    assert caught.value.path == str(path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
