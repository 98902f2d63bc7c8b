"""Constrained-decoding adapters of the trie: allowed tokens equal a brute-force model (a set of tuples) for
encoder-decoder and left-padded decoder-only rows, the EOS and padding rules, the empty-row policies, the
state cache (one step per call), the vectorized logits processor, bit-parallel LCS against the plain
dynamic programme, the look-ahead deltas and reweighting, and (when torch and transformers are installed)
real beam search with tiny randomly initialised models whose every output is a sequence of the trie."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpuskit import CorpusError
from corpuskit.trie import Trie, build_trie
from corpuskit.trie.decoding import (
    TrieLogitsProcessor,
    lcs_length,
    lookahead_reweight,
    lookahead_scores,
    pack_bitmask,
    prefix_allowed_tokens_fn,
    state_prefix,
)

EOS, PAD, START = 1, 0, 0
TAG = (30, 31)  # a forced prefix outside the trie's alphabet

sequences_st = st.lists(st.lists(st.integers(2, 7), min_size=1, max_size=6), min_size=1, max_size=12)


def reference(seqs: set[tuple[int, ...]], generated: tuple[int, ...], prefix: tuple[int, ...] = (),
              eos: int = EOS, pad: int | None = PAD) -> set[int] | None:
    """What may follow ``generated``, straight from the definition; None when nothing may."""
    after_eos = {eos if pad is None else pad}
    for j, token in enumerate(prefix):
        if len(generated) == j:
            return {token}
        if generated[j] != token:
            return after_eos if eos in generated[j:] else None
    body = generated[len(prefix):]
    if eos in body:
        return after_eos
    out = {s[len(body)] for s in seqs if len(s) > len(body) and s[:len(body)] == body}
    if body in seqs:
        out.add(eos)
    return out or None


def row_for(data, seqs: list[tuple[int, ...]], prefix: tuple[int, ...] = ()) -> tuple[int, ...]:
    """A generated row: a prefix of a sequence, maybe ended with EOS and padding, maybe with a stray token."""
    seq = data.draw(st.sampled_from(seqs))
    row = prefix[:data.draw(st.integers(0, len(prefix)))]
    if len(row) == len(prefix):
        row += seq[:data.draw(st.integers(0, len(seq)))]
    tail = data.draw(st.sampled_from(["none", "eos", "stray", "stray-eos"]))
    if tail == "eos":
        row += (EOS,) + (PAD,) * data.draw(st.integers(0, 3))
    elif tail.startswith("stray"):
        row += (data.draw(st.integers(2, 9)),)
        if tail == "stray-eos":
            row += (EOS, PAD)
    return row


def check(fn, row: list[int], expected: set[int] | None, eos: int = EOS) -> None:
    got = fn(0, row)
    assert isinstance(got, list) and all(isinstance(t, int) for t in got)
    assert len(got) == len(set(got))
    assert set(got) == (expected if expected is not None else {eos})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequences_st, st.booleans(), st.data())
def test_encoder_decoder_rows_match_brute_force(sequences, tagged, data):
    trie = Trie.from_sequences(sequences, eos_id=EOS)
    seqs = sorted({tuple(s) for s in sequences})
    prefix = TAG if tagged else ()
    fn = prefix_allowed_tokens_fn(trie, decoder_start_id=START, prefix=prefix, pad_id=PAD)
    strict = prefix_allowed_tokens_fn(trie, decoder_start_id=START, prefix=prefix, pad_id=PAD, on_empty="raise")
    for _ in range(8):
        generated = row_for(data, seqs, prefix)
        expected = reference(set(seqs), generated, prefix)
        check(fn, [START, *generated], expected)
        if expected is None:
            with pytest.raises(CorpusError, match="no token may follow"):
                strict(0, [START, *generated])
        else:
            assert set(strict(0, np.array([START, *generated]))) == expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequences_st, st.lists(st.lists(st.integers(0, 40), min_size=1, max_size=5), min_size=1, max_size=4),
       st.data())
def test_decoder_only_left_padded_rows_match_brute_force(sequences, prompts, data):
    """Prompts of different lengths left-padded to one width (they may hold EOS, the pad, anything)."""
    trie = Trie.from_sequences(sequences, eos_id=EOS)
    seqs = sorted({tuple(s) for s in sequences})
    width = max(len(p) for p in prompts)
    fn = prefix_allowed_tokens_fn(trie, decoder_start_id=None, prompt_length=width, pad_id=PAD)
    for prompt in prompts:
        generated = row_for(data, seqs)
        row = [PAD] * (width - len(prompt)) + prompt + list(generated)
        check(fn, row, reference(set(seqs), generated))
        assert fn.generated(row) == generated


def test_eos_rules():
    trie = Trie.from_sequences([[5, 6], [5, 6, 7], [5, 8], [9]], eos_id=EOS)
    fn = prefix_allowed_tokens_fn(trie, pad_id=PAD)
    assert fn(0, [START]) == [5, 9]  # the root is no sequence: no EOS
    assert fn(0, [START, 5]) == [6, 8]
    assert sorted(fn(0, [START, 5, 6])) == [EOS, 7]  # complete and a prefix: both
    assert fn(0, [START, 5, 6, 7]) == [EOS]  # a leaf: EOS alone
    assert fn(0, [START, 9]) == [EOS]
    # eos_id given explicitly overrides the trie's
    assert fn.tracker.eos_id == EOS
    other = prefix_allowed_tokens_fn(trie, eos_id=3, pad_id=PAD)
    assert other(0, [START, 9]) == [3]
    assert other(0, [START, 9, 3]) == [PAD]
    # without an EOS id a complete sequence only allows its children
    bare = Trie.from_sequences([[5, 6], [5, 6, 7]])
    fn = prefix_allowed_tokens_fn(bare, on_empty="raise")
    assert fn(0, [START, 5, 6]) == [7]
    with pytest.raises(CorpusError, match=r"\[5, 6, 7\].*no eos_id"):
        fn(0, [START, 5, 6, 7])


def test_after_eos_only_padding():
    trie = Trie.from_sequences([[5, 6], [5, 6, 7]], eos_id=EOS)
    padded = prefix_allowed_tokens_fn(trie, pad_id=PAD)
    no_pad = prefix_allowed_tokens_fn(trie)
    for fn, fill in ((padded, PAD), (no_pad, EOS)):
        assert fn(0, [START, 5, 6, EOS]) == [fill]
        assert fn(0, [START, 5, 6, EOS, fill, fill]) == [fill]
        assert fn(0, [START, 5, 6, 7, EOS, fill]) == [fill]
    pad9 = prefix_allowed_tokens_fn(trie, pad_id=9)
    assert pad9(0, [START, 5, 6, EOS]) == [9]


def test_forced_prefix_is_forced_then_skipped():
    trie = Trie.from_sequences([[5, 6], [7]], eos_id=EOS)
    fn = prefix_allowed_tokens_fn(trie, prefix=TAG, pad_id=PAD, on_empty="raise")
    assert fn(0, [START]) == [TAG[0]]
    assert fn(0, [START, TAG[0]]) == [TAG[1]]
    assert fn(0, [START, *TAG]) == [5, 7]
    assert fn(0, [START, *TAG, 5]) == [6]
    with pytest.raises(CorpusError, match="forced prefix"):
        fn(0, [START, TAG[1]])


def test_on_empty_policies_and_messages(tmp_path: Path):
    trie = Trie.from_sequences([[5, 6], [7]], eos_id=EOS)
    lenient = prefix_allowed_tokens_fn(trie, pad_id=PAD)
    assert lenient(0, [START, 5, 9]) == [EOS]  # left the trie: the row ends ...
    assert lenient(0, [START, 5, 9, EOS]) == [PAD]  # ... and is padded
    strict = prefix_allowed_tokens_fn(trie, pad_id=PAD, on_empty="raise")
    with pytest.raises(CorpusError, match=r"\[5, 9\]: it leaves the trie"):
        strict(0, [START, 5, 9])
    with pytest.raises(CorpusError, match="on_empty='eos' needs an EOS"):
        prefix_allowed_tokens_fn(Trie.from_sequences([[5]]))
    with pytest.raises(CorpusError, match="on_empty must be"):
        prefix_allowed_tokens_fn(trie, on_empty="skip")
    # a trie with token strings: the message spells the prefix
    (tmp_path / "kb.txt").write_text("明天下雨\n明天晴\n", encoding="utf-8")
    build_trie(tmp_path / "kb.txt", tmp_path / "kb.trie", tokenizer="char")
    text = Trie.open(tmp_path / "kb.trie")
    fn = prefix_allowed_tokens_fn(text, decoder_start_id=None, on_empty="raise")
    ming, tian, yu = text.encode("明天雨")
    assert sorted(fn(0, [ming, tian])) == sorted(text.encode("下晴"))
    with pytest.raises(CorpusError, match=rf"\[{ming}, {yu}\] \('明' '雨'\): it leaves the trie"):
        fn(0, [ming, yu])
    with pytest.raises(CorpusError, match="'明' '天' '晴'.*no eos_id"):
        fn(0, text.encode("明天晴"))


def test_rows_must_start_with_the_decoder_start_token():
    trie = Trie.from_sequences([[5, 6]], eos_id=EOS)
    fn = prefix_allowed_tokens_fn(trie, decoder_start_id=START)
    with pytest.raises(CorpusError, match="prompt_length"):
        fn(0, [5, 6])
    assert prefix_allowed_tokens_fn(trie, decoder_start_id=None)(0, [5]) == [6]
    # with a prompt length the start id is ignored: the row is a decoder-only row
    assert prefix_allowed_tokens_fn(trie, decoder_start_id=START, prompt_length=2)(0, [8, 8, 5]) == [6]


class CountingTrie:
    """A trie whose ``step`` calls are counted."""

    def __init__(self, trie: Trie) -> None:
        self._trie = trie
        self.steps = 0

    def step(self, state, token):
        self.steps += 1
        return self._trie.step(state, token)

    def __getattr__(self, name):
        return getattr(self._trie, name)


def test_each_call_steps_once_from_the_cached_parent():
    rng = random.Random(3)
    long = [rng.randrange(2, 50) for _ in range(200)]
    counting = CountingTrie(Trie.from_sequences([long, long[:50] + [60], [3, 4]], eos_id=EOS))
    fn = prefix_allowed_tokens_fn(counting, pad_id=PAD)
    for n in range(len(long) + 1):
        before = counting.steps
        expected = [EOS] if n == len(long) else sorted({long[n], 60}) if n == 50 else \
            sorted({long[0], 3}) if n == 0 else [long[n]]
        assert fn(0, [START, *long[:n]]) == expected
        assert counting.steps - before == (1 if n else 0), n
    before = counting.steps
    fn(0, [START, *long[:120]])  # cached: no step at all
    assert counting.steps == before
    # a cold row is walked once from the root
    cold = prefix_allowed_tokens_fn(counting, pad_id=PAD)
    before = counting.steps
    assert cold(0, [START, *long[:150]]) == [long[150]]
    assert counting.steps - before == 150


def test_cache_is_bounded_and_eviction_keeps_answers():
    rng = random.Random(5)
    seqs = [[rng.randrange(2, 6) for _ in range(rng.randrange(1, 8))] for _ in range(40)]
    trie = Trie.from_sequences(seqs, eos_id=EOS)
    small = prefix_allowed_tokens_fn(trie, pad_id=PAD, cache_size=8)
    exact = {tuple(s) for s in seqs}
    for _ in range(300):
        seq = rng.choice(seqs)
        generated = tuple(seq[:rng.randrange(len(seq) + 1)])
        assert set(small(0, [START, *generated])) == reference(exact, generated)
        assert len(small.cache) <= 8


def test_restricted_trie():
    trie = Trie.from_sequences([[5, 6], [5, 7], [8]], eos_id=EOS)
    only = trie.restrict([trie.leaf_range(trie.walk([5, 7]))[0]])
    fn = prefix_allowed_tokens_fn(only, pad_id=PAD)
    assert fn(0, [START]) == [5]
    assert fn(0, [START, 5]) == [7]
    assert fn(0, [START, 5, 7]) == [EOS]
    assert TrieLogitsProcessor(only, pad_id=PAD).mask([[START, 5]]).nonzero()[1].tolist() == [7]


@settings(max_examples=60, deadline=None)
@given(sequences_st, st.booleans(), st.data())
def test_logits_mask_is_exactly_the_allowed_tokens(sequences, tagged, data):
    trie = Trie.from_sequences(sequences, eos_id=EOS)
    seqs = sorted({tuple(s) for s in sequences})
    prefix = TAG if tagged else ()
    processor = TrieLogitsProcessor(trie, prefix=prefix, pad_id=PAD)
    rows = [row_for(data, seqs, prefix) for _ in range(6)]
    # each row alone, then one batch of the rows as long as the first (a batch is rectangular)
    vocab = 40
    for generated in rows:
        mask = processor.mask([[START, *generated]], vocab)
        expected = reference(set(seqs), generated, prefix) or {EOS}
        assert set(np.flatnonzero(mask[0]).tolist()) == expected
    same = [r for r in rows if len(r) == len(rows[0])]
    batch = processor.mask(np.array([[START, *r] for r in same]), vocab)
    for i, generated in enumerate(same):
        assert set(np.flatnonzero(batch[i]).tolist()) == (reference(set(seqs), generated, prefix) or {EOS})
    bits = processor.bitmask([[START, *r] for r in same], vocab)
    assert bits.shape == (len(same), (vocab + 31) // 32) and bits.dtype == np.int32
    unpacked = np.unpackbits(bits.view(np.uint8), axis=1, bitorder="little")[:, :vocab].astype(bool)
    assert (unpacked == batch).all()


def test_pack_bitmask_matches_the_trie_layout():
    trie = Trie.from_sequences([[3, 40], [33, 2], [63]], eos_id=EOS, vocab_size=70)
    states = [0, trie.walk([3]), trie.walk([33]), -1]
    assert (pack_bitmask(trie.mask(states)) == trie.bitmask(states)).all()


def test_logits_processor_with_torch():
    torch = pytest.importorskip("torch")
    trie = Trie.from_sequences([[5, 6], [5, 6, 7], [9]], eos_id=EOS)
    processor = TrieLogitsProcessor(trie, pad_id=PAD)
    input_ids = torch.tensor([[START, 5, 6], [START, 9, EOS], [START, 5, 9]])
    scores = torch.randn(3, 12)
    out = processor(input_ids, scores)
    finite = torch.isfinite(out)
    assert [torch.nonzero(finite[i]).flatten().tolist() for i in range(3)] == [[EOS, 7], [PAD], [EOS]]
    assert torch.equal(out[finite], scores[finite])
    assert out.dtype == scores.dtype and out.shape == scores.shape


def test_module_does_not_import_torch():
    code = "import sys, corpuskit.trie.decoding; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# LCS and look-ahead ----------------------------------------------------------------------------


def lcs_dp(a, b) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal, row[0] = 0, 0
        for j, y in enumerate(b, 1):
            diagonal, row[j] = row[j], diagonal + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 5), max_size=150), st.lists(st.integers(0, 5), max_size=150))
def test_bit_parallel_lcs_equals_dynamic_programming(a, b):
    assert lcs_length(a, b) == lcs_dp(a, b) == lcs_length(b, a)


def test_lcs_examples():
    assert lcs_length([], [1, 2]) == 0
    assert lcs_length("ABCBDAB", "BDCABA") == 4
    long = list(range(1000))
    assert lcs_length(long, long[::2]) == 500
    assert lcs_length(long, long[::-1]) == 1


KG = [[1, 7, 8, 9], [1, 2, 3], [4, 5], [1, 7, 2], [4, 8, 9, 10]]


def test_lookahead_deltas_on_a_hand_made_trie():
    trie = Trie.from_sequences(KG, eos_id=EOS)
    query = [7, 8, 9]
    tokens, delta = lookahead_scores(trie, trie.root, query)
    assert tokens.tolist() == [1, 4] and delta.tolist() == [3, 2]  # via 1 7 8 9, and 4 8 9 10
    state = trie.walk([1])
    tokens, delta = lookahead_scores(trie, state, query)
    assert tokens.tolist() == [2, 7] and delta.tolist() == [0, 3]
    state = trie.walk([1, 7])  # LCS so far is 1
    tokens, delta = lookahead_scores(trie, state, query, prefix_ids=[1, 7])
    assert tokens.tolist() == [2, 8] and delta.tolist() == [0, 2]
    # per_token looks at the first completions in sorted order only: (1 2 3) (1 7 2) (1 7 8 9)
    tokens, delta = lookahead_scores(trie, trie.root, query, per_token=2)
    assert delta.tolist() == [1, 2]
    tokens, delta = lookahead_scores(trie, trie.root, query, limit=1)
    assert tokens.tolist() == [1] and delta.tolist() == [3]
    assert state_prefix(trie, trie.walk([4, 8, 9])) == (4, 8, 9)
    assert state_prefix(trie, trie.root) == ()
    with pytest.raises(CorpusError, match="do not lead"):
        lookahead_scores(trie, state, query, prefix_ids=[1])
    with pytest.raises(CorpusError, match="dead"):
        lookahead_scores(trie, -1, query)


def test_lookahead_eos_on_complete_state():
    trie = Trie.from_sequences([[1, 7], [1, 7, 8]], eos_id=EOS)
    tokens, delta = lookahead_scores(trie, trie.walk([1, 7]), [8], eos_id=EOS)
    assert tokens.tolist() == [8, EOS] and delta.tolist() == [1, 0]
    tokens, _ = lookahead_scores(trie, trie.walk([1]), [8], eos_id=EOS)
    assert tokens.tolist() == [7]


def test_reweight_math():
    p = np.array([0.5, 0.3, 0.2])
    d = np.array([0, 1, 3])
    raw = np.array([0.5, 0.3 ** 0.5, 0.2 ** 0.25])
    assert np.allclose(lookahead_reweight(p, d), raw / raw.sum())
    assert np.allclose(lookahead_reweight(p, d, normalize=False), raw)
    # an unnormalized input stays unnormalized
    assert np.allclose(lookahead_reweight(p * 2, d), (p * 2) ** (1 / (d + 1)))
    # log-probabilities: the log of the same
    assert np.allclose(lookahead_reweight(np.log(p), d, log=True), np.log(raw / raw.sum()))
    assert np.allclose(lookahead_reweight(np.log(p), d, log=True, normalize=False), np.log(raw))
    # delta 0 changes nothing; a zero probability stays zero; rows broadcast
    assert np.allclose(lookahead_reweight(p, np.zeros(3)), p)
    two = lookahead_reweight(np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]), d)
    assert two[0, 2] == 0 and np.allclose(two.sum(axis=1), 1)
    assert two[0, 1] > two[0, 0]  # a larger gain wins a tie
    logs = lookahead_reweight(np.array([np.log(0.5), np.log(0.5), -np.inf]), d, log=True)
    assert np.isneginf(logs[2]) and np.allclose(np.exp(logs).sum(), 1)
    with pytest.raises(CorpusError):
        lookahead_reweight(p, np.array([-1, 0, 0]))


# real generation --------------------------------------------------------------------------------

VOCAB = 64


def random_trie(seed: int, count: int = 30) -> tuple[Trie, set[tuple[int, ...]]]:
    rng = random.Random(seed)
    seqs = {tuple(rng.randrange(2, VOCAB) for _ in range(rng.randrange(1, 8))) for _ in range(count)}
    # a few sequences that are prefixes of others
    seqs |= {s[:2] for s in list(seqs)[:5] if len(s) > 2}
    return Trie.from_sequences(sorted(seqs), eos_id=EOS, vocab_size=VOCAB), seqs


def decoded(row: list[int]) -> tuple[int, ...]:
    assert EOS in row, row
    return tuple(row[:row.index(EOS)])


@pytest.fixture(scope="module")
def hf():
    """torch and transformers, offline: the models below are built from configs, nothing is downloaded."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        torch = pytest.importorskip("torch")
        transformers = pytest.importorskip("transformers")
        verbosity = transformers.logging.get_verbosity()
        transformers.logging.set_verbosity_error()
        try:
            yield torch, transformers
        finally:
            transformers.logging.set_verbosity(verbosity)


@pytest.fixture(scope="module")
def t5(hf):
    torch, transformers = hf
    torch.manual_seed(0)
    config = transformers.T5Config(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=1,
                                   num_decoder_layers=1, num_heads=2, pad_token_id=PAD, eos_token_id=EOS,
                                   decoder_start_token_id=START)
    return transformers.T5ForConditionalGeneration(config).eval()


@pytest.fixture(scope="module")
def gpt2(hf):
    torch, transformers = hf
    torch.manual_seed(1)
    config = transformers.GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=1, n_head=2, n_positions=64,
                                     bos_token_id=EOS, eos_token_id=EOS, pad_token_id=PAD)
    return transformers.GPT2LMHeadModel(config).eval()


def test_seq2seq_beam_search_stays_in_the_trie(hf, t5):
    torch, _ = hf
    trie, seqs = random_trie(11)
    fn = prefix_allowed_tokens_fn(trie, decoder_start_id=START, pad_id=PAD)
    input_ids = torch.randint(2, VOCAB, (3, 7), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = t5.generate(input_ids, prefix_allowed_tokens_fn=fn, num_beams=4, num_return_sequences=4,
                          max_new_tokens=20, eos_token_id=EOS, pad_token_id=PAD, decoder_start_token_id=START,
                          do_sample=False)
    assert out.shape[0] == 12
    found = [decoded(row[1:]) for row in out.tolist()]
    assert all(row[0] == START for row in out.tolist())
    assert all(f in seqs for f in found), [f for f in found if f not in seqs]
    for i in range(3):  # beams of one input are distinct
        assert len(set(found[4 * i:4 * i + 4])) == 4


def test_seq2seq_with_the_logits_processor(hf, t5):
    torch, transformers = hf
    trie, seqs = random_trie(12)
    processor = TrieLogitsProcessor(trie, decoder_start_id=START, pad_id=PAD)
    input_ids = torch.randint(2, VOCAB, (3, 5), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = t5.generate(input_ids, logits_processor=transformers.LogitsProcessorList([processor]),
                          num_beams=4, num_return_sequences=4, max_new_tokens=20, eos_token_id=EOS,
                          pad_token_id=PAD, decoder_start_token_id=START, do_sample=False)
        sampled = t5.generate(input_ids, logits_processor=transformers.LogitsProcessorList([processor]),
                              do_sample=True, max_new_tokens=20, eos_token_id=EOS, pad_token_id=PAD,
                              decoder_start_token_id=START)
    for rows in (out, sampled):
        found = [decoded(row[1:]) for row in rows.tolist()]
        assert all(f in seqs for f in found), [f for f in found if f not in seqs]


def test_decoder_only_left_padded_prompts_stay_in_the_trie(hf, gpt2):
    torch, _ = hf
    trie, seqs = random_trie(13)
    prompts = [[5, 9, 12, 40, 3], [7, 8], [33, 34, 35]]
    width = max(map(len, prompts))
    input_ids = torch.tensor([[PAD] * (width - len(p)) + p for p in prompts])
    attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    fn = prefix_allowed_tokens_fn(trie, decoder_start_id=None, prompt_length=width, pad_id=PAD)
    with torch.no_grad():
        out = gpt2.generate(input_ids, attention_mask=attention_mask, prefix_allowed_tokens_fn=fn, num_beams=4,
                            num_return_sequences=4, max_new_tokens=20, eos_token_id=EOS, pad_token_id=PAD,
                            do_sample=False)
        greedy = gpt2.generate(input_ids, attention_mask=attention_mask, prefix_allowed_tokens_fn=fn,
                               max_new_tokens=20, eos_token_id=EOS, pad_token_id=PAD, do_sample=False)
    assert out.shape[0] == 12
    for rows, per in ((out, 4), (greedy, 1)):
        rows = rows.tolist()
        for i, row in enumerate(rows):
            assert row[:width] == input_ids[i // per].tolist()
            assert decoded(row[width:]) in seqs
