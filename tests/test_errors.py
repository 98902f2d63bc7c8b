"""Bad input and interrupted runs: a one-line error naming the file and line, and nothing left behind."""

from __future__ import annotations

import gzip
import os

import pytest
import zstandard
from click.testing import CliRunner

import corpuskit as ck
from corpuskit import CorpusError, InputError, OutputError
from corpuskit.cli import main

OUTPUTS = ["out.txt", "out.txt.zst", "out.jsonl.gz", "out.parquet", "shards/"]


def cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(result) -> str:
    """The error line the CLI printed, after checking that it printed only that."""
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("corpuskit: error: ")
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n")
    assert "Traceback" not in result.stderr
    return result.stderr


def nothing_written(folder) -> None:
    assert os.listdir(folder) == []


def cat_args(out_dir, output: str) -> list[str]:
    if output.endswith("/"):
        return ["-o", out_dir / output.rstrip("/"), "--shards", "3"]
    return ["-o", out_dir / output]


@pytest.fixture
def out_dir(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def good_and_then(tmp_path, name: str, data: bytes) -> list:
    """A good input of many lines followed by the bad one, so some output was written first."""
    good = tmp_path / "good.txt"
    good.write_bytes(b"".join(b"good %d\n" % i for i in range(2000)))
    (tmp_path / name).write_bytes(data)
    return [good, tmp_path / name]


def truncated_zstd() -> bytes:
    data = zstandard.ZstdCompressor().compress(b"".join(b"line %d\n" % i for i in range(20000)))
    return data[: len(data) // 2]


def truncated_gzip() -> bytes:
    data = gzip.compress(b"".join(b"line %d\n" % i for i in range(20000)))
    return data[: len(data) // 2]


BAD_INPUTS = {
    "bad.jsonl": (b'{"text": "a"}\n{"text": "b"}\n{"text": "c",, "d": 1}\n{"text": "e"}\n',
                  ["bad.jsonl:3: malformed JSON", '{"text": "c",, "d": 1}']),
    "bad.txt.zst": (truncated_zstd(), ["bad.txt.zst: zstd stream is truncated"]),
    "bad.txt.gz": (truncated_gzip(), ["bad.txt.gz: gzip stream is truncated"]),
    "garbage.txt.zst": (b"this is not zstd\n" * 10, ["garbage.txt.zst: corrupt zstd stream"]),
    "garbage.txt.gz": (b"this is not gzip\n" * 10, ["garbage.txt.gz: corrupt gzip stream"]),
    "garbage.parquet": (b"PAR1 not really", ["garbage.parquet: not a readable Parquet file"]),
}


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_through_the_cli(tmp_path, out_dir, name, output):
    data, expected = BAD_INPUTS[name]
    inputs = good_and_then(tmp_path, name, data)
    message = one_line_error(cli("cat", *inputs, *cat_args(out_dir, output)))
    for part in expected:
        assert part in message
    nothing_written(out_dir)


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_through_the_library(tmp_path, name):
    data, expected = BAD_INPUTS[name]
    (tmp_path / name).write_bytes(data)
    with pytest.raises(InputError) as caught:
        list(ck.read(tmp_path / name, block_size=16))
    assert str(caught.value).startswith(str(tmp_path / name))
    assert expected[0].split(": ", 1)[1] in str(caught.value)


def test_bad_input_counted_too(tmp_path):
    (tmp_path / "bad.txt.zst").write_bytes(truncated_zstd())
    message = one_line_error(cli("count", tmp_path / "bad.txt.zst"))
    assert "bad.txt.zst: zstd stream is truncated" in message


def test_malformed_json_line_number_across_blocks(tmp_path):
    lines = [b'{"text": "%s"}' % (b"x" * i) for i in range(50)]
    lines[37] = b'{"text": "unterminated'
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    for block_size in (1, 16, 100, 1 << 20):
        with pytest.raises(InputError) as caught:
            list(ck.read(tmp_path / "in.jsonl", block_size=block_size))
        assert (caught.value.path, caught.value.line) == (str(tmp_path / "in.jsonl"), 38)
        assert str(caught.value).endswith("'{\"text\": \"unterminated'")


def test_long_bad_line_is_shown_by_its_start(tmp_path):
    (tmp_path / "in.jsonl").write_bytes(b"{" + b"y" * 5000 + b"\n")
    with pytest.raises(InputError) as caught:
        list(ck.read(tmp_path / "in.jsonl"))
    assert "'{yyyy" in str(caught.value)
    assert "y" * 100 not in str(caught.value)


def test_on_error_skip_goes_past_bad_json(tmp_path, out_dir):
    (tmp_path / "in.jsonl").write_bytes(b'{"text": "a"}\n{bad\n{"text": "b"}\n')
    result = cli("cat", tmp_path / "in.jsonl", "-o", out_dir / "out.txt", "--on-error", "skip")
    assert result.exit_code == 0, result.output
    assert (out_dir / "out.txt").read_bytes() == b"a\nb\n"
    assert "1 bad_json" in result.stderr


@pytest.mark.parametrize("output", OUTPUTS)
def test_missing_field(tmp_path, out_dir, output):
    (tmp_path / "in.jsonl").write_text('{"body": "a"}\n{"body": "b"}\n{"title": "c"}\n{"body": "d"}\n')
    message = one_line_error(cli("cat", tmp_path / "in.jsonl", "--field", "body", *cat_args(out_dir, output)))
    assert "in.jsonl:3: record has no field 'body'" in message
    nothing_written(out_dir)


@pytest.mark.parametrize("block_size", [1, 20, 1 << 20])
def test_missing_field_skipped_and_counted_at_the_right_lines(tmp_path, block_size):
    (tmp_path / "in.jsonl").write_text(
        '{"body": "a"}\nnot json\n{"title": "c"}\n{"body": "d"}\n\n{"title": "f"}\n{"body": "g"}\n')
    seen: list[CorpusError] = []
    pipe = ck.read(tmp_path / "in.jsonl", field="body", on_error=seen.append, block_size=block_size)
    assert [r["body"] for r in pipe] == ["a", "d", "g"]
    assert [(e.line, e.reason.split(" (")[0]) for e in seen] == [
        (2, "malformed JSON"), (3, "record has no field 'body'"), (6, "record has no field 'body'")]
    stats = (ck.read(tmp_path / "in.jsonl", field="body", on_error="skip", block_size=block_size)
             | ck.write(tmp_path / "out.txt")).run(progress=False)
    assert stats.stages[0].dropped == {"bad_json": 1, "missing_field": 2}
    assert (tmp_path / "out.txt").read_bytes() == b"a\nd\ng\n"


def test_field_nowhere(tmp_path, out_dir):
    (tmp_path / "in.jsonl").write_text('{"body": "a"}\n{"body": "b"}\n')
    message = one_line_error(cli("cat", tmp_path / "in.jsonl", "--field", "text", "-o", out_dir / "o.txt"))
    assert "in.jsonl:1: record has no field 'text' (fields: body)" in message
    nothing_written(out_dir)


def test_parquet_missing_field(tmp_path, out_dir):
    (tmp_path / "in.jsonl").write_text('{"body": "a"}\n')
    (ck.read(tmp_path / "in.jsonl") | ck.write(tmp_path / "in.parquet")).run(progress=False)
    message = one_line_error(cli("cat", tmp_path / "in.parquet", "--field", "text", "-o", out_dir / "o.txt"))
    assert "in.parquet: no field 'text'" in message
    nothing_written(out_dir)


def test_text_output_needs_to_know_the_text_field(tmp_path, out_dir):
    (tmp_path / "in.jsonl").write_text('{"a": "x", "b": "y"}\n')
    message = one_line_error(cli("cat", tmp_path / "in.jsonl", "-o", out_dir / "o.txt"))
    assert "say which holds the text" in message
    nothing_written(out_dir)


def test_invalid_utf8_to_jsonl_names_the_line(tmp_path, out_dir):
    (tmp_path / "in.txt").write_bytes(b"ok\nfine\n\xff\xfe\n")
    message = one_line_error(cli("cat", tmp_path / "in.txt", "-o", out_dir / "o.jsonl"))
    assert "in.txt:3: not valid UTF-8" in message
    nothing_written(out_dir)


def test_error_after_a_filter_never_names_a_wrong_line(tmp_path):
    (tmp_path / "in.txt").write_bytes(b"ok\ndrop\n\xff\xfe\n")
    pipe = ck.read(tmp_path / "in.txt") | ck.filter(lambda r: r["text"] != b"drop")
    with pytest.raises(InputError) as caught:
        (pipe | ck.write(tmp_path / "o.jsonl")).run(progress=False)
    assert caught.value.path == str(tmp_path / "in.txt")
    assert caught.value.line in (None, 3)


@pytest.mark.parametrize("missing", ["nope.txt", "nope*.txt", "nofolder/"])
def test_missing_input(tmp_path, out_dir, missing):
    (tmp_path / "a.txt").write_bytes(b"a\n")
    message = one_line_error(cli("cat", tmp_path / "a.txt", tmp_path / missing, "-o", out_dir / "o.txt"))
    assert str(tmp_path / missing).rstrip("/") in message
    assert "no such file" in message or "no file matches" in message
    nothing_written(out_dir)


def test_empty_folder_input(tmp_path, out_dir):
    (tmp_path / "empty").mkdir()
    message = one_line_error(cli("cat", tmp_path / "empty", "-o", out_dir / "o.txt"))
    assert "folder holds no data files" in message
    nothing_written(out_dir)


def test_unknown_format_in_the_library(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"a\n")
    with pytest.raises(InputError, match="unknown format 'xml'"):
        ck.read(tmp_path / "a.txt", format="xml")
    with pytest.raises(InputError, match="unknown compression 'bz2'"):
        ck.read(tmp_path / "a.txt", compression="bz2")
    for kwargs in [{}, {"shards": 2}]:
        with pytest.raises(CorpusError, match="unknown output format 'xml'"):
            ck.write(tmp_path / "out", format="xml", **kwargs)
        with pytest.raises(CorpusError, match="unknown compression 'bz2'"):
            ck.write(tmp_path / "out", compress="bz2", **kwargs)


@pytest.mark.parametrize("option", ["--in-format", "--format", "--compress"])
def test_unknown_format_in_the_cli(tmp_path, out_dir, option):
    (tmp_path / "a.txt").write_bytes(b"a\n")
    result = cli("cat", tmp_path / "a.txt", "-o", out_dir / "o.txt", option, "xml")
    assert result.exit_code != 0
    assert "'xml' is not one of" in result.stderr
    assert "Traceback" not in result.stderr
    nothing_written(out_dir)


def test_parquet_named_as_compressed(tmp_path, out_dir):
    (tmp_path / "a.parquet.zst").write_bytes(b"x")
    message = one_line_error(cli("cat", tmp_path / "a.parquet.zst", "-o", out_dir / "o.txt"))
    assert "Parquet files compress internally" in message


@pytest.mark.parametrize("output", ["in.txt", "./in.txt", "data", "data/"])
def test_output_that_is_an_input_is_refused(tmp_path, output, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_bytes(b"keep me\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_bytes(b"keep me too\n")
    before = sorted(os.listdir(tmp_path)), sorted(os.listdir(tmp_path / "data"))
    message = one_line_error(cli("cat", "in.txt", "data", "-o", output, "--force", "--shards", "2"))
    assert "output would overwrite the input" in message
    assert (sorted(os.listdir(tmp_path)), sorted(os.listdir(tmp_path / "data"))) == before
    assert (tmp_path / "in.txt").read_bytes() == b"keep me\n"
    assert (tmp_path / "data" / "a.txt").read_bytes() == b"keep me too\n"


def test_output_through_a_symlink_to_the_input_is_refused(tmp_path):
    (tmp_path / "in.txt").write_bytes(b"keep me\n")
    os.symlink(tmp_path / "in.txt", tmp_path / "link.txt")
    with pytest.raises(OutputError, match="overwrite the input"):
        (ck.read(tmp_path / "in.txt") | ck.write(tmp_path / "link.txt", force=True)).run(progress=False)
    assert (tmp_path / "in.txt").read_bytes() == b"keep me\n"


@pytest.mark.parametrize("output", ["o.txt", "o/"])
def test_existing_output_is_refused_unless_force(tmp_path, out_dir, output):
    (tmp_path / "in.txt").write_bytes(b"new\n")
    target = out_dir / output.rstrip("/")
    if output.endswith("/"):
        target.mkdir()
        (target / "old.txt").write_bytes(b"old\n")
        extra = ["--shards", "1"]
    else:
        target.write_bytes(b"old\n")
        extra = []
    message = one_line_error(cli("cat", tmp_path / "in.txt", "-o", target, *extra))
    assert "output exists" in message and "--force" in message
    assert sorted(os.listdir(out_dir)) == [target.name]
    result = cli("cat", tmp_path / "in.txt", "-o", target, "--force", "-q", *extra)
    assert result.exit_code == 0, result.output
    assert list(ck.read(target)) == [{"text": b"new"}]
    assert not [n for n in os.listdir(out_dir) if ".tmp-" in n]


def test_missing_output_folder(tmp_path):
    (tmp_path / "in.txt").write_bytes(b"a\n")
    message = one_line_error(cli("cat", tmp_path / "in.txt", "-o", tmp_path / "no" / "such" / "o.txt"))
    assert "does not exist" in message


def test_both_shards_and_shard_size_is_refused(tmp_path, out_dir):
    (tmp_path / "in.txt").write_bytes(b"a\n")
    message = one_line_error(cli("cat", tmp_path / "in.txt", "-o", out_dir / "o", "--shards", "2",
                                 "--shard-size", "1M"))
    assert "shards or shard_size" in message
    nothing_written(out_dir)


@pytest.mark.parametrize("size", ["lots", "-1", "0"])
def test_bad_shard_size(tmp_path, out_dir, size):
    (tmp_path / "in.txt").write_bytes(b"a\n")
    one_line_error(cli("cat", tmp_path / "in.txt", "-o", out_dir / "o", f"--shard-size={size}"))
    nothing_written(out_dir)


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("error", [Interrupt, KeyboardInterrupt])
@pytest.mark.parametrize("output", OUTPUTS + ["sized/"])
def test_failure_in_the_middle_of_a_write_leaves_nothing(tmp_path, out_dir, output, error):
    (tmp_path / "in.txt").write_bytes(b"".join(b"line %d\n" % i for i in range(200)))
    temporaries_seen = []

    def fail_on_the_fifth_batch(batches):
        for i, batch in enumerate(batches):
            if i == 5:
                temporaries_seen.extend(n for n in os.listdir(out_dir) if ".tmp-" in n)
                raise error("stop")
            yield batch

    if output == "sized/":
        writer = ck.write(out_dir / "sized", shard_size=30)
    elif output.endswith("/"):
        writer = ck.write(out_dir / output, shards=3)
    else:
        writer = ck.write(out_dir / output)
    with pytest.raises(error):
        (ck.read(tmp_path / "in.txt", block_size=32) | fail_on_the_fifth_batch | writer).run(progress=False)
    assert temporaries_seen, "the failure came while an output was being written"
    nothing_written(out_dir)


def test_failure_with_force_keeps_the_old_output(tmp_path, out_dir):
    (tmp_path / "in.txt").write_bytes(b"".join(b"line %d\n" % i for i in range(200)))
    (out_dir / "o.txt").write_bytes(b"old\n")

    def fail(record):
        if record["text"] == b"line 150":
            raise ValueError("no")
        return record

    with pytest.raises(InputError, match="in.txt:151"):
        (ck.read(tmp_path / "in.txt", block_size=32) | ck.map(fail) | ck.write(out_dir / "o.txt", force=True)
         ).run(progress=False)
    assert os.listdir(out_dir) == ["o.txt"]
    assert (out_dir / "o.txt").read_bytes() == b"old\n"
