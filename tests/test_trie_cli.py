"""``corpuskit trie build | query | stats`` on the command line: what they write and print, and one-line
errors with exit 1 that leave nothing behind."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpuskit.cli import main
from corpuskit.trie import Trie

DATA = Path(__file__).resolve().parent.parent / "examples" / "data"
ZH = (DATA / "fortunes-zh.txt").read_text(encoding="utf-8").splitlines()
RECORDS = [json.loads(line) for line in (DATA / "fortunes.jsonl").read_text(encoding="utf-8").splitlines()]


def cli(*args, input: str | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def ok(result):
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def one_line_error(result) -> str:
    """A failed command: exit 1, nothing on stdout, one error line last on stderr and no traceback."""
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # not a crash
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines and lines[-1].startswith("corpuskit: error: "), result.stderr
    assert [line for line in lines if "error" in line] == lines[-1:]
    return lines[-1]


def corpuskit(*args, input: bytes | None = None) -> subprocess.CompletedProcess:
    """The command in a process of its own, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "corpuskit.cli", *map(str, args)], capture_output=True,
                          timeout=120, input=input, check=False)


def query_json(trie: Path, *args, input: str | None = None) -> list[dict]:
    result = ok(cli("trie", "query", trie, "--json", *args, input=input))
    return [json.loads(line) for line in result.stdout.splitlines()]


# --- build --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zh(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("zh")
    ok(cli("trie", "build", DATA / "fortunes-zh.txt", "-o", folder / "zh.trie", "-q"))
    return folder / "zh.trie"


def test_build_writes_the_trie_and_a_manifest(tmp_path):
    (tmp_path / "in.txt").write_text("\n".join(ZH[:200]) + "\n" + ZH[0] + "\n", encoding="utf-8")
    result = ok(cli("trie", "build", tmp_path / "in.txt", "-o", tmp_path / "t.trie"))
    assert result.stdout == ""
    summary = result.stderr.splitlines()[-1]
    assert summary.startswith(f"{tmp_path / 't.trie'}: {len(set(ZH[:200])):,} sequences from 201 records")
    assert "duplicates collapsed" in summary
    trie = Trie.open(tmp_path / "t.trie", verify=True)
    assert all(line in trie for line in ZH[:200]) and len(trie) == len(set(ZH[:200]))
    manifest = json.loads((tmp_path / "t.trie.manifest.json").read_text(encoding="utf-8"))
    assert manifest["sequences"] == len(trie) and manifest["output"] == str(tmp_path / "t.trie")
    assert manifest["sorted_runs_spilled"] == 0 and manifest["records"] == 201


def test_build_quiet_prints_nothing(tmp_path):
    (tmp_path / "in.txt").write_text("ab\nb\n")
    result = ok(cli("trie", "build", tmp_path / "in.txt", "-o", tmp_path / "t.trie", "-q"))
    assert (result.stdout, result.stderr) == ("", "")


def test_build_with_field_and_template(tmp_path):
    ok(cli("trie", "build", DATA / "fortunes.jsonl", "-o", tmp_path / "f.trie", "--field", "text", "-q"))
    trie = Trie.open(tmp_path / "f.trie")
    assert len(trie) == len({r["text"] for r in RECORDS}) and RECORDS[5]["text"] in trie
    ok(cli("trie", "build", DATA / "fortunes.jsonl", "-o", tmp_path / "t.trie", "--template",
           "{source}|{lang}|{id}", "-q"))
    trie = Trie.open(tmp_path / "t.trie")
    assert "chinese|zh|" + str(next(r["id"] for r in RECORDS if r["source"] == "chinese")) in trie
    assert len(trie) == len(RECORDS)


def test_build_ids_with_eos_and_vocab_size(tmp_path):
    (tmp_path / "ids.txt").write_text("5 1 2\n5 1\n7\n")
    ok(cli("trie", "build", tmp_path / "ids.txt", "-o", tmp_path / "t.trie", "--tokenizer", "ids", "--eos", "2",
           "--vocab-size", "100", "-q"))
    trie = Trie.open(tmp_path / "t.trie")
    assert (trie.vocab_size, trie.eos_id, trie.vocab) == (100, 2, None)
    assert [trie.sequence(i) for i in range(len(trie))] == [(5, 1), (5, 1, 2), (7,)]
    error = one_line_error(cli("trie", "build", tmp_path / "ids.txt", "-o", tmp_path / "small.trie", "-t", "ids",
                               "--vocab-size", "6"))
    assert "ids.txt:3: token id 7 is outside the vocabulary (ids 0 to 5; --vocab-size)" in error
    assert not (tmp_path / "small.trie").exists()


def test_build_force(tmp_path):
    (tmp_path / "in.txt").write_text("ab\n")
    ok(cli("trie", "build", tmp_path / "in.txt", "-o", tmp_path / "t.trie", "-q"))
    before = (tmp_path / "t.trie").read_bytes()
    (tmp_path / "in.txt").write_text("cd\n")
    error = one_line_error(cli("trie", "build", tmp_path / "in.txt", "-o", tmp_path / "t.trie"))
    assert "output exists" in error and "--force" in error
    assert (tmp_path / "t.trie").read_bytes() == before
    ok(cli("trie", "build", tmp_path / "in.txt", "-o", tmp_path / "t.trie", "--force", "-q"))
    trie = Trie.open(tmp_path / "t.trie")
    assert len(trie) == 1 and "".join(trie.decode(trie.sequence(0))) == "cd"


def test_build_errors_are_one_line_and_leave_nothing(tmp_path):
    (tmp_path / "ids.txt").write_text("1 2\n3 4\n5 six\n")
    error = one_line_error(cli("trie", "build", tmp_path / "ids.txt", "-o", tmp_path / "t.trie", "-t", "ids"))
    assert f"{tmp_path / 'ids.txt'}:3:" in error and "'six'" in error
    (tmp_path / "m.jsonl").write_text('{"a": "x", "b": "y"}\n{"a": "z"}\n')
    error = one_line_error(cli("trie", "build", tmp_path / "m.jsonl", "-o", tmp_path / "t.trie", "--template",
                               "{a}|{b}"))
    assert f"{tmp_path / 'm.jsonl'}:2:" in error and "'b'" in error
    error = one_line_error(cli("trie", "build", tmp_path / "m.jsonl", "-o", tmp_path / "t.trie", "--field", "a",
                               "--unk", "x"))
    assert "--unk" in error
    error = one_line_error(cli("trie", "build", tmp_path / "missing.txt", "-o", tmp_path / "t.trie"))
    assert "missing.txt" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.txt", "m.jsonl"]


def test_build_names_every_tokenizer_it_takes(tmp_path):
    (tmp_path / "in.txt").write_text("ab\n")
    error = one_line_error(cli("trie", "build", tmp_path / "in.txt", "-o", tmp_path / "t.trie", "-t", "nope"))
    assert "'nope'" in error
    assert "ids" in error  # `trie build` also takes --tokenizer ids


def test_build_in_a_process_of_its_own(tmp_path):
    (tmp_path / "ids.txt").write_text("1 2\n3\n")
    result = corpuskit("trie", "build", tmp_path / "ids.txt", "-o", tmp_path / "t.trie", "-t", "ids", "--eos", "0")
    assert result.returncode == 0 and result.stdout == b"", result.stderr
    assert result.stderr.decode().splitlines()[-1].startswith(f"{tmp_path / 't.trie'}: 2 sequences from 2 records")
    manifest = json.loads((tmp_path / "t.trie.manifest.json").read_text())
    assert manifest["command"].startswith("corpuskit trie build ") and "--eos 0" in manifest["command"]
    assert manifest["eos_id"] == 0 and manifest["tokenizer"] == {"tokenizer": "ids"}


def test_build_error_in_a_process_of_its_own(tmp_path):
    (tmp_path / "ids.txt").write_text("1 2\n3 4.5\n")
    result = corpuskit("trie", "build", tmp_path / "ids.txt", "-o", tmp_path / "t.trie", "-t", "ids", "-q")
    assert result.returncode == 1 and result.stdout == b""
    expected = f"corpuskit: error: {tmp_path / 'ids.txt'}:2: expected space-separated token ids (whole numbers from 0 to 4294967294)"
    assert result.stderr.decode().splitlines() == [expected + ": '4.5'"]
    assert not (tmp_path / "t.trie").exists()


# --- query --------------------------------------------------------------------------------------------------


def test_query_text_output(zh):
    trie = Trie.open(zh)
    prefix = "《送"
    expected = ["".join(trie.decode(c)) for c in trie.completions(trie.walk(trie.encode(prefix)), 3)]
    allowed = trie.decode(trie.allowed(trie.walk(trie.encode(prefix))))
    count = trie.count(trie.walk(trie.encode(prefix)))
    result = ok(cli("trie", "query", zh, prefix, "--complete", "3"))
    assert result.stdout.splitlines() == [f"'{prefix}': prefix, {count:,} sequences; next: {' '.join(allowed)}",
                                          *(f"    {line}" for line in expected)]
    assert all(line.startswith(prefix) for line in expected) and len(expected) == 3


def test_query_complete_and_dead_prefixes(zh):
    line = ZH[3]
    result = ok(cli("trie", "query", zh, line, "《Ω", "Ω"))
    complete, dead, unknown = result.stdout.splitlines()
    assert complete.startswith(f"'{line}': complete, 1 sequences; next: ")
    assert dead == "'《Ω': dead, 0 sequences; next: "
    assert unknown == "'Ω': dead, 0 sequences; next: "


def test_query_json(zh):
    line = ZH[3]
    answers = query_json(zh, "《送", line, "《Ω", "", "--complete", "2")
    assert [a["prefix"] for a in answers] == ["《送", line, "《Ω", ""]
    partial, complete, dead, root = answers
    assert set(partial) == {"prefix", "allowed", "complete", "count", "completions"}
    assert partial["complete"] is False and partial["count"] == sum(1 for z in set(ZH) if z.startswith("《送"))
    assert len(partial["completions"]) == 2 and all(c.startswith("《送") for c in partial["completions"])
    assert partial["completions"] == sorted(partial["completions"], key=Trie.open(zh).encode)
    assert complete["complete"] is True and complete["payload"] == ZH.index(line)
    assert complete["completions"] == [line] and complete["count"] == 1
    assert dead == {"prefix": "《Ω", "allowed": [], "complete": False, "count": 0, "completions": []}
    assert root["count"] == len(set(ZH)) and "《" in root["allowed"] and "payload" not in root
    assert "completions" not in query_json(zh, "《送")[0]


def test_query_from_a_file_and_stdin(zh, tmp_path):
    (tmp_path / "q.txt").write_text(f"《送\n{ZH[0]}\n\n", encoding="utf-8")
    answers = query_json(zh, "《", "--queries", tmp_path / "q.txt")
    assert [a["prefix"] for a in answers] == ["《", "《送", ZH[0], ""]
    assert answers[2]["complete"] and answers[2]["payload"] == 0
    assert [a["prefix"] for a in query_json(zh, "--queries", "-", input=f"{ZH[1]}\r\n《\n")] == [ZH[1], "《"]
    error = one_line_error(cli("trie", "query", zh, "--queries", tmp_path / "none.txt"))
    assert "none.txt" in error


@pytest.fixture(scope="module")
def ids_trie(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ids")
    (folder / "ids.txt").write_text("5 1 2\n5 1\n7\n5 3\n")
    ok(cli("trie", "build", folder / "ids.txt", "-o", folder / "t.trie", "-t", "ids", "-q"))
    return folder / "t.trie"


def test_query_ids(ids_trie, zh):
    five, five_one, dead, root = query_json(ids_trie, "5", "5 1", "5 2", "", "--ids", "--complete", "5")
    assert five == {"prefix": "5", "allowed": [1, 3], "complete": False, "count": 3,
                    "completions": [[5, 1], [5, 1, 2], [5, 3]]}
    assert five_one["complete"] and five_one["payload"] == 1 and five_one["allowed"] == [2]
    assert dead["count"] == 0 and dead["allowed"] == []
    assert root["allowed"] == [5, 7]
    trie = Trie.open(zh)
    first = trie.encode(ZH[0])
    [answer] = query_json(zh, " ".join(map(str, first[:3])), "--ids")
    assert answer["allowed"] == trie.allowed(trie.walk(first[:3])).tolist()


def test_query_an_ids_trie_with_text_that_is_not_ids(ids_trie):
    error = one_line_error(cli("trie", "query", ids_trie, "5 x"))
    assert "space-separated numbers" in error


def test_query_ids_that_are_not_numbers(zh):
    error = one_line_error(cli("trie", "query", zh, "--ids", "1 x"))
    assert "'x'" in error or "1 x" in error


def test_query_errors(tmp_path, zh):
    error = one_line_error(cli("trie", "query", tmp_path / "none.trie", "a"))
    assert "none.trie" in error and "cannot open" in error
    (tmp_path / "text.trie").write_text("not a trie\n")
    assert "not a corpuskit trie file" in one_line_error(cli("trie", "query", tmp_path / "text.trie", "a"))


# --- stats --------------------------------------------------------------------------------------------------


def test_stats(zh):
    text = ok(cli("trie", "stats", zh)).stdout
    assert f"sequences: {len(set(ZH))}" in text and f"records: {len(ZH)}" in text
    info = json.loads(ok(cli("trie", "stats", zh, "--json")).stdout)
    assert {"path", "size", "sequences", "records", "duplicates", "tokens", "nodes", "bytes_per_token", "vocab_size",
            "eos_id", "tokenizer", "payload", "corpuskit"} <= set(info)
    assert (info["sequences"], info["records"], info["duplicates"]) == (len(set(ZH)), len(ZH),
                                                                        len(ZH) - len(set(ZH)))
    assert info["tokenizer"]["tokenizer"] == "char" and info["tokens"] == sum(len(z) for z in set(ZH))
    assert info["vocab_size"] == len(set("".join(ZH))) and info["eos_id"] is None
    verified = json.loads(ok(cli("trie", "stats", zh, "--json", "--verify")).stdout)
    assert verified["verified"].startswith("OK")


def _damage(source: Path, target: Path, where: str) -> Path:
    raw = bytearray(source.read_bytes())
    _, _, header_len, _ = struct.unpack("<8sIQQ", raw[:28])
    header = json.loads(raw[28:28 + header_len])
    start = (28 + header_len + 63) // 64 * 64
    if where == "array":
        entry = header["arrays"]["rest"]
        raw[start + entry["offset"] + 3] ^= 0x01
    elif where == "truncated":
        raw = raw[:len(raw) // 2 + start // 2]
    elif where == "header length":
        raw[19] ^= 0x80
    target.write_bytes(bytes(raw))
    return target


def test_stats_verify_finds_a_flipped_byte(zh, tmp_path):
    bad = _damage(zh, tmp_path / "bad.trie", "array")
    ok(cli("trie", "stats", bad))  # opening alone reads no array
    error = one_line_error(cli("trie", "stats", bad, "--verify"))
    assert str(bad) in error and "'rest'" in error and "damaged" in error
    result = corpuskit("trie", "stats", bad, "--verify")
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode().count("\n") == 1 and result.stderr.startswith(b"corpuskit: error: ")


@pytest.mark.parametrize("where", ["truncated", "header length"])
def test_stats_of_a_damaged_file_is_one_line(zh, tmp_path, where):
    bad = _damage(zh, tmp_path / "bad.trie", where)
    error = one_line_error(cli("trie", "stats", bad))
    assert str(bad) in error


def test_build_with_a_vocab_file(tmp_path):
    (tmp_path / "v.tsv").write_text("[PAD]\t0\n[UNK]\t0\na\t5\nb\t3\n")
    (tmp_path / "in.txt").write_text("ab\nba\nabc\n")
    error = one_line_error(cli("trie", "build", tmp_path / "in.txt", "-o", tmp_path / "t.trie", "--vocab",
                               tmp_path / "v.tsv"))
    assert f"{tmp_path / 'in.txt'}:3:" in error and "'c'" in error
    assert not (tmp_path / "t.trie").exists()
    ok(cli("trie", "build", tmp_path / "in.txt", "-o", tmp_path / "t.trie", "--vocab", tmp_path / "v.tsv",
           "--unk", "[UNK]", "-q"))
    answers = query_json(tmp_path / "t.trie", "ab", "--complete", "3")
    assert answers[0]["allowed"] == ["[UNK]"] and answers[0]["completions"] == ["ab", "ab[UNK]"]
