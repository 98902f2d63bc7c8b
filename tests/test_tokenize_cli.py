"""The ``corpuskit tokenize`` and ``corpuskit vocab`` commands: their output, the same bytes for any
number of workers, a quiet stderr, and one-line errors that leave nothing behind."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jieba
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from corpuskit.cli import main

DATA = Path(__file__).resolve().parent.parent / "examples" / "data"
ZH = (DATA / "fortunes-zh.txt").read_text(encoding="utf-8").splitlines()
EN = (DATA / "fortunes-en.txt").read_text(encoding="utf-8").splitlines()
JIEBA_CHATTER = ("Building prefix dict", "Loading model", "Prefix dict has been built", "jieba.cache",
                 "Dumping model")


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def ok(result):
    assert result.exit_code == 0, result.output
    return result


def corpuskit(*args, cwd=None) -> subprocess.CompletedProcess:
    """The command in a process of its own, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "corpuskit.cli", *map(str, args)], capture_output=True,
                          timeout=120, cwd=cwd)


def one_line_error(result) -> str:
    """The error of a command that failed before doing anything: the only line on stderr."""
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("corpuskit: error: ")
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n")
    return result.stderr


def run_error(result) -> str:
    """The error of a command that failed on the way: one error line, last, after what the run printed."""
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert [line for line in lines if "error" in line] == lines[-1:]
    assert lines[-1].startswith("corpuskit: error: ")
    assert "Traceback" not in result.stderr
    return lines[-1]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def split_into(folder: Path, lines: list[str], parts: int) -> list[Path]:
    """``lines`` over ``parts`` files (each file is at least one batch, so several are in flight)."""
    folder.mkdir()
    size = -(-len(lines) // parts)
    return [write_lines(folder / f"part{i}.txt", lines[i * size:(i + 1) * size]) for i in range(parts)]


# --- jieba in processes of their own ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def jieba_runs(tmp_path_factory):
    """``corpuskit tokenize`` with jieba and a user dictionary, run once with 1 worker and once with 2 (quiet)."""
    root = tmp_path_factory.mktemp("jieba")
    inputs = split_into(root / "in", ZH[120:360], 6)
    user_dict = write_lines(root / "user.dict", ["司空曙", "闻风坐相悦 10"])
    runs = {}
    for workers, quiet in ((1, ()), (2, ("-q",))):
        out = root / f"out{workers}.txt"
        result = corpuskit("tokenize", *inputs, "-o", out, "--user-dict", user_dict, "--workers", workers, *quiet)
        runs[workers] = (result, out)
    return runs, user_dict


def test_cli_jieba_writes_jiebas_tokens(jieba_runs):
    runs, user_dict = jieba_runs
    result, out = runs[1]
    assert result.returncode == 0, result.stderr.decode()
    reference = jieba.Tokenizer()
    reference.load_userdict(str(user_dict))
    expected = [" ".join(reference.lcut(line)) for line in ZH[120:360]]
    assert out.read_text(encoding="utf-8").splitlines() == expected
    assert any("司空曙" in tokens.split(" ") for tokens in expected)


def test_cli_same_bytes_for_one_and_two_workers(jieba_runs):
    runs, _ = jieba_runs
    assert runs[2][0].returncode == 0, runs[2][0].stderr.decode()
    assert runs[2][1].read_bytes() == runs[1][1].read_bytes()


def test_cli_manifest_records_the_tokenizer(jieba_runs):
    runs, user_dict = jieba_runs
    for workers, (_, out) in runs.items():
        manifest = json.loads(Path(f"{out}.manifest.json").read_text(encoding="utf-8"))
        [stage] = manifest["stages"]
        assert (stage["tokenizer"], stage["mode"], stage["hmm"], stage["workers"]) == ("jieba", "accurate", True,
                                                                                       workers)
        assert stage["user_dict"] == str(user_dict) and stage["user_dict_xxh64"]
        assert manifest["outputs"][0]["records"] == 240


def test_jieba_start_up_chatter_stays_off_stderr(jieba_runs):
    runs, _ = jieba_runs
    stderr = runs[1][0].stderr.decode()
    assert "240 records" in stderr  # the command's own summary is there
    for chatter in JIEBA_CHATTER:
        assert chatter not in stderr
    assert runs[2][0].stderr == b""  # --quiet, two worker processes: nothing at all


# --- workers and shards -----------------------------------------------------------------------------------


def test_shards_same_bytes_for_one_and_two_workers(tmp_path):
    inputs = split_into(tmp_path / "in", ZH, 8)
    for workers in (1, 2):
        ok(cli("tokenize", *inputs, "-o", tmp_path / f"shards{workers}", "--shards", 3, "-t", "char",
               "--keep-ascii", "--workers", workers, "-q"))
    ok(cli("tokenize", *inputs, "-o", tmp_path / "single.txt", "-t", "char", "--keep-ascii", "--workers", 2, "-q"))
    names = [f"part-{i:05d}.txt" for i in range(3)]
    assert sorted(os.listdir(tmp_path / "shards1")) == sorted(names + ["manifest.json"])
    one = [(tmp_path / "shards1" / n).read_bytes() for n in names]
    two = [(tmp_path / "shards2" / n).read_bytes() for n in names]
    assert one == two
    assert b"".join(one) == (tmp_path / "single.txt").read_bytes()
    assert [part.count(b"\n") for part in one] == [355, 356, 356]
    mixed = (tmp_path / "single.txt").read_text(encoding="utf-8").splitlines()[411]  # 第 1 章 GNU/Linux 教程
    assert mixed.startswith("第   1   章   GNU / Linux   教 程")


# --- formats and options ----------------------------------------------------------------------------------


def test_cli_jsonl_keeps_fields_and_column_names_the_output(tmp_path):
    records = [json.loads(line) for line in (DATA / "fortunes.jsonl").read_text(encoding="utf-8").splitlines()]
    chosen = records[:20] + records[-20:]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen), encoding="utf-8")
    ok(cli("tokenize", source, "-o", tmp_path / "out.jsonl", "-t", "char", "--column", "chars", "-q"))
    written = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert written == [{**r, "chars": list(r["text"])} for r in chosen]
    ok(cli("tokenize", source, "-o", tmp_path / "out.txt", "-t", "char", "--sep", "|", "-q"))
    assert (tmp_path / "out.txt").read_text(encoding="utf-8").splitlines() == ["|".join(r["text"]) for r in chosen]


@pytest.mark.parametrize("tokenizer", ["char", "whitespace"])
def test_cli_text_output_and_stdout(tmp_path, tokenizer):
    lines = EN[:30] + ["", "\tend  "]
    source = write_lines(tmp_path / "in.txt", lines)
    split = list if tokenizer == "char" else str.split
    ok(cli("tokenize", source, "-o", tmp_path / "out.txt", "-t", tokenizer, "-q"))
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == "".join(" ".join(split(t)) + "\n" for t in lines)
    result = ok(cli("tokenize", source, "-o", "-", "-t", tokenizer, "--sep", "|", "-q"))
    assert result.stdout == "".join("|".join(split(t)) + "\n" for t in lines)


@pytest.fixture(scope="module")
def hf_file(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(EN[:800], trainers.WordLevelTrainer(special_tokens=["[UNK]"], min_frequency=2))
    path = tmp_path_factory.mktemp("hf") / "tokenizer.json"
    tok.save(str(path))
    return tok, path


def test_cli_hf_ids(tmp_path, hf_file):
    tok, path = hf_file
    source = write_lines(tmp_path / "in.txt", EN[800:850])
    ok(cli("tokenize", source, "-o", tmp_path / "ids.txt", "-t", f"hf:{path}", "--ids", "-q"))
    assert (tmp_path / "ids.txt").read_text().splitlines() == \
        [" ".join(map(str, tok.encode(t, add_special_tokens=False).ids)) for t in EN[800:850]]


def test_cli_hf_tokens(tmp_path, hf_file):
    tok, path = hf_file
    source = write_lines(tmp_path / "in.txt", EN[800:850])
    ok(cli("tokenize", source, "-o", tmp_path / "tok.txt", "-t", f"hf:{path}", "-q"))
    assert (tmp_path / "tok.txt").read_text().splitlines() == \
        [" ".join(tok.encode(t, add_special_tokens=False).tokens) for t in EN[800:850]]


def test_cli_vocab_ids_in_text_and_parquet(tmp_path):
    source = write_lines(tmp_path / "in.txt", ["abc", "", "cab d"])
    vocab = write_lines(tmp_path / "vocab.txt", ["[PAD]\t0", "[UNK]\t0", "a\t2", "b\t2", "c\t2"])
    ok(cli("tokenize", source, "-o", tmp_path / "ids.txt", "-t", "char", "--vocab", vocab, "-q"))
    assert (tmp_path / "ids.txt").read_text() == "2 3 4\n\n4 2 3 1 1\n"
    ok(cli("tokenize", source, "-o", tmp_path / "ids.parquet", "-t", "char", "--vocab", vocab, "--unk", "[PAD]",
           "-q"))
    table = pq.read_table(tmp_path / "ids.parquet")
    assert table.schema.field("ids").type == pa.list_(pa.int32())
    assert table.column("ids").to_pylist() == [[2, 3, 4], [], [4, 2, 3, 0, 0]]


def test_cli_tokenize_after_vocab_round_trip(tmp_path):
    raw = write_lines(tmp_path / "raw.txt", ZH[:100])
    ok(cli("tokenize", raw, "-o", tmp_path / "tok.txt", "-t", "char", "-q"))
    ok(cli("vocab", tmp_path / "tok.txt", "-o", tmp_path / "vocab.txt", "--min-count", 2, "-q"))
    ok(cli("tokenize", raw, "-o", tmp_path / "ids.txt", "-t", "char", "--vocab", tmp_path / "vocab.txt", "-q"))
    tokens = [line.split("\t")[0] for line in (tmp_path / "vocab.txt").read_text(encoding="utf-8").splitlines()]
    counts = Counter(c for line in ZH[:100] for c in line if c != " ")
    back = [[tokens[int(i)] for i in line.split()] for line in (tmp_path / "ids.txt").read_text().splitlines()]
    # a space token does not survive a space-joined text file, so it is [UNK] like the rare characters
    assert back == [[c if counts[c] >= 2 else "[UNK]" for c in line] for line in ZH[:100]]
    assert any("[UNK]" in line for line in back)


# --- bad input --------------------------------------------------------------------------------------------


@pytest.fixture
def bad_input(tmp_path) -> tuple[list[Path], Path]:
    good = write_lines(tmp_path / "good.txt", ZH[:30])
    lines = [line.encode() for line in ZH[30:130]]
    lines[41] = b"\xc3\x28 broken"
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"".join(line + b"\n" for line in lines))
    out = tmp_path / "out"
    out.mkdir()
    return [good, bad], out


@pytest.mark.parametrize("workers", [1, 2])
def test_cli_invalid_utf8_stops_with_file_and_line(bad_input, workers):
    inputs, out = bad_input
    error = run_error(cli("tokenize", *inputs, "-o", out / "tok.txt", "-t", "char", "--workers", workers))
    assert f"{inputs[1]}:42: not valid UTF-8" in error
    assert "--errors replace" in error
    assert os.listdir(out) == []  # no output, no manifest, no temporary file


def test_cli_errors_replace_continues(bad_input):
    inputs, out = bad_input
    ok(cli("tokenize", *inputs, "-o", out / "tok.txt", "-t", "char", "--workers", 2, "--errors", "replace", "-q"))
    lines = (out / "tok.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 130
    assert lines[71] == " ".join("\ufffd( broken")
    assert lines[72] == " ".join(ZH[72])


def bad_file_options(tmp_path: Path) -> dict[str, tuple[list, Path]]:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{ not json\n")
    duplicate = tmp_path / "dup.txt"
    duplicate.write_text("[UNK]\t0\n的\t9\n了\t5\n的\t2\n", encoding="utf-8")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("[UNK]\t0\ncafé\t3\n".encode("latin-1"))
    return {
        "missing user dict": (["--user-dict", tmp_path / "nope.dict"], tmp_path / "nope.dict"),
        "missing hf file": (["-t", f"hf:{tmp_path / 'nope.json'}"], tmp_path / "nope.json"),
        "garbage hf file": (["-t", f"hf:{garbage}"], garbage),
        "missing vocab": (["-t", "char", "--vocab", tmp_path / "nope.txt"], tmp_path / "nope.txt"),
        "duplicate token": (["-t", "char", "--vocab", duplicate], duplicate),
        "vocab not UTF-8": (["-t", "char", "--vocab", latin1], latin1),
    }


@pytest.mark.parametrize("kind", ["missing user dict", "missing hf file", "garbage hf file", "missing vocab",
                                  "duplicate token", "vocab not UTF-8"])
def test_cli_unusable_files_are_one_line_errors(tmp_path, kind):
    options, path = bad_file_options(tmp_path)[kind]
    source = write_lines(tmp_path / "in.txt", ZH[:5])
    out = tmp_path / "out"
    out.mkdir()
    error = one_line_error(cli("tokenize", source, "-o", out / "tok.txt", *options))
    assert f"corpuskit: error: {path}" in error
    if kind == "duplicate token":
        assert f"{path}:4: token '的' is already on line 2" in error
    assert os.listdir(out) == []


@pytest.mark.parametrize("options, message", [
    (["-t", "sentencepiece"], "unknown tokenizer 'sentencepiece'"),
    (["-t", "char", "--no-hmm"], "jieba settings"),
    (["-t", "whitespace", "--keep-ascii"], "keep_ascii"),
    (["-t", "char", "--ids"], "vocab"),
])
def test_cli_bad_settings_are_one_line_errors(tmp_path, options, message):
    source = write_lines(tmp_path / "in.txt", ["a b"])
    error = one_line_error(cli("tokenize", source, "-o", tmp_path / "out.txt", *options))
    assert message in error
    assert not (tmp_path / "out.txt").exists()


def test_cli_bad_mode_is_a_usage_error(tmp_path):
    source = write_lines(tmp_path / "in.txt", ["a b"])
    result = cli("tokenize", source, "-o", tmp_path / "out.txt", "--mode", "precise")
    assert result.exit_code == 2 and "'precise' is not one of" in result.stderr
    assert not (tmp_path / "out.txt").exists()


def test_cli_an_existing_tokens_field_is_an_error(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "a b", "tokens": ["a", "b"]}\n')
    error = run_error(cli("tokenize", source, "-o", tmp_path / "out.jsonl", "-t", "whitespace"))
    assert "'tokens'" in error and "--column" in error
    assert sorted(os.listdir(tmp_path)) == ["in.jsonl"]


# --- corpuskit vocab ------------------------------------------------------------------------------------


@pytest.fixture
def tokenized(tmp_path) -> tuple[Path, Counter]:
    lines = [" ".join(line.split()) for line in EN[:500]]
    return write_lines(tmp_path / "tok.txt", lines), Counter(t for line in lines for t in line.split(" "))


def read_vocab(path: Path) -> list[tuple[str, int]]:
    return [(t, int(n)) for t, n in (line.split("\t") for line in path.read_text(encoding="utf-8").splitlines())]


def ranked(counts: Counter) -> list[tuple[str, int]]:
    return [(t, counts[t]) for t in sorted(counts, key=lambda t: (-counts[t], t))]


def test_cli_vocab_counts_and_manifest(tmp_path, tokenized):
    path, counts = tokenized
    out = tmp_path / "vocab.txt"
    result = ok(cli("vocab", path, "-o", out))
    assert read_vocab(out) == [("[PAD]", 0), ("[UNK]", 0)] + ranked(counts)
    assert f"{len(counts) + 2:,} entries" in result.stderr
    manifest = json.loads((tmp_path / "vocab.txt.manifest.json").read_text(encoding="utf-8"))
    assert manifest["tokens_counted"] == sum(counts.values())
    assert manifest["vocab_size"] == len(counts) + 2


def test_cli_vocab_min_count_max_size_and_specials(tmp_path, tokenized):
    path, counts = tokenized
    out = tmp_path / "vocab.txt"
    ok(cli("vocab", path, "-o", out, "--min-count", 3, "--max-size", 40, "--special", "<s>", "--special", "</s>",
           "--special", "<unk>", "-q"))
    kept = [(t, n) for t, n in ranked(counts) if n >= 3][:37]
    assert read_vocab(out) == [("<s>", 0), ("</s>", 0), ("<unk>", 0)] + kept
    ok(cli("vocab", path, "-o", out, "--no-specials", "--min-count", 4, "--force", "-q"))
    assert read_vocab(out) == [(t, n) for t, n in ranked(counts) if n >= 4]


def test_cli_vocab_with_a_tokenizer_on_raw_text(tmp_path):
    raw = write_lines(tmp_path / "raw.txt", ZH[:80] + EN[:80])
    out = tmp_path / "vocab.txt"
    ok(cli("vocab", raw, "-o", out, "--tokenizer", "char", "--keep-ascii", "--workers", 2, "-q"))
    counts = Counter(t for line in ZH[:80] + EN[:80] for t in re.findall(r"[A-Za-z0-9]+|.", line, re.S))
    assert read_vocab(out) == [("[PAD]", 0), ("[UNK]", 0)] + ranked(counts)


def test_cli_vocab_refuses_an_existing_output(tmp_path, tokenized):
    out = tmp_path / "vocab.txt"
    out.write_text("mine\t1\n")
    error = run_error(cli("vocab", tokenized[0], "-o", out))
    assert str(out) in error and "--force" in error
    assert out.read_text() == "mine\t1\n"
    assert not (tmp_path / "vocab.txt.manifest.json").exists()
    ok(cli("vocab", tokenized[0], "-o", out, "--force", "-q"))
    assert read_vocab(out)[:2] == [("[PAD]", 0), ("[UNK]", 0)]


def test_cli_vocab_invalid_utf8(tmp_path):
    source = tmp_path / "tok.txt"
    source.write_bytes(b"a b\nc \xff d\n")
    error = run_error(cli("vocab", source, "-o", tmp_path / "vocab.txt"))
    assert f"{source}:2: not valid UTF-8" in error
    assert sorted(os.listdir(tmp_path)) == ["tok.txt"]
    ok(cli("vocab", source, "-o", tmp_path / "vocab.txt", "-t", "whitespace", "--errors", "replace", "-q"))
    assert ("\ufffd", 1) in read_vocab(tmp_path / "vocab.txt")


@pytest.mark.parametrize("command, options", [
    ("tokenize", ["--tokenizer", "--mode", "--hmm", "--user-dict", "--engine", "--keep-ascii", "--vocab", "--unk",
                  "--ids", "--column", "--sep", "--errors", "--workers", "--shards", "--force"]),
    ("vocab", ["--tokenizer", "--min-count", "--max-size", "--special", "--no-specials", "--sep", "--field",
               "--force", "--workers"]),
])
def test_cli_help_lists_the_options(command, options):
    result = ok(cli(command, "--help"))
    for option in options:
        assert option in result.stdout
