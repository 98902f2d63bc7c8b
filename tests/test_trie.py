"""The prefix trie as a library: every query against a brute-force model of the sequences, builds from
files with every tokenizer, sorting beyond memory, the file format and its damage, errors and edges."""

from __future__ import annotations

import bisect
import json
import os
import random
import struct
from dataclasses import asdict
from pathlib import Path

import jieba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import corpuskit.trie.build as trie_build
import corpuskit.trie.layout as trie_layout
import corpuskit.trie.sort as trie_sort
import corpuskit.trie.trie as trie_module
from corpuskit.errors import CorpusError, InputError
from corpuskit.trie import DEAD, ROOT, Trie, TrieBuild, build_trie, varint
from corpuskit.trie.layout import ARRAYS, build_layout, iter_chunks
from corpuskit.trie.trie import pack_bitmask

DATA = Path(__file__).resolve().parent.parent / "examples" / "data"
ZH = (DATA / "fortunes-zh.txt").read_text(encoding="utf-8").splitlines()
RECORDS = [json.loads(line) for line in (DATA / "fortunes.jsonl").read_text(encoding="utf-8").splitlines()]

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.function_scoped_fixture])


# --- the brute-force model ----------------------------------------------------------------------------------


class Model:
    """What a trie of ``sequences`` must answer: a sorted list of distinct tuples, each with the index of
    its first occurrence in the input."""

    def __init__(self, sequences, chosen=None) -> None:
        self.first: dict[tuple, int] = {}
        for i, seq in enumerate(sequences):
            self.first.setdefault(tuple(seq), i)
        self.ordered = sorted(self.first)
        if chosen is not None:
            self.ordered = [self.ordered[i] for i in sorted(set(chosen))]
        self.present = set(self.ordered)

    def under(self, prefix: tuple) -> list[tuple]:
        return [s for s in self.ordered if s[:len(prefix)] == prefix]

    def allowed(self, prefix: tuple) -> list[int]:
        return sorted({s[len(prefix)] for s in self.under(prefix) if len(s) > len(prefix)})

    def is_prefix(self, prefix: tuple) -> bool:
        return bool(self.under(prefix))

    def prefixes(self) -> list[tuple]:
        return sorted({s[:k] for s in self.ordered for k in range(len(s) + 1)} | {()})


def _long(rnd: random.Random, alphabet: list[int]) -> list[int]:
    return [rnd.choice(alphabet) for _ in range(rnd.randint(200, 260))]


@st.composite
def sequence_lists(draw):
    """Lists of sequences over a small alphabet: shared prefixes, empties, duplicates, prefixes of one
    another, sometimes long sequences (200+ tokens) that branch deep down, in any order."""
    alphabet = draw(st.sampled_from([[0, 1], [0, 1, 2, 3], [1, 3, 7], [0, 2, 255, 256, 70000]]))
    token = st.sampled_from(alphabet)
    short = st.lists(token, max_size=7)
    seqs = draw(st.lists(short, max_size=12))
    if draw(st.integers(0, 3)) == 0:
        rnd = draw(st.randoms(use_true_random=False))
        base = _long(rnd, alphabet)
        seqs.append(base)
        for _ in range(rnd.randint(1, 3)):
            seqs.append(base[:rnd.randint(0, len(base))] + [rnd.choice(alphabet) for _ in range(rnd.randint(0, 3))])
    for i, cut in draw(st.lists(st.tuples(st.integers(0, 99), st.integers(0, 300)), max_size=4)):
        if seqs:
            seqs.append(list(seqs[i % len(seqs)][:cut]))  # a duplicate or a prefix of another
    order = draw(st.permutations(range(len(seqs))))
    return [seqs[i] for i in order], alphabet


def outside(alphabet: list[int]) -> list[int]:
    """Tokens no sequence holds: in the vocabulary's range, past it, far past it."""
    return [t for t in range(5) if t not in alphabet][:3] + [max(alphabet) + 1, 10**9]


def live_states(trie, model: Model) -> dict[tuple, int]:
    """The state of every prefix of the model's sequences, a step at a time (``walk`` checked on some)."""
    states = {(): ROOT}
    for prefix in model.prefixes()[1:]:  # sorted: a prefix comes before its extensions
        state = trie.step(states[prefix[:-1]], prefix[-1])
        assert state is not None and state >= 0, prefix
        states[prefix] = state
        if len(prefix) <= 12 or len(prefix) % 50 == 0:
            assert trie.walk(prefix) == state
    return states


# --- 1. properties against the model ------------------------------------------------------------------------


@PROPERTY
@given(sequence_lists(), st.data())
def test_every_query_matches_the_model(case, data):
    seqs, alphabet = case
    trie = Trie.from_sequences(seqs)
    model = Model(seqs)
    assert len(trie) == len(model.ordered)
    assert [trie.sequence(i) for i in range(len(trie))] == model.ordered
    for bad in (len(trie), -1):
        with pytest.raises(IndexError):
            trie.sequence(bad)
    assert trie.walk([]) == ROOT
    limits = data.draw(st.lists(st.sampled_from([0, 1, 2, 5, 1000]), min_size=1, max_size=3))
    tokens = [*alphabet, *outside(alphabet)]
    for n, (prefix, state) in enumerate(live_states(trie, model).items()):
        under = model.under(prefix)
        allowed = model.allowed(prefix)
        assert trie.allowed(state).tolist() == allowed, prefix
        assert trie.is_complete(state) == (prefix in model.present)
        assert trie.count(state) == len(under)
        lo, hi = trie.leaf_range(state)
        first = bisect.bisect_left(model.ordered, prefix)
        assert (lo, hi) == (first, first + len(under))
        assert [trie.sequence(i) for i in range(lo, hi)] == under
        limit = limits[n % len(limits)]
        assert trie.completions(state, limit=limit) == under[:limit]
        assert trie.payload(state) == model.first.get(prefix)
        short = len(prefix) <= 12
        if short:
            assert (prefix in trie) == (prefix in model.present)
            assert (list(prefix) in trie) == (prefix in model.present)
        for token in tokens:
            if token not in allowed:
                assert trie.step(state, token) is None
                if short:
                    assert trie.walk(prefix + (token,)) is None and prefix + (token,) not in trie
    for _ in range(5):
        probe = tuple(data.draw(st.lists(st.sampled_from([*alphabet, max(alphabet) + 1]), max_size=9)))
        state = trie.walk(probe)
        assert (state is not None) == (probe == () or model.is_prefix(probe))  # the root is always a state
        assert (probe in trie) == (probe in model.present)


@PROPERTY
@given(sequence_lists(), st.data())
def test_batch_queries_agree_with_single_ones(case, data):
    seqs, alphabet = case
    trie = Trie.from_sequences(seqs)
    model = Model(seqs)
    live = list(live_states(trie, model).values())
    states = data.draw(st.lists(st.sampled_from(live + [DEAD]), min_size=1, max_size=40))
    tokens = data.draw(st.lists(st.sampled_from([*alphabet, *outside(alphabet), -1]), min_size=len(states),
                                max_size=len(states)))
    stepped = trie.step_batch(np.array(states), np.array(tokens))
    assert stepped.dtype == np.int64
    expected = [DEAD if s == DEAD else trie.step(s, t) for s, t in zip(states, tokens)]
    assert stepped.tolist() == [DEAD if e is None else e for e in expected]
    assert trie.step_batch(states, tokens).tolist() == stepped.tolist()  # plain lists too
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    pool_states = np.array(live + [DEAD])
    pool_tokens = np.array([*alphabet, *outside(alphabet), -1])
    for size in (200, 1000):  # past the batch size where vectorized stepping takes over
        many_states = pool_states[rng.integers(0, len(pool_states), size)]
        many_tokens = np.where(rng.random(size) < 0.5, pool_tokens[rng.integers(0, len(pool_tokens), size)],
                               [trie.allowed(s)[0] if s >= 0 and len(trie.allowed(s)) else 0 for s in many_states])
        expected = [DEAD if s == DEAD else trie.step(int(s), int(t)) for s, t in zip(many_states, many_tokens)]
        assert trie.step_batch(many_states, many_tokens).tolist() == [DEAD if e is None else e for e in expected]
        rows, labels = trie.allowed_batch(many_states)
        assert len(rows) == sum(len(trie.allowed(s)) for s in many_states if s >= 0)
        assert sorted(zip(rows.tolist(), labels.tolist())) == sorted(
            (r, t) for r, s in enumerate(many_states.tolist()) if s >= 0 for t in trie.allowed(s).tolist())
    for state in stepped[stepped >= 0][:10]:  # numpy states go back into the single-state queries
        assert trie.allowed(state).tolist() == trie.allowed(int(state)).tolist()
        assert [trie.step(state, t) for t in alphabet] == [trie.step(int(state), t) for t in alphabet]
        assert (trie.count(state), trie.is_complete(state)) == (trie.count(int(state)), trie.is_complete(int(state)))

    rows, labels = trie.allowed_batch(states)
    for row, state in enumerate(states):
        got = sorted(labels[rows == row].tolist())
        assert got == ([] if state == DEAD else trie.allowed(state).tolist())

    vocab = trie.vocab_size
    assert vocab == max((t for s in seqs for t in s), default=-1) + 1
    narrow = data.draw(st.integers(0, 40))
    for width, columns in ([(None, vocab)] if vocab <= 300 else []) + [(narrow, narrow)]:
        mask = trie.mask(states, width)
        assert mask.shape == (len(states), columns) and mask.dtype == bool
        bits = trie.bitmask(states, width)
        assert bits.dtype == np.int32 and bits.shape == (len(states), (columns + 31) // 32)
        for row, state in enumerate(states):
            allowed = [] if state == DEAD else [t for t in trie.allowed(state).tolist() if t < columns]
            assert np.flatnonzero(mask[row]).tolist() == allowed
            set_bits = [t for t in range(bits.shape[1] * 32) if (int(bits[row, t // 32]) >> (t % 32)) & 1]
            assert set_bits == allowed


@PROPERTY
@given(sequence_lists(), st.data())
def test_restrict_agrees_with_the_model_of_the_chosen_sequences(case, data):
    seqs, alphabet = case
    trie = Trie.from_sequences(seqs)
    full = Model(seqs)
    chosen = data.draw(st.lists(st.integers(0, max(len(trie) - 1, 0)), max_size=len(trie))) if len(trie) else []
    view = trie.restrict(chosen)
    model = Model(seqs, chosen)
    full_states = live_states(trie, full)
    assert len(view) == len(set(chosen))
    live = {}
    for prefix in full.prefixes():  # sorted: a prefix comes before its extensions
        parent = live.get(prefix[:-1])
        state = ROOT if prefix == () else None if parent is None else view.step(parent, prefix[-1])
        if len(prefix) <= 12:
            assert view.walk(prefix) == state
        if prefix != () and not model.is_prefix(prefix):  # the root is always a state
            assert state is None, prefix
            continue
        assert state == full_states[prefix]
        live[prefix] = state
        under = model.under(prefix)
        assert view.allowed(state).tolist() == model.allowed(prefix)
        assert view.count(state) == len(under)
        assert view.is_complete(state) == (prefix in model.present)
        assert view.payload(state) == (full.first[prefix] if prefix in model.present else None)
        limit = data.draw(st.sampled_from([0, 1, 3, 1000]))
        assert view.completions(state, limit) == under[:limit]
        for token in trie.allowed(state).tolist():
            if token not in model.allowed(prefix):  # its subtree holds no chosen sequence
                assert view.step(state, token) is None
            else:
                assert view.step(state, token) == trie.step(state, token)
    states = list(live.values()) + [DEAD]
    states = states * (1 + 200 // len(states)) if data.draw(st.booleans()) else states  # a large batch too
    tokens = [data.draw(st.sampled_from([*alphabet, 10**6])) for _ in states]
    expected = [DEAD if s == DEAD or view.step(s, t) is None else view.step(s, t) for s, t in zip(states, tokens)]
    assert view.step_batch(states, tokens).tolist() == expected
    if trie.vocab_size <= 300:
        mask = view.mask(states)
        for row, state in enumerate(states):
            assert np.flatnonzero(mask[row]).tolist() == ([] if state == DEAD else view.allowed(state).tolist())


@pytest.mark.parametrize("shape", [(2, 3), (4, 100), (3, 2, 50)])
def test_step_batch_keeps_the_shape_of_its_states(shape):
    """States of several beams at once, e.g. [batch, beams]: the answer has their shape, at any size."""
    trie = Trie.from_sequences([[1, 2, 3], [1, 2], [1, 4], [5]])
    rng = np.random.default_rng(0)
    pool = np.array([ROOT, trie.walk([1]), trie.walk([1, 2]), trie.walk([5]), DEAD])
    states = pool[rng.integers(0, len(pool), int(np.prod(shape)))]
    tokens = rng.integers(0, 6, len(states))
    flat = trie.step_batch(states, tokens)
    stepped = trie.step_batch(states.reshape(shape), tokens.reshape(shape))
    assert stepped.shape == shape and stepped.ravel().tolist() == flat.tolist()


def test_restrict_rejects_ids_outside_the_trie():
    trie = Trie.from_sequences([[1], [2]])
    for bad in ([2], [-1]):
        with pytest.raises(CorpusError, match="sequence ids"):
            trie.restrict(bad)


@PROPERTY
@given(sequence_lists(), st.integers(1, 5))
def test_streaming_layout_is_the_same_in_chunks_of_any_size(case, size):
    """The layout pass sees the sorted sequences in chunks (65,536 at a time in real builds): a sequence's
    neighbour, its duplicate or the edge it splits may lie in the chunk before."""
    seqs, _ = case
    items = sorted((tuple(s), i) for i, s in enumerate(seqs))
    whole, chunked = build_layout(iter_chunks(iter(items))), build_layout(iter_chunks(iter(items), size=size))
    for name, value in asdict(whole).items():
        other = asdict(chunked)[name]
        if isinstance(value, np.ndarray):
            assert value.dtype == other.dtype and value.tolist() == other.tolist(), name
        else:
            assert value == other, name


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence_lists())
def test_a_built_file_holds_the_same_trie_as_from_sequences(fresh, case):
    seqs, _ = case
    folder = fresh()
    (folder / "ids.txt").write_text("".join(" ".join(map(str, s)) + "\n" for s in seqs))
    built = build_trie(folder / "ids.txt", folder / "t.trie", tokenizer="ids")
    opened, memory = Trie.open(folder / "t.trie", verify=True), Trie.from_sequences(seqs)
    assert (built.sequences, built.records, built.duplicates) == (len(memory), len(seqs), len(seqs) - len(memory))
    for name in ARRAYS:
        assert opened._arrays[name].tolist() == memory._arrays[name].tolist(), name
    assert opened.vocab_size == memory.vocab_size and opened.vocab is None


def test_from_sequences_checks_ids_and_vocab_size():
    with pytest.raises(CorpusError, match=">= 0"):
        Trie.from_sequences([[1, -2]])
    with pytest.raises(CorpusError, match="token id 7 is outside the vocabulary of 5"):
        Trie.from_sequences([[1, 7]], vocab_size=5)
    trie = Trie.from_sequences([[1, 2]], eos_id=9)
    assert (trie.vocab_size, trie.eos_id) == (10, 9)


def test_a_dead_state_answers_like_no_prefix():
    """step_batch and the mask speak of DEAD (-1) states; the single-state queries must not read the last
    node's answers for one."""
    trie = Trie.from_sequences([[1, 2, 3], [1, 2], [5, 6]])
    [dead] = trie.step_batch([ROOT], [4]).tolist()
    assert dead == DEAD
    assert trie.allowed(dead).tolist() == []
    assert not trie.is_complete(dead)
    assert trie.payload(dead) is None
    assert trie.count(dead) == 0
    assert trie.completions(dead) == []
    assert trie.leaf_range(dead)[0] == trie.leaf_range(dead)[1]


@given(st.lists(st.integers(0, 2**32 - 1), max_size=60))
def test_varint_labels_round_trip(labels):
    """Edge labels are stored as LEB128 varints: every uint32 comes back, in bulk and one at a time."""
    lengths = varint.lengths(np.array(labels, dtype=np.uint64)).astype(np.int64)
    encoded = varint.encode(np.array(labels, dtype=np.uint64))
    assert len(encoded) == lengths.sum()
    assert varint.labels(memoryview(encoded), 0, len(encoded)) == labels
    padded = np.concatenate((encoded, np.zeros(varint.PADDING, dtype=np.uint8)))
    starts = np.cumsum(lengths) - lengths
    values, sizes = varint.decode_at(padded, starts)
    assert values.tolist() == labels and sizes.tolist() == lengths.tolist()
    assert [varint.label_at(memoryview(padded), int(p))[0] for p in starts] == labels


@pytest.mark.parametrize("cache_bytes", [32 << 20, 5000])
def test_mask_of_wide_nodes_many_states_and_repeats(monkeypatch, cache_bytes):
    """The mask paths a small property test does not reach: nodes wide enough for the row cache (also
    when the cache must evict), batches with thousands of labels, repeated and dead states, a narrow width."""
    monkeypatch.setattr(trie_module, "WIDE_CACHE_BYTES", cache_bytes)
    seqs = [[a, b] for a in range(40) for b in range(0, 400, 2)] + [[7, 1, 900, 901], [600 + a for a in range(5)]]
    seqs += [[1000 + a] for a in range(300)]
    trie = Trie.from_sequences(seqs)
    states = [trie.walk([a]) for a in range(40)] + [ROOT, ROOT, DEAD, trie.walk([7, 1]), trie.walk([7, 1, 900])]
    states += [trie.walk([600, 601]), trie.walk([3])]
    for _ in range(2):  # the second round reads wide rows from the cache
        for width in (trie.vocab_size, 950, 30):
            mask = trie.mask(states, width)
            bits = trie.bitmask(states, width)
            for row, state in enumerate(states):
                allowed = [t for t in trie.allowed(state).tolist() if t < width]
                assert np.flatnonzero(mask[row]).tolist() == allowed, (row, width)
            assert np.array_equal(bits, pack_bitmask(mask))
    assert trie._wide_bytes <= cache_bytes


# --- 2. builds from files -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zh_trie(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zh")
    result = build_trie(DATA / "fortunes-zh.txt", folder / "zh.trie", tokenizer="char")
    return result, Trie.open(folder / "zh.trie")


def test_char_build_of_the_chinese_fortunes(zh_trie):
    result, trie = zh_trie
    assert isinstance(result, TrieBuild) and result.runs == 0
    assert (result.records, result.sequences) == (len(ZH), len(set(ZH)))
    assert len(trie) == len(set(ZH)) and trie.meta["tokenizer"]["tokenizer"] == "char"
    first = {}
    for number, line in enumerate(ZH):
        first.setdefault(line, number)
    for line, number in first.items():
        assert line in trie
        state = trie.walk(trie.encode(line))
        assert trie.is_complete(state) and trie.payload(state) == number
        assert "".join(trie.decode(trie.encode(line))) == line
    assert trie.vocab_size == len(trie.vocab) == len(set("".join(ZH)))
    assert len(set(trie.vocab)) == len(trie.vocab)
    assert [trie.vocab.index(c) for c in dict.fromkeys("".join(ZH))] == list(range(len(trie.vocab)))
    ids_order = sorted(first, key=trie.encode)
    assert ["".join(trie.decode(trie.sequence(i))) for i in range(len(trie))] == ids_order
    for prefix in ("《", "《送", "《送别》", "《月下独酌》 作者：李白", "《詩經‧", ZH[3][:20]):
        state = trie.walk(trie.encode(prefix))
        expected = [line for line in ids_order if line.startswith(prefix)]
        assert trie.count(state) == len(expected) > 0
        assert ["".join(trie.decode(c)) for c in trie.completions(state, limit=7)] == expected[:7]
        assert sorted(trie.decode(trie.allowed(state))) == sorted({line[len(prefix)] for line in expected
                                                                   if len(line) > len(prefix)})
    assert "《月下独酌》 作者：李白" not in trie and "《月下独酌》 作者：李白 床前" not in trie
    with pytest.raises(CorpusError, match="not in the trie's vocabulary"):
        trie.encode("Ω")


def test_text_with_a_token_the_trie_never_saw_is_not_in_it(zh_trie):
    _, trie = zh_trie
    with pytest.raises(CorpusError, match="'Ω' is not in the trie's vocabulary"):
        trie.encode("《Ω")
    assert "《Ω" not in trie  # `in` answers the question; it has no error to report


def test_jsonl_with_a_field(tmp_path):
    result = build_trie(DATA / "fortunes.jsonl", tmp_path / "t.trie", field="text")
    trie = Trie.open(tmp_path / "t.trie")
    assert (result.records, len(trie)) == (len(RECORDS), len({r["text"] for r in RECORDS}))
    for number, record in enumerate(RECORDS[::37]):
        state = trie.walk(trie.encode(record["text"]))
        assert trie.is_complete(state) and trie.payload(state) == number * 37
    assert trie.meta["field"] == "text"


def test_jsonl_with_a_template(tmp_path):
    build_trie(DATA / "fortunes.jsonl", tmp_path / "t.trie", template="{source}|{lang}|{id}")
    trie = Trie.open(tmp_path / "t.trie")
    keys = [f"{r['source']}|{r['lang']}|{r['id']}" for r in RECORDS]
    assert len(trie) == len(set(keys))
    assert ["".join(trie.decode(trie.sequence(i))) for i in range(len(trie))] == sorted(set(keys), key=trie.encode)
    for number, key in enumerate(keys):
        if number % 50 == 0:
            assert key in trie and trie.payload(trie.walk(trie.encode(key))) == number
    state = trie.walk(trie.encode("tang300|zh|"))
    assert trie.count(state) == sum(r["source"] == "tang300" for r in RECORDS)
    assert trie.meta["template"] == "{source}|{lang}|{id}"


def test_ids_input(tmp_path):
    lines = ["3 1 4", "1 5", "", "3 1", "9 2 6", "3 1 4"]
    (tmp_path / "ids.txt").write_text("\n".join(lines) + "\n")
    result = build_trie(tmp_path / "ids.txt", tmp_path / "t.trie", tokenizer="ids")
    trie = Trie.open(tmp_path / "t.trie")
    assert (result.vocab_size, trie.vocab_size, trie.vocab) == (10, 10, None)
    assert [trie.sequence(i) for i in range(len(trie))] == [(), (1, 5), (3, 1), (3, 1, 4), (9, 2, 6)]
    assert trie.payload(trie.walk([3, 1, 4])) == 0 and trie.payload(ROOT) == 2
    assert trie.encode("3 1") == [3, 1] and "3 1" in trie and "3" not in trie
    assert (result.duplicates, trie.meta["duplicates"]) == (1, 1)
    build_trie(tmp_path / "ids.txt", tmp_path / "wide.trie", tokenizer="ids", vocab_size=32000, eos=2)
    wide = Trie.open(tmp_path / "wide.trie")
    assert (wide.vocab_size, wide.eos_id) == (32000, 2)
    assert wide.mask([ROOT]).shape == (1, 32000)
    build_trie(tmp_path / "ids.txt", tmp_path / "eos.trie", tokenizer="ids", eos=12)
    assert Trie.open(tmp_path / "eos.trie").vocab_size == 13
    with pytest.raises(CorpusError, match=r"ids\.txt:2: token id 5 is outside the vocabulary \(ids 0 to 4"):
        build_trie(tmp_path / "ids.txt", tmp_path / "small.trie", tokenizer="ids", vocab_size=5)
    with pytest.raises(CorpusError, match="--eos 12 is outside the vocabulary of 10 tokens"):
        build_trie(tmp_path / "ids.txt", tmp_path / "small.trie", tokenizer="ids", vocab_size=10, eos=12)
    with pytest.raises(CorpusError, match="--eos must be a token id"):
        build_trie(tmp_path / "ids.txt", tmp_path / "small.trie", tokenizer="ids", eos=-1)
    assert not (tmp_path / "small.trie").exists()


def test_the_largest_token_id(tmp_path):
    (tmp_path / "ids.txt").write_text("1\n4294967294 0\n")
    build_trie(tmp_path / "ids.txt", tmp_path / "t.trie", tokenizer="ids")
    trie = Trie.open(tmp_path / "t.trie")
    assert trie.sequence(1) == (4294967294, 0) and trie.vocab_size == 4294967295
    (tmp_path / "big.txt").write_text("1\n4294967295\n")
    with pytest.raises(CorpusError, match=r"big\.txt:2: expected space-separated token ids \(whole numbers from 0 "
                                          r"to 4294967294\): '4294967295'"):
        build_trie(tmp_path / "big.txt", tmp_path / "big.trie", tokenizer="ids")


@pytest.mark.parametrize("text, line, token", [
    ("1 2\n3 x 4\n", 2, "x"),
    ("1\n\n2.5\n", 3, "2.5"),
    ("1\n2 -3\n", 2, "-3"),
    ("1 2\n3 \u00b2 4\n", 2, "\u00b2"),                # a digit to str.isdigit, not to int()
    ("1 2\n99999999999999999999\n", 2, "99999999999999999999"),  # past int64
])
def test_ids_input_rejects_what_is_not_a_token_id(tmp_path, text, line, token):
    (tmp_path / "ids.txt").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        build_trie(tmp_path / "ids.txt", tmp_path / "t.trie", tokenizer="ids")
    assert (caught.value.path, caught.value.line) == (str(tmp_path / "ids.txt"), line)
    assert repr(token) in str(caught.value)
    assert not (tmp_path / "t.trie").exists()


def test_whitespace_tokenizer(tmp_path):
    (tmp_path / "w.txt").write_text("the cat  sat\nthe dog\n\nthe cat\n\tthe cat sat \n")
    result = build_trie(tmp_path / "w.txt", tmp_path / "t.trie", tokenizer="whitespace")
    trie = Trie.open(tmp_path / "t.trie")
    assert trie.vocab == ["the", "cat", "sat", "dog"] and result.duplicates == 1
    assert [trie.decode(trie.sequence(i)) for i in range(len(trie))] == [
        [], ["the", "cat"], ["the", "cat", "sat"], ["the", "dog"]]
    assert trie.encode("the  cat") == [0, 1] and "the cat" in trie and "the" not in trie
    assert trie.decode(trie.allowed(trie.walk(trie.encode("the")))) == ["cat", "dog"]


def test_jieba_tokenizer(tmp_path):
    lines = ["我爱北京天安门", "今天天气不错", "我爱北京"]
    (tmp_path / "zh.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    build_trie(tmp_path / "zh.txt", tmp_path / "t.trie", tokenizer="jieba")
    trie = Trie.open(tmp_path / "t.trie")
    reference = jieba.Tokenizer()
    for number, line in enumerate(lines):
        ids = trie.encode(line)
        assert trie.decode(ids) == reference.lcut(line)
        assert trie.payload(trie.walk(ids)) == number
    state = trie.walk(trie.encode("我爱北京"))
    assert trie.is_complete(state) and trie.count(state) == 2
    assert trie.decode(trie.allowed(state)) == ["天安门"]
    assert trie.meta["tokenizer"]["tokenizer"] == "jieba"


@pytest.fixture
def hf_tokenizer(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(["the cat sat", "the dog ran", "a cat ran", "the cat ran"],
                                  trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]"]))
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    return tokenizer, path


def test_hf_tokenizer_ids_are_the_tokenizers_own(tmp_path, hf_tokenizer):
    tokenizer, path = hf_tokenizer
    lines = ["the cat sat", "the dog", "a cat ran fast", "the cat"]
    (tmp_path / "h.txt").write_text("\n".join(lines) + "\n")
    result = build_trie(tmp_path / "h.txt", tmp_path / "t.trie", tokenizer=f"hf:{path}", eos=0)
    path.unlink()  # the trie keeps the tokenizer it was built with
    trie = Trie.open(tmp_path / "t.trie")
    assert result.vocab_size == trie.vocab_size == tokenizer.get_vocab_size()
    assert trie.vocab == [tokenizer.id_to_token(i) for i in range(tokenizer.get_vocab_size())]
    expected = sorted({tuple(tokenizer.encode(line).ids) for line in lines})
    assert [trie.sequence(i) for i in range(len(trie))] == expected
    for number, line in enumerate(lines):
        assert trie.encode(line) == tokenizer.encode(line).ids
        assert line in trie and trie.payload(trie.walk(trie.encode(line))) == number
    state = trie.walk(trie.encode("the"))
    assert trie.allowed(state).tolist() == sorted([tokenizer.token_to_id("cat"), tokenizer.token_to_id("dog")])
    assert trie.eos_id == 0


def test_hf_tokenizer_takes_no_vocab(tmp_path, hf_tokenizer):
    _, path = hf_tokenizer
    (tmp_path / "h.txt").write_text("the cat\n")
    (tmp_path / "v.tsv").write_text("the\t1\n")
    with pytest.raises(CorpusError, match="--vocab"):
        build_trie(tmp_path / "h.txt", tmp_path / "t.trie", tokenizer=f"hf:{path}", vocab=tmp_path / "v.tsv")


@pytest.fixture
def vocab_case(tmp_path):
    (tmp_path / "v.tsv").write_text("[PAD]\t0\n[UNK]\t0\na\t5\nb\t3\n")
    (tmp_path / "w.txt").write_text("ab\nba\naab\nabc\nb\n")
    return tmp_path


def test_a_vocab_file_gives_the_ids(vocab_case):
    (vocab_case / "ok.txt").write_text("ab\nba\nb\n")
    result = build_trie(vocab_case / "ok.txt", vocab_case / "t.trie", vocab=vocab_case / "v.tsv")
    trie = Trie.open(vocab_case / "t.trie")
    assert trie.vocab == ["[PAD]", "[UNK]", "a", "b"] and result.vocab_size == 4
    assert [trie.sequence(i) for i in range(len(trie))] == [(2, 3), (3,), (3, 2)]


def test_a_token_missing_from_the_vocab_names_file_and_line(vocab_case):
    with pytest.raises(InputError) as caught:
        build_trie(vocab_case / "w.txt", vocab_case / "t.trie", vocab=vocab_case / "v.tsv")
    assert (caught.value.path, caught.value.line) == (str(vocab_case / "w.txt"), 4)
    assert "'c'" in str(caught.value) and "--unk" in str(caught.value)
    assert not (vocab_case / "t.trie").exists()


def test_unk_maps_missing_tokens(vocab_case):
    build_trie(vocab_case / "w.txt", vocab_case / "t.trie", vocab=vocab_case / "v.tsv", unk="[UNK]")
    trie = Trie.open(vocab_case / "t.trie")
    assert [trie.sequence(i) for i in range(len(trie))] == [(2, 2, 3), (2, 3), (2, 3, 1), (3,), (3, 2)]
    assert trie.payload(trie.walk([2, 3, 1])) == 3
    with pytest.raises(CorpusError, match="--unk 'zz' must be a token of the vocabulary"):
        build_trie(vocab_case / "w.txt", vocab_case / "u.trie", vocab=vocab_case / "v.tsv", unk="zz")
    with pytest.raises(CorpusError, match="--unk"):
        build_trie(vocab_case / "w.txt", vocab_case / "u.trie", unk="[UNK]")


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_payload_from_an_integer_field(tmp_path):
    records = [{"t": "ab", "n": 70}, {"t": "b", "n": 2**40}, {"t": "a", "n": 0}, {"t": "abc", "n": 5}]
    write_jsonl(tmp_path / "p.jsonl", records)
    build_trie(tmp_path / "p.jsonl", tmp_path / "t.trie", field="t", payload="n")
    trie = Trie.open(tmp_path / "t.trie")
    for record in records:
        assert trie.payload(trie.walk(trie.encode(record["t"]))) == record["n"]
    assert trie.meta["payload"] == "n"


def test_payload_field_of_a_duplicate_is_its_first_occurrences(tmp_path):
    """A payload is documented as the first occurrence's, whatever the values of the field."""
    write_jsonl(tmp_path / "p.jsonl", [{"t": "x", "n": 7}, {"t": "y", "n": 3}, {"t": "x", "n": 0}])
    build_trie(tmp_path / "p.jsonl", tmp_path / "t.trie", field="t", payload="n")
    trie = Trie.open(tmp_path / "t.trie")
    assert trie.payload(trie.walk(trie.encode("y"))) == 3
    assert trie.payload(trie.walk(trie.encode("x"))) == 7


@pytest.mark.parametrize("bad, line, message", [
    ({"t": "z", "n": -1}, 4, "whole number >= 0"),
    ({"t": "z"}, 4, "whole number >= 0"),
    ({"t": "z", "n": 1.5}, 4, "whole number"),
])
def test_payload_must_be_a_whole_number(tmp_path, bad, line, message):
    write_jsonl(tmp_path / "p.jsonl", [{"t": "a", "n": 1}, {"t": "b", "n": 2}, {"t": "c", "n": 3}, bad,
                                       {"t": "d", "n": 4}])
    with pytest.raises(InputError, match=message) as caught:
        build_trie(tmp_path / "p.jsonl", tmp_path / "t.trie", field="t", payload="n")
    assert (caught.value.path, caught.value.line) == (str(tmp_path / "p.jsonl"), line)
    assert not (tmp_path / "t.trie").exists()


def test_payload_field_must_exist(tmp_path):
    write_jsonl(tmp_path / "p.jsonl", [{"t": "a"}])
    with pytest.raises(InputError, match="no payload field 'n'"):
        build_trie(tmp_path / "p.jsonl", tmp_path / "t.trie", field="t", payload="n")


# --- 3. sorting beyond memory -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def id_files(tmp_path_factory):
    """Six files of random id sequences (about 5 MB of sort records), many repeated across files."""
    folder = tmp_path_factory.mktemp("ids")
    rng = np.random.default_rng(7)
    pool = [" ".join(map(str, rng.integers(0, 40, rng.integers(0, 25)))) for _ in range(30000)]
    files = []
    for part in range(6):
        path = folder / f"part{part}.txt"
        path.write_text("\n".join(pool[i] for i in rng.integers(0, len(pool), 9000)) + "\n")
        files.append(path)
    lines = [line for path in files for line in path.read_text().splitlines()]
    reference = folder / "memory.trie"
    result = build_trie(files, reference, tokenizer="ids", mem="1G")
    assert result.runs == 0
    return files, lines, reference


@pytest.fixture
def tiny_sort(monkeypatch):
    """Sorted runs of the 1 MB floor, whatever --mem says."""
    monkeypatch.setattr(trie_build, "SORT_SHARE", 1e-9)


def test_spilled_build_is_byte_identical_and_leaves_nothing(id_files, tiny_sort, tmp_path):
    files, lines, reference = id_files
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    result = build_trie(files, tmp_path / "spill.trie", tokenizer="ids", mem="64M", tmp=tmp)
    assert result.runs >= 3
    assert (tmp_path / "spill.trie").read_bytes() == reference.read_bytes()
    assert os.listdir(tmp) == []
    assert sorted(os.listdir(tmp_path)) == ["spill.trie", "spill.trie.manifest.json", "tmp"]
    trie = Trie.open(tmp_path / "spill.trie", verify=True)
    first = {}
    for number, line in enumerate(lines):
        first.setdefault(line, number)
    assert len(trie) == len(first) and result.duplicates == len(lines) - len(first)
    for line, number in list(first.items())[::97]:
        assert trie.payload(trie.walk(trie.encode(line))) == number


def test_the_same_bytes_whatever_tmp_and_mem(id_files, tiny_sort, tmp_path):
    files, _, reference = id_files
    for n, mem in enumerate(("1M", "300M")):
        tmp = tmp_path / f"tmp{n}"
        tmp.mkdir()
        result = build_trie(files, tmp_path / f"{n}.trie", tokenizer="ids", mem=mem, tmp=tmp)
        assert result.runs > 0 and os.listdir(tmp) == []
        assert (tmp_path / f"{n}.trie").read_bytes() == reference.read_bytes()


def test_spilled_text_build_keeps_first_occurrences(tiny_sort, tmp_path, zh_trie):
    """The Chinese fortunes eight times over, one copy per file: every duplicate lies in another run."""
    files = []
    for copy in range(8):
        files.append(tmp_path / f"zh{copy}.txt")
        files[-1].write_text("\n".join(ZH) + "\n", encoding="utf-8")
    result = build_trie(files, tmp_path / "spill.trie", tokenizer="char", tmp=tmp_path)
    assert result.runs > 1
    trie = Trie.open(tmp_path / "spill.trie")
    _, single = zh_trie
    assert (len(trie), result.records, result.duplicates) == (len(single), 8 * len(ZH), 8 * len(ZH) - len(single))
    assert trie.vocab == single.vocab
    assert [trie.sequence(i) for i in range(len(trie))] == [single.sequence(i) for i in range(len(single))]
    assert trie.payloads.tolist() == single.payloads.tolist()
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []


def test_small_layout_chunks_give_the_same_file(tmp_path, monkeypatch):
    """Sorted chunks of 7 sequences, edge labels gathered back from the scratch file 5 at a time."""
    build_trie(DATA / "fortunes.jsonl", tmp_path / "a.trie", field="text")
    monkeypatch.setattr(trie_sort, "CHUNK_RECORDS", 7)
    monkeypatch.setattr(trie_layout._Labels, "GATHER_LABELS", 5)
    build_trie(DATA / "fortunes.jsonl", tmp_path / "b.trie", field="text")
    assert (tmp_path / "a.trie").read_bytes() == (tmp_path / "b.trie").read_bytes()


def test_an_error_after_spilling_leaves_nothing(id_files, tiny_sort, tmp_path):
    files, lines, _ = id_files
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(lines[:20000]) + "\n1 2 oops 3\n4 5\n")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    spilled = []
    real = trie_sort._write_run
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trie_sort, "_write_run", lambda *a: (spilled.append(1), real(*a)))
        with pytest.raises(InputError) as caught:
            build_trie([*files, bad], tmp_path / "t.trie", tokenizer="ids", tmp=tmp)
    assert spilled, "the error should come after a sorted run was spilled"
    assert (caught.value.path, caught.value.line) == (str(bad), 20001)
    assert os.listdir(tmp) == []
    assert sorted(os.listdir(tmp_path)) == ["bad.txt", "tmp"]


# --- 4. the file format -------------------------------------------------------------------------------------


@pytest.fixture
def built(tmp_path):
    (tmp_path / "in.txt").write_text("\n".join(ZH[:300]) + "\n", encoding="utf-8")
    build_trie(tmp_path / "in.txt", tmp_path / "t.trie")
    raw = (tmp_path / "t.trie").read_bytes()
    _, _, header_len, _ = struct.unpack("<8sIQQ", raw[:28])
    header = json.loads(raw[28:28 + header_len])
    start = (28 + header_len + 63) // 64 * 64
    return tmp_path / "t.trie", raw, header, start


def test_open_round_trip(built):
    path, raw, header, start = built
    trie = Trie.open(path, verify=True)
    assert len(trie) == len(set(ZH[:300])) and trie.path == os.fspath(path)
    assert all(line in trie for line in ZH[:300])
    assert len(raw) == start + max(a["offset"] + (a["length"] * np.dtype(a["dtype"]).itemsize + 63) // 64 * 64
                                   for a in header["arrays"].values())
    assert "Trie(" in repr(trie)


def damaged(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("how, message", [
    ("empty", "not a corpuskit trie file"),
    ("other", "not a corpuskit trie file"),
    ("text-mode", "not a corpuskit trie file"),
    ("in header", "header is truncated or damaged"),
    ("header flip", "header is truncated or damaged"),
    ("half", "truncated"),
    ("last byte", "truncated"),
    ("version", "format version 3"),
    ("header length", "truncated or damaged"),
])
def test_open_rejects_a_damaged_or_foreign_file(built, how, message):
    path, raw, _, start = built
    bad = path.with_name("bad.trie")
    if how == "empty":
        data = b""
    elif how == "other":
        data = b"PAR1" + bytes(200)
    elif how == "text-mode":
        data = raw.replace(b"\r\n", b"\n", 1)
    elif how == "in header":
        data = raw[:100]
    elif how == "header flip":
        data = bytearray(raw)
        data[60] ^= 1
    elif how == "half":
        data = raw[:start + (len(raw) - start) // 2]
    elif how == "last byte":
        data = raw[:-1]
    elif how == "version":
        data = raw[:8] + struct.pack("<I", 3) + raw[12:]
    else:  # a flipped high bit in the header's length
        data = bytearray(raw)
        data[19] ^= 0x80
    with pytest.raises(CorpusError, match=message) as caught:
        Trie.open(damaged(bad, bytes(data)))
    assert str(bad) in str(caught.value) and "\n" not in str(caught.value)


def test_open_of_what_is_not_a_file(tmp_path):
    with pytest.raises(CorpusError, match="cannot open the trie"):
        Trie.open(tmp_path / "missing.trie")
    with pytest.raises(CorpusError, match="cannot open the trie"):
        Trie.open(tmp_path)


def test_a_flipped_byte_inside_an_array_is_found_by_verify(built):
    path, raw, header, start = built
    for name in ("label", "payload", "vocab_blob"):
        entry = header["arrays"][name]
        data = bytearray(raw)
        data[start + entry["offset"] + entry["length"] * np.dtype(entry["dtype"]).itemsize // 2] ^= 0x10
        bad = damaged(path.with_name(f"{name}.trie"), bytes(data))
        assert len(Trie.open(bad)) == len(set(ZH[:300]))
        with pytest.raises(CorpusError, match=f"array '{name}' does not match its checksum"):
            Trie.open(bad, verify=True)


def test_open_does_not_read_the_arrays(built):
    """Opening maps the file: it reads the header only, so garbage in the arrays goes unnoticed."""
    path, raw, _, start = built
    rng = np.random.default_rng(0)
    bad = damaged(path.with_name("garbage.trie"), raw[:start] + rng.bytes(len(raw) - start))
    trie = Trie.open(bad)
    assert len(trie) == len(set(ZH[:300])) and trie.meta["tokenizer"]["tokenizer"] == "char"
    assert isinstance(trie.lo, np.ndarray) and not trie.lo.flags.writeable and not trie.lo.flags.owndata
    with pytest.raises(CorpusError, match="does not match its checksum"):
        Trie.open(bad, verify=True)


# --- 5. errors and edges ------------------------------------------------------------------------------------


@pytest.mark.parametrize("tokenizer, suffix", [("char", ".txt"), ("ids", ".txt"), ("char", ".jsonl")])
def test_empty_input_gives_an_empty_trie(tmp_path, tokenizer, suffix):
    (tmp_path / f"empty{suffix}").write_text("")
    result = build_trie(tmp_path / f"empty{suffix}", tmp_path / "t.trie", tokenizer=tokenizer,
                        field="text" if suffix == ".jsonl" else None)
    trie = Trie.open(tmp_path / "t.trie", verify=True)
    assert (result.sequences, result.records, len(trie), trie.vocab_size) == (0, 0, 0, 0)
    assert trie.allowed(ROOT).tolist() == [] and trie.count(ROOT) == 0 and not trie.is_complete(ROOT)
    assert trie.completions(ROOT) == [] and [] not in trie
    assert trie.step(ROOT, 0) is None and trie.step_batch([ROOT], [0]).tolist() == [DEAD]
    assert trie.mask([ROOT]).shape == (1, 0)


def test_an_existing_output_needs_force(tmp_path):
    (tmp_path / "in.txt").write_text("ab\n")
    (tmp_path / "t.trie").write_bytes(b"keep me")
    with pytest.raises(CorpusError, match="output exists"):
        build_trie(tmp_path / "in.txt", tmp_path / "t.trie")
    assert (tmp_path / "t.trie").read_bytes() == b"keep me"
    build_trie(tmp_path / "in.txt", tmp_path / "t.trie", force=True)
    assert "ab" in Trie.open(tmp_path / "t.trie")


def test_a_missing_output_folder(tmp_path):
    (tmp_path / "in.txt").write_text("ab\n")
    with pytest.raises(CorpusError, match="does not exist"):
        build_trie(tmp_path / "in.txt", tmp_path / "no" / "t.trie")


def test_a_template_field_missing_from_a_record_names_file_and_line(tmp_path):
    records = [{"a": "x", "b": "y"}] * 5 + [{"a": "x"}] + [{"a": "z", "b": "w"}]
    write_jsonl(tmp_path / "m.jsonl", records)
    with pytest.raises(InputError, match="no value for 'b'") as caught:
        build_trie(tmp_path / "m.jsonl", tmp_path / "t.trie", template="{a}|{b}")
    assert (caught.value.path, caught.value.line) == (str(tmp_path / "m.jsonl"), 6)
    with pytest.raises(InputError, match="no field 'nope'") as caught:
        build_trie(DATA / "fortunes.jsonl", tmp_path / "t.trie", template="{source}|{nope}")
    assert caught.value.path == str(DATA / "fortunes.jsonl") and caught.value.line == 1
    for bad in ("no fields", "{}|{a}", "{a"):
        with pytest.raises(CorpusError, match="template"):
            build_trie(tmp_path / "m.jsonl", tmp_path / "t.trie", template=bad)
    assert not (tmp_path / "t.trie").exists()


def test_a_sequence_of_thousands_of_tokens(tmp_path):
    long = [i % 7 for i in range(5000)]
    (tmp_path / "ids.txt").write_text(" ".join(map(str, long)) + "\n" + " ".join(map(str, long[:3000])) +
                                      "\n1 2\n" + " ".join(map(str, long[:3000] + [6])) + "\n")
    result = build_trie(tmp_path / "ids.txt", tmp_path / "t.trie", tokenizer="ids")
    trie = Trie.open(tmp_path / "t.trie")
    assert result.tokens == 5000 + 3000 + 2 + 3001
    assert [len(trie.sequence(i)) for i in range(len(trie))] == [3000, 5000, 3001, 2]
    state = trie.walk(long[:3000])
    assert trie.is_complete(state) and trie.count(state) == 3 and trie.payload(state) == 1
    assert trie.allowed(state).tolist() == [long[3000], 6] == [4, 6]
    assert trie.completions(trie.walk(long[:10]), 5) == [tuple(long[:3000]), tuple(long),
                                                         tuple(long[:3000] + [6])]
    assert trie.walk(long) is not None and trie.is_complete(trie.walk(long))


def test_two_workers_give_the_same_bytes(tmp_path):
    files = []
    for part in range(4):
        files.append(tmp_path / f"part{part}.txt")
        files[-1].write_text("\n".join(ZH[part * 270:(part + 1) * 270]) + "\n", encoding="utf-8")
    one = build_trie(files, tmp_path / "one.trie", tokenizer="char")
    two = build_trie(files, tmp_path / "two.trie", tokenizer="char", workers=2)
    assert (tmp_path / "one.trie").read_bytes() == (tmp_path / "two.trie").read_bytes()
    assert one.records == two.records == len(ZH)
