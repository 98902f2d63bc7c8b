"""The shuffle is an exact uniform permutation: statistical tests with fixed seeds.

Every test runs the real shuffle with many temporary buckets forced (the external
path), reads back where each input line landed, and checks a statistic against
its distribution under a uniform permutation (threshold p > 1e-3). Each
statistic is also computed on a plausible wrong shuffle, which must fail the same
threshold: the tests can fail.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from corpuskit import read, write
from corpuskit.shuffle import shuffle
from corpuskit.shuffle.keys import record_keys
from corpuskit.shuffle.order import sorted_order

# The plan subtracts this process's resident memory (~250M late in a full pytest run) from
# --mem, so in-process runs ask for 1G; the command-line tests in a process of their own use 256M.
MEM = "1G"
N = 40_000  # 10,000 disjoint groups of 4 lines; 4,000 lines in the first tenth
N_PAIRS = 10_000
P_MIN = 1e-3
SEEDS = [1, 2, 3]
ORDER_CODE = {p: k for k, p in enumerate(itertools.permutations(range(4)))}


# ---- running the shuffle and reading back positions ---------------------------------------------

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """``run(kind, seed, buckets, via)``: where each input line went (cached per module)."""
    folder = tmp_path_factory.mktemp("uniform")
    numbered = folder / "numbered.txt"
    numbered.write_bytes(b"".join(b"%d\n" % i for i in range(N)))
    paired = folder / "paired.txt"
    paired.write_bytes(b"".join(b"dup %d\n" % (i // 2) for i in range(2 * N_PAIRS)))
    cache: dict = {}

    def positions(kind: str, seed: int, buckets: int, via: str = "file") -> np.ndarray:
        key = (kind, seed, buckets, via)
        if key not in cache:
            src = numbered if kind == "numbered" else paired
            out = folder / f"{kind}-{seed}-{buckets}-{via}.txt"
            if via == "file":
                shuffle(src, out, mem=MEM, seed=seed, buckets=buckets)
            else:
                (read(src) | shuffle(mem=MEM, seed=seed, buckets=buckets) | write(out)).run(progress=False)
            lines = out.read_bytes().split(b"\n")
            assert lines[-1] == b""
            if kind == "numbered":
                ids = np.array(lines[:-1], dtype=np.int64)
                assert np.array_equal(np.sort(ids), np.arange(N)), "lines lost or duplicated"
                pos = np.empty(N, dtype=np.int64)
                pos[ids] = np.arange(N)
                cache[key] = pos
            else:
                ids = np.array([line[4:] for line in lines[:-1]], dtype=np.int64)
                assert np.array_equal(np.bincount(ids, minlength=N_PAIRS), np.full(N_PAIRS, 2))
                cache[key] = np.argsort(ids, kind="stable").reshape(-1, 2)  # output positions per pair
        return cache[key]

    return positions


# ---- the statistics -------------------------------------------------------------------------------

def order_p(pos: np.ndarray) -> float:
    """Chi-square p-value: is the relative order of each group of 4 consecutive lines uniform over 24?"""
    groups = pos[: len(pos) // 4 * 4].reshape(-1, 4)
    ranks = np.argsort(np.argsort(groups, axis=1), axis=1)
    codes = np.array([ORDER_CODE[tuple(r)] for r in ranks.tolist()])
    counts = np.bincount(codes, minlength=24)
    assert counts.sum() >= 6000
    return stats.chisquare(counts).pvalue


def first_tenth_p(pos: np.ndarray) -> float:
    """KS p-value: are the output positions of the first tenth of the input uniform over the output?"""
    n = len(pos)
    return stats.kstest((pos[: n // 10] + 0.5) / n, "uniform").pvalue


def pair_stats(pairs: np.ndarray, n: int) -> tuple[int, float, float]:
    """Adjacent pairs, mean distance / n, and the KS p-value of distance / n.

    For two given records of a uniform permutation of n, P(adjacent) = 2/n and the
    distance / n follows the triangular law with CDF 1 - (1 - x)^2 (mean 1/3).
    """
    distance = np.abs(pairs[:, 0] - pairs[:, 1])
    adjacent = int((distance == 1).sum())
    p = stats.kstest(distance / n, lambda x: 1 - (1 - np.clip(x, 0, 1)) ** 2).pvalue
    return adjacent, float(distance.mean() / n), p


def pairs_ok(pairs: np.ndarray, n: int) -> bool:
    adjacent, mean, p = pair_stats(pairs, n)
    expected = len(pairs) * 2 / n  # = 1 here; P(Poisson(1) > 8) ~ 1e-6
    return adjacent <= expected + 7 and abs(mean - 1 / 3) < 0.01 and p > P_MIN


# ---- wrong shuffles the statistics must reject ---------------------------------------------------

def positions_of(order: np.ndarray) -> np.ndarray:
    pos = np.empty(len(order), dtype=np.int64)
    pos[order] = np.arange(len(order))
    return pos


def within_blocks(n: int, block: int = 100, seed: int = 0) -> np.ndarray:
    """Shuffled only within blocks of ``block`` lines (a local shuffle buffer)."""
    rng = np.random.default_rng(seed)
    return positions_of(np.concatenate([rng.permutation(np.arange(s, min(s + block, n)))
                                        for s in range(0, n, block)]))


def buckets_unsorted(n: int, buckets: int = 16, seed: int = 0) -> np.ndarray:
    """Scattered to random buckets, but a bucket's lines kept in input order (no in-bucket sort)."""
    rng = np.random.default_rng(seed)
    return positions_of(np.argsort(rng.integers(0, buckets, n), kind="stable"))


def unmixed_keys(n: int, seed: int = 0) -> np.ndarray:
    """Sorted by a seeded counter without the hash's mixing steps (a Weyl sequence)."""
    keys = np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(seed * 7919 + 1)
    return positions_of(np.argsort(keys, kind="stable"))


def content_keyed_pairs(n_pairs: int, seed: int = 0) -> np.ndarray:
    """Keys hashed from the line's content: identical lines get the same key and stay together."""
    rng = np.random.default_rng(seed)
    slot = rng.permutation(n_pairs)
    return np.stack([2 * slot, 2 * slot + 1], axis=1)


def pairs_within_blocks(n_pairs: int, block: int = 100, seed: int = 0) -> np.ndarray:
    pos = within_blocks(2 * n_pairs, block, seed)
    return pos.reshape(-1, 2)


# ---- (a) the relative order of consecutive lines ------------------------------------------------

@pytest.mark.parametrize("buckets", [16, 64])
@pytest.mark.parametrize("seed", SEEDS)
def test_order_of_consecutive_lines_is_uniform(run, seed, buckets):
    assert order_p(run("numbered", seed, buckets)) > P_MIN


def test_order_of_consecutive_lines_is_uniform_in_the_stage(run):
    assert order_p(run("numbered", 1, 16, via="stage")) > P_MIN


@pytest.mark.parametrize("wrong", [buckets_unsorted, unmixed_keys])
def test_order_statistic_rejects_wrong_shuffles(wrong):
    assert order_p(wrong(N)) < P_MIN


# ---- (b) where the start of the input goes ---------------------------------------------------------

@pytest.mark.parametrize("buckets", [16, 64])
@pytest.mark.parametrize("seed", SEEDS)
def test_first_tenth_lands_uniformly(run, seed, buckets):
    assert first_tenth_p(run("numbered", seed, buckets)) > P_MIN


@pytest.mark.parametrize("wrong", [within_blocks, buckets_unsorted])
def test_first_tenth_statistic_rejects_wrong_shuffles(wrong):
    assert first_tenth_p(wrong(N)) < P_MIN


def test_thresholds_pass_a_true_random_permutation():
    """The thresholds are not so tight that a good permutation (numpy's) fails them."""
    rng = np.random.default_rng(5)
    pos = positions_of(rng.permutation(N))
    assert order_p(pos) > P_MIN and first_tenth_p(pos) > P_MIN
    assert pairs_ok(positions_of(rng.permutation(2 * N_PAIRS)).reshape(-1, 2), 2 * N_PAIRS)


# ---- (c) identical lines are not kept together -------------------------------------------------------

@pytest.mark.parametrize("buckets", [16, 64])
@pytest.mark.parametrize("seed", SEEDS)
def test_identical_lines_are_separated(run, seed, buckets):
    pairs = run("paired", seed, buckets)
    adjacent, mean, p = pair_stats(pairs, 2 * N_PAIRS)
    assert adjacent <= 8, f"{adjacent} of {N_PAIRS} identical pairs adjacent (expected ~1)"
    assert abs(mean - 1 / 3) < 0.01, f"mean distance {mean:.4f} * N, expected N/3"
    assert p > P_MIN


@pytest.mark.parametrize("wrong", [content_keyed_pairs, pairs_within_blocks])
def test_pair_statistics_reject_wrong_shuffles(wrong):
    assert not pairs_ok(wrong(N_PAIRS), 2 * N_PAIRS)


# ---- across seeds -------------------------------------------------------------------------------------

def test_permutations_are_uniform_across_seeds():
    """The 24 orders of a 4-record input are equally likely over seeds 0, 1, 2, ... (the sort keys)."""
    counts = np.zeros(24, dtype=np.int64)
    for seed in range(12_000):
        counts[ORDER_CODE[tuple(np.argsort(sorted_order(record_keys(seed, 0, 4))).tolist())]] += 1
    assert stats.chisquare(counts).pvalue > P_MIN


def test_small_file_permutation_follows_the_keys(tmp_path: Path):
    """End to end, the order of a small file is the order of its keys, for every seed and bucket count."""
    src = tmp_path / "in.txt"
    src.write_bytes(b"0\n1\n2\n3\n")
    for seed in range(20):
        expected = b"".join(b"%d\n" % i for i in sorted_order(record_keys(seed, 0, 4)).tolist())
        for buckets in (1, 4):
            out = tmp_path / f"out-{seed}-{buckets}.txt"
            shuffle(src, out, mem=MEM, seed=seed, buckets=buckets)
            assert out.read_bytes() == expected


def test_different_seeds_give_different_orders(run):
    assert not np.array_equal(run("numbered", 1, 16), run("numbered", 2, 16))
