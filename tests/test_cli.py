"""The ``corpuskit`` command: cat and count with their options, stdin and stdout, help, version, Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time

import pyarrow.parquet as pq
import pytest
import zstandard
from click.testing import CliRunner

import corpuskit as ck
from corpuskit.cli import main


def cli(*args, input: bytes | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def ok(result):
    assert result.exit_code == 0, result.output
    return result


def corpuskit(*args, input: bytes | None = None) -> subprocess.CompletedProcess:
    """The installed command, in a process of its own."""
    return subprocess.run(["corpuskit", *map(str, args)], input=input, capture_output=True, timeout=120)


@pytest.fixture
def lines(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(100)))
    return path


def parts(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n != "manifest.json")


def test_version():
    result = ok(cli("--version"))
    assert result.stdout.strip() == f"corpuskit, version {ck.__version__}"


@pytest.mark.parametrize("command, options", [
    ([], ["cat", "count"]),
    (["cat"], ["--output", "--shards", "--shard-size", "--compress", "--format", "--in-format", "--field",
               "--force", "--on-error", "--quiet", "--level", "--threads"]),
    (["count"], ["--json", "--field", "--in-format", "--on-error"]),
])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_on_every_command(command, options, flag):
    result = ok(cli(*command, flag))
    assert result.stdout.startswith("Usage: ")
    for option in options:
        assert option in result.stdout


def test_cat_copies_and_summarizes(tmp_path, lines):
    result = ok(cli("cat", lines, "-o", tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_bytes() == lines.read_bytes()
    assert result.stdout == ""
    assert "100 records" in result.stderr
    assert "read: 100 in, 100 out" in result.stderr


def test_quiet_prints_nothing(tmp_path, lines):
    result = ok(cli("cat", lines, "-o", tmp_path / "out.txt", "-q"))
    assert (result.stdout, result.stderr) == ("", "")


def test_manifest_records_the_command(tmp_path, lines):
    ok(cli("cat", lines, "-o", tmp_path / "out.txt.gz", "-q"))
    manifest = json.loads((tmp_path / "out.txt.gz.manifest.json").read_text())
    assert manifest["outputs"][0]["records"] == 100
    assert manifest["command"].startswith("corpuskit ")


@pytest.mark.parametrize("compress, ext", [(None, ".txt"), ("none", ".txt"), ("zst", ".txt.zst"), ("gz", ".txt.gz")])
def test_cat_shards(tmp_path, lines, compress, ext):
    args = ["--compress", compress] if compress else []
    ok(cli("cat", lines, "-o", tmp_path / "out", "--shards", "4", *args, "-q"))
    assert parts(tmp_path / "out") == [f"part-{i:05d}{ext}" for i in range(4)]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [o["records"] for o in manifest["outputs"]] == [25, 25, 25, 25]
    assert [r["text"] for r in ck.read(tmp_path / "out")] == [b"line %d" % i for i in range(100)]


@pytest.mark.parametrize("size, limit", [("1M", 1 << 20), ("0.5K", 512), ("100", 100)])
def test_cat_shard_size(tmp_path, lines, size, limit):
    ok(cli("cat", lines, "-o", tmp_path / "out", "--shard-size", size, "-q"))
    data = [(tmp_path / "out" / p).read_bytes() for p in parts(tmp_path / "out")]
    assert b"".join(data) == lines.read_bytes()
    assert len(data) == -(-len(lines.read_bytes()) // limit) or len(data) > 1
    for part in data[:-1]:
        assert limit <= len(part) < limit + len(b"line 99\n")
    assert 0 < len(data[-1]) < limit + len(b"line 99\n")


def test_output_folder_by_trailing_slash(tmp_path, lines):
    ok(cli("cat", lines, "-o", f"{tmp_path / 'out'}/", "-q"))
    assert parts(tmp_path / "out") == ["part-00000.txt"]


@pytest.mark.parametrize("name", ["out.txt.zst", "out.txt.gz", "out.jsonl", "out.jsonl.zst", "out.parquet"])
def test_output_format_and_compression_by_name(tmp_path, lines, name):
    ok(cli("cat", lines, "-o", tmp_path / name, "-q"))
    records = list(ck.read(tmp_path / name))
    assert [r["text"] if isinstance(r["text"], bytes) else r["text"].encode() for r in records] == [
        b"line %d" % i for i in range(100)]
    if name.endswith(".zst"):
        assert (tmp_path / name).read_bytes().startswith(b"\x28\xb5\x2f\xfd")
    if name.endswith(".gz"):
        assert (tmp_path / name).read_bytes().startswith(b"\x1f\x8b")


def test_format_option_and_field(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"id": 1, "body": "one"}\n{"id": 2, "body": "two"}\n')
    ok(cli("cat", tmp_path / "in.jsonl", "-o", tmp_path / "out", "--format", "parquet", "--shards", "2", "-q"))
    assert parts(tmp_path / "out") == ["part-00000.parquet", "part-00001.parquet"]
    assert [pq.read_table(tmp_path / "out" / p).to_pylist() for p in parts(tmp_path / "out")] == [
        [{"id": 1, "body": "one"}], [{"id": 2, "body": "two"}]]
    ok(cli("cat", tmp_path / "out", "-o", tmp_path / "body.txt", "--field", "body", "-q"))
    assert (tmp_path / "body.txt").read_bytes() == b"one\ntwo\n"


def test_in_format(tmp_path):
    (tmp_path / "in.data").write_text('{"text": "a"}\n')
    ok(cli("cat", tmp_path / "in.data", "--in-format", "jsonl", "-o", tmp_path / "out.jsonl", "-q"))
    assert (tmp_path / "out.jsonl").read_text() == '{"text": "a"}\n'


def test_many_inputs_in_order(tmp_path):
    for name in ["b", "a", "c"]:
        (tmp_path / f"{name}.txt").write_bytes(name.encode() + b"\n")
    ok(cli("cat", tmp_path / "c.txt", str(tmp_path / "[ab].txt"), "-o", tmp_path / "out.txt", "-q"))
    assert (tmp_path / "out.txt").read_bytes() == b"c\na\nb\n"


def test_force_replaces(tmp_path, lines):
    (tmp_path / "out.txt").write_bytes(b"old\n")
    ok(cli("cat", lines, "-o", tmp_path / "out.txt", "-f", "-q"))
    assert (tmp_path / "out.txt").read_bytes() == lines.read_bytes()


def test_force_replaces_a_shard_folder(tmp_path, lines):
    ok(cli("cat", lines, "-o", tmp_path / "out", "--shards", "5", "-q"))
    ok(cli("cat", lines, "-o", tmp_path / "out", "--shards", "2", "--force", "-q"))
    assert parts(tmp_path / "out") == ["part-00000.txt", "part-00001.txt"]
    assert not [n for n in os.listdir(tmp_path) if ".tmp-" in n]


def test_count(tmp_path, lines):
    (tmp_path / "b.txt.zst").write_bytes(zstandard.ZstdCompressor().compress(b"x\ny"))
    result = ok(cli("count", lines, tmp_path / "b.txt.zst"))
    rows = result.stdout.splitlines()
    assert len(rows) == 3
    assert rows[0].split()[0] == "100" and rows[0].endswith(str(lines))
    assert rows[1].split()[0] == "2" and rows[1].endswith(str(tmp_path / "b.txt.zst"))
    assert rows[2].split()[0] == "102" and rows[2].endswith("total")


def test_count_json(tmp_path, lines):
    (tmp_path / "c.jsonl").write_text('{"a": 1}\n{"a": 2}\n')
    result = ok(cli("count", lines, tmp_path / "c.jsonl", "--json"))
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["path"], r["records"]) for r in rows] == [(str(lines), 100), (str(tmp_path / "c.jsonl"), 2),
                                                         ("total", 102)]
    assert rows[-1]["bytes"] == lines.stat().st_size + (tmp_path / "c.jsonl").stat().st_size


def test_count_stdin():
    result = ok(cli("count", "-", "--json", input=b"a\nb\nc"))
    assert json.loads(result.stdout.splitlines()[0])["records"] == 3


def test_stdin_to_stdout_keeps_bytes():
    data = b"one\n\xff\xfe\x00\r\n\n\rlast"
    result = corpuskit("cat", "-", "-o", "-", "-q", input=data)
    assert result.returncode == 0, result.stderr
    assert result.stdout == data + b"\n"
    assert result.stderr == b""


def test_stdin_to_file_and_file_to_stdout(tmp_path, lines):
    result = corpuskit("cat", "-", lines, "-o", tmp_path / "out.txt.zst", "-q", input=b"first\n")
    assert result.returncode == 0, result.stderr
    result = corpuskit("cat", tmp_path / "out.txt.zst", "-o", "-", "--format", "jsonl", "-q")
    assert result.returncode == 0, result.stderr
    texts = [json.loads(line)["text"] for line in result.stdout.splitlines()]
    assert texts == ["first"] + [f"line {i}" for i in range(100)]


def test_error_from_the_installed_command_is_one_line(tmp_path, lines):
    data = zstandard.ZstdCompressor().compress(b"x" * 100_000 + b"\n" + b"y\n" * 100_000)
    (tmp_path / "cut.txt.zst").write_bytes(data[:-20])
    os.mkdir(tmp_path / "o")
    result = corpuskit("cat", lines, tmp_path / "cut.txt.zst", "-o", tmp_path / "o" / "out.parquet")
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode() == f"corpuskit: error: {tmp_path / 'cut.txt.zst'}: zstd stream is truncated " \
                                     "(file ends inside a frame)\n"
    assert os.listdir(tmp_path / "o") == []


def feed(proc: subprocess.Popen, chunk: bytes, times: int) -> None:
    """Writes to the process's stdin until it exits, as a producer upstream in a shell pipe would."""
    with contextlib.suppress(BrokenPipeError, ValueError, OSError):
        for _ in range(times):
            if proc.poll() is not None:
                return
            proc.stdin.write(chunk)
            proc.stdin.flush()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_in_the_middle_of_a_write_leaves_nothing(tmp_path, sig):
    out = tmp_path / "o"
    out.mkdir()
    chunk = b"a line of text\n" * (9 << 16)  # more than one 8 MiB read block
    # Ctrl-C as a terminal delivers it: a job started in the background (`cmd &`) inherits SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler, so the child would not stop
    proc = subprocess.Popen(["corpuskit", "cat", "-", "-o", out / "out.txt"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    feeder = threading.Thread(target=feed, args=(proc, chunk, 20), daemon=True)
    try:
        feed(proc, chunk, 1)
        while not [n for n in os.listdir(out) if ".tmp-" in n and os.path.getsize(out / n) > 0]:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.01)
        proc.send_signal(sig)
        feeder.start()
        proc.wait(timeout=120)
        stderr = proc.stderr.read()
    finally:
        proc.kill()
        if feeder.is_alive():
            feeder.join()
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
    assert proc.returncode == 130, stderr
    assert stderr == b"corpuskit: interrupted; no output was left under its final name\n"
    assert os.listdir(out) == []
