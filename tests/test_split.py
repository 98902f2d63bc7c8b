"""``corpuskit split``: a validation set drawn from train to resemble test, and what it reports."""

from __future__ import annotations

import collections
import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from corpuskit import split
from corpuskit.cli import main
from corpuskit.errors import CorpusError
from corpuskit.split import draw
from corpuskit.split.features import Featurizer

DATA = Path(__file__).resolve().parent.parent / "examples" / "data"
TRAIN, TEST = DATA / "shift-train.jsonl", DATA / "shift-test.jsonl"


def records(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def shares(rows: list[dict]) -> dict[str, float]:
    counts = collections.Counter(r["source"] for r in rows)
    return {source: 100 * n / len(rows) for source, n in counts.items()}


@pytest.fixture(scope="module")
def adversarial(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("split") / "out"
    split(TRAIN, test=TEST, out=out, valid_size=500, field="text", seed=1)
    return out


# ---------------------------------------------------------------- the method on real shift

def test_validation_set_resembles_the_test_set_and_a_random_split_does_not():
    """Five fortune sources in very different proportions: the chosen validation set's domain mix is
    within 5 points of test's and a fresh discriminator cannot tell it from held-out test records;
    a random split of the same size it tells apart easily."""
    train, test = records(TRAIN), shares(records(TEST))
    valid_aucs, random_aucs = [], []
    for seed in (1, 2, 3):
        result = split(TRAIN, test=TEST, valid_size=1000, field="text", seed=seed)
        drawn = [row for row, n in zip(train, result.counts) for _ in range(n)]
        valid = shares(drawn)
        assert max(abs(valid.get(s, 0) - test[s]) for s in test) <= 5, (seed, valid, test)
        assert result.auc_train_vs_test > 0.65
        valid_aucs.append(result.auc_valid_vs_test)
        random_aucs.append(result.auc_random_vs_test)
    assert abs(np.mean(valid_aucs) - 0.5) <= 0.05, valid_aucs
    assert np.mean(random_aucs) >= 0.65, random_aucs
    random_mix = shares(train)
    assert max(abs(random_mix.get(s, 0) - test[s]) for s in test) > 20


def test_no_shift_says_so_and_falls_back_to_a_random_split(tmp_path):
    rows = records(TRAIN)
    write_jsonl(tmp_path / "a.jsonl", rows[0::2])
    write_jsonl(tmp_path / "b.jsonl", rows[1::2])
    result = split(tmp_path / "a.jsonl", test=tmp_path / "b.jsonl", out=tmp_path / "out", valid_size=50,
                   field="text", seed=1)
    assert result.method == "random"
    assert abs(result.auc_train_vs_test - 0.5) < 0.1
    assert "cannot tell train from test" in result.summary()
    assert json.loads((tmp_path / "out" / "report.json").read_text())["shifted"] is False
    weighted = split(tmp_path / "a.jsonl", test=tmp_path / "b.jsonl", valid_size=50, field="text", seed=1,
                     fallback=False)
    assert weighted.method == "adversarial"


def test_weights_favour_the_domains_test_has_more_of():
    result = split(TRAIN, test=TEST, weights_only=True, field="text", seed=1)
    by_source = collections.defaultdict(list)
    for row, w in zip(records(TRAIN), result.weights):
        by_source[row["source"]].append(w)
    mean = {s: np.mean(w) for s, w in by_source.items()}
    assert mean["tang300"] > 3 > 1 > mean["science"]
    assert mean["chinese"] > mean["linux"]
    assert result.weights.mean() == pytest.approx(1.0)
    assert 1 < result.effective_sample_size < len(result.weights)


# ---------------------------------------------------------------- what gets written

def test_outputs_hold_every_record_and_nothing_leaks(adversarial):
    train, valid = records(adversarial / "train.jsonl"), records(adversarial / "valid.jsonl")
    assert len(valid) == 500
    kept, drawn = {r["id"] for r in train}, collections.Counter(r["id"] for r in valid)
    assert not kept & set(drawn)
    assert kept | set(drawn) == {r["id"] for r in records(TRAIN)}
    assert len(train) == len(kept)
    assert max(drawn.values()) > 1, "with replacement, a heavily weighted record is drawn more than once"
    weights = pq.read_table(adversarial / "weights.parquet").to_pydict()
    assert weights["record"] == list(range(len(records(TRAIN))))
    assert sum(weights["valid_draws"]) == 500
    assert np.mean(weights["weight"]) == pytest.approx(1.0)
    ids = [r["id"] for r in records(TRAIN)]
    assert {ids[i]: n for i, n in enumerate(weights["valid_draws"]) if n} == dict(drawn)


def test_report_has_the_figures_and_the_plot(adversarial):
    report = json.loads((adversarial / "report.json").read_text(encoding="utf-8"))
    for key in ("auc_train_vs_test", "auc_valid_vs_test", "auc_random_vs_test", "effective_sample_size",
                "top_features", "histogram", "settings", "corpuskit", "seconds", "train", "test"):
        assert report[key] is not None, key
    assert report["settings"]["seed"] == 1 and report["settings"]["valid_size"] == 500
    assert set(report["mean_text_bytes"]) == {"valid", "random", "test"}
    assert all(size > 10 for size in report["mean_text_bytes"].values())
    assert len(report["top_features"]["test"]) > 5 and len(report["top_features"]["train"]) > 5
    assert "《" in {f["ngram"] for f in report["top_features"]["test"]}
    assert sum(report["histogram"]["train"]) == pytest.approx(1, abs=1e-3)
    assert sum(report["histogram"]["test"]) == pytest.approx(1, abs=1e-3)
    page = (adversarial / "report.html").read_text(encoding="utf-8")
    assert "<svg" in page and f"{report['auc_train_vs_test']:.3f}" in page
    assert sorted(os.listdir(adversarial)) == ["report.html", "report.json", "train.jsonl", "valid.jsonl",
                                               "weights.parquet"]


def test_same_seed_same_bytes_other_seed_other_draw(tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        split(TRAIN, test=TEST, out=tmp_path / name, valid_size=100, field="text", seed=seed)
    assert (tmp_path / "a/valid.jsonl").read_bytes() == (tmp_path / "b/valid.jsonl").read_bytes()
    assert (tmp_path / "a/weights.parquet").read_bytes() == (tmp_path / "b/weights.parquet").read_bytes()
    assert (tmp_path / "a/valid.jsonl").read_bytes() != (tmp_path / "c/valid.jsonl").read_bytes()


def test_without_replacement_every_record_is_drawn_once(tmp_path):
    result = split(TRAIN, test=TEST, out=tmp_path / "out", valid_size=300, replace=False, field="text", seed=1)
    valid = [r["id"] for r in records(tmp_path / "out" / "valid.jsonl")]
    assert len(valid) == len(set(valid)) == 300 == result.valid_unique
    assert len(records(tmp_path / "out" / "train.jsonl")) == len(records(TRAIN)) - 300


def test_valid_frac_sets_the_size():
    result = split(TRAIN, test=TEST, valid_frac=0.1, field="text", seed=1)
    assert result.valid_draws == round(0.1 * len(records(TRAIN)))


def test_weights_only_writes_weights_and_report_but_no_split(tmp_path):
    result = split(TRAIN, test=TEST, out=tmp_path / "out", weights_only=True, field="text", seed=1)
    assert sorted(os.listdir(tmp_path / "out")) == ["report.html", "report.json", "weights.parquet"]
    assert result.valid_draws == 0
    assert pq.read_metadata(tmp_path / "out" / "weights.parquet").num_rows == len(records(TRAIN))


def test_random_method_is_a_hash_split_stable_under_reordering(tmp_path):
    rows = records(TRAIN)
    write_jsonl(tmp_path / "reversed.jsonl", rows[::-1])
    split(TRAIN, out=tmp_path / "a", valid_frac=0.2, method="random", seed=5)
    split(tmp_path / "reversed.jsonl", out=tmp_path / "b", valid_frac=0.2, method="random", seed=5)
    a = {r["id"] for r in records(tmp_path / "a" / "valid.jsonl")}
    b = {r["id"] for r in records(tmp_path / "b" / "valid.jsonl")}
    assert a == b
    assert abs(len(a) - 0.2 * len(rows)) < 4 * np.sqrt(0.2 * 0.8 * len(rows))
    assert not a & {r["id"] for r in records(tmp_path / "a" / "train.jsonl")}
    assert sorted(os.listdir(tmp_path / "a")) == ["report.html", "report.json", "train.jsonl", "valid.jsonl"]


def test_text_files_and_parquet_keep_their_format(tmp_path):
    texts = [r["text"].replace("\n", " ") for r in records(TRAIN)]
    (tmp_path / "train.txt").write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    split(tmp_path / "train.txt", test=TEST, out=tmp_path / "txt", valid_size=50, seed=1, fallback=False)
    kept = (tmp_path / "txt" / "train.txt").read_text(encoding="utf-8").splitlines()
    valid = (tmp_path / "txt" / "valid.txt").read_text(encoding="utf-8").splitlines()
    assert len(valid) == 50 and sorted(set(kept) | set(valid)) == sorted(set(texts))
    pq.write_table(pa.Table.from_pylist(records(TRAIN)), tmp_path / "train.parquet")
    split(tmp_path / "train.parquet", test=TEST, out=tmp_path / "pq", valid_size=50, field="text", seed=1)
    valid = pq.read_table(tmp_path / "pq" / "valid.parquet")
    assert valid.num_rows == 50 and {"id", "source", "text"} <= set(valid.column_names)


def test_mem_bounds_the_sample(tmp_path):
    result = split(TRAIN, test=TEST, valid_size=50, field="text", seed=1, mem="512M")
    assert result.report["sample_records"] == len(records(TRAIN))
    with pytest.raises(CorpusError, match="at least"):
        split(TRAIN, test=TEST, valid_size=50, field="text", mem="100M")


def test_default_features_cut_chinese_into_characters_and_english_into_words():
    tokens = Featurizer().tokens(pa.array(["Hello, World 42", "床前明月光"], pa.large_binary())).to_pylist()
    assert tokens[0][:2] == ["hello", ","] or tokens[0][0] == "hello"
    assert "world" in tokens[0] and "42" in tokens[0]
    assert tokens[1] == list("床前明月光")


# ---------------------------------------------------------------- the draw

@given(st.lists(st.floats(0.01, 100), min_size=1, max_size=300), st.integers(1, 500), st.integers(1, 64),
       st.booleans(), st.integers(0, 2**32))
@settings(max_examples=60, deadline=None)
def test_draws_do_not_depend_on_block_size(weights, size, block, replace, seed):
    weights = np.array(weights)
    if not replace:
        size = min(size, len(weights))

    def blocks(step):
        return lambda: ((i, weights[i:i + step]) for i in range(0, len(weights), step))

    one = draw.weighted(blocks(len(weights)), size, replace, np.random.default_rng(seed))
    many = draw.weighted(blocks(block), size, replace, np.random.default_rng(seed))
    assert one.draws == many.draws == size
    np.testing.assert_array_equal(one.index, many.index)
    np.testing.assert_array_equal(one.count, many.count)
    if not replace:
        assert (one.count == 1).all()


def test_draws_with_replacement_follow_the_weights():
    weights = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    drawn = draw.weighted(lambda: iter([(0, weights[:2]), (2, weights[2:])]), 20_000, True,
                          np.random.default_rng(0))
    observed = drawn.counts(0, len(weights))
    p = stats.chisquare(observed, 20_000 * weights / weights.sum()).pvalue
    assert p > 0.001, observed


def test_drawn_counts_and_subsample():
    drawn = draw.Drawn.of(np.array([7, 3, 7, 9, 3, 7]))
    np.testing.assert_array_equal(drawn.counts(2, 8), [0, 2, 0, 0, 0, 3, 0, 1])
    small = drawn.subsample(4, np.random.default_rng(0))
    assert small.draws == 4 and set(small.index) <= {3, 7, 9}
    assert drawn.subsample(10, np.random.default_rng(0)) is drawn


# ---------------------------------------------------------------- bad input

def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.mark.parametrize("case, message", [
    ("empty test", "test set is empty"),
    ("too small", "too few for a validation set of 5,000"),
    ("no field", "train.jsonl:3: record has no field 'text'"),
    ("broken", "train.jsonl:2: malformed JSON"),
    ("empty train", "training set is empty"),
])
def test_bad_input_is_one_clear_error_and_nothing_is_written(tmp_path, case, message):
    rows = records(TRAIN)[:20]
    train, test, size = tmp_path / "train.jsonl", TEST, 5
    write_jsonl(train, rows)
    if case == "empty test":
        test = tmp_path / "test.jsonl"
        test.write_text("")
    elif case == "too small":
        size = 5000
    elif case == "no field":
        write_jsonl(train, rows[:2] + [{"title": "x"}] + rows[2:])
    elif case == "broken":
        train.write_text(json.dumps(rows[0]) + "\n" + '{"text": "unterminated\n', encoding="utf-8")
    elif case == "empty train":
        train.write_text("")
    before = train.read_bytes()
    result = CliRunner().invoke(main, ["split", str(train), "--test", str(test), "-o", str(tmp_path / "out"),
                                       "--valid-size", str(size), "--field", "text"])
    assert result.exit_code == 1
    assert message in result.output, result.output
    assert sorted(os.listdir(tmp_path)) == sorted(["train.jsonl"] + (["test.jsonl"] if case == "empty test" else []))
    assert train.read_bytes() == before


@pytest.mark.parametrize("kwargs, message", [
    ({"valid_size": 5, "method": "other"}, "unknown method"),
    ({"valid_size": 5, "test": None}, "needs the test set"),
    ({}, "give the validation size"),
    ({"valid_size": 5, "valid_frac": 0.1}, "give the validation size"),
    ({"valid_frac": 1.5}, "between 0 and 1"),
    ({"valid_size": 5, "check_frac": 1.0}, "check_frac"),
    ({"weights_only": True, "method": "random"}, "weights_only needs"),
])
def test_bad_arguments(kwargs, message):
    kwargs = {"test": TEST, "field": "text", **kwargs}
    with pytest.raises(CorpusError, match=message):
        split(TRAIN, **kwargs)


def test_an_existing_output_is_kept_unless_forced(adversarial, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(CorpusError, match="output exists"):
        split(TRAIN, test=TEST, out=out, valid_size=10, field="text")
    assert (out / "mine.txt").read_text() == "keep"
    split(TRAIN, test=TEST, out=out, valid_size=10, field="text", force=True)
    assert not (out / "mine.txt").exists() and (out / "valid.jsonl").exists()


# ---------------------------------------------------------------- the command

def test_command_prints_plan_and_summary(tmp_path):
    result = CliRunner().invoke(main, ["split", str(TRAIN), "--test", str(TEST), "-o", str(tmp_path / "out"),
                                       "--valid-size", "200", "--field", "text", "--seed", "2", "--no-replace"])
    assert result.exit_code == 0, result.output
    assert "plan: fit a discriminator" in result.output
    assert "AUC train vs test" in result.output and "effective sample size" in result.output
    assert "mean text length: validation" in result.output
    assert len(records(tmp_path / "out" / "valid.jsonl")) == 200
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["command"] and report["settings"]["replace"] is False


def test_judged_texts_are_cut_to_the_memory_budget():
    from corpuskit.split import _at_most

    texts = pa.array([b"x" * i for i in range(1, 101)], pa.large_binary())
    kept = _at_most(texts, 500, np.random.default_rng(0))
    assert 2 <= len(kept) < 100 and sum(len(t) for t in kept.to_pylist()) <= 500
    assert set(kept.to_pylist()) <= set(texts.to_pylist())
    assert _at_most(texts, None, np.random.default_rng(0)) is texts
