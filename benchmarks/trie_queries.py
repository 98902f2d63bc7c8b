"""The query side of the trie benchmark: one tool, one trie file, timed in this (fresh) process.

    python -m benchmarks.trie_queries corpuskit TRIE PROBES.json OUT.json
    python -m benchmarks.trie_queries nested    TRIE.pkl PROBES.json OUT.json
    python -m benchmarks.trie_queries marisa    TRIE.marisa PROBES.json OUT.json

``bench_trie`` runs this once per tool and trie, under ``/usr/bin/time``, after reading
the trie file once (page cache warm). PROBES (written by ``bench_trie``) holds token-id
prefixes sampled from the input file:

* ``deep``: (prefix, next token) pairs cut at a uniform position 1..len-1 of a random
  sequence (a hypothesis in the middle of decoding); ``shallow``: the same cut at 0..2
  (the first decoding steps, where nodes have hundreds to thousands of children);
* ``mask`` and ``bitmask`` also for 40 hypotheses all at the root (decoding step 0);
* ``allowed``: one-token prefixes of frequent first tokens (ids 0-9, each 1-10% of all
  sequences) and of rare ones (the root's children with the fewest sequences), and
  random 2-6-token prefixes (``deep``).

Opening: the time of the first open and the median of ``--opens`` more; the growth of
this process's RSS (``/proc/self/statm``) from just before the first open (imports
done) to just after it, and after all the queries (pages of the file touched by them
count in RSS too, as shared file pages).

Timing: each operation is calibrated to run for at least ~50 ms per repeat, cycling
through different inputs; the garbage collector is off while timing (as ``timeit``
does); the JSON holds the median and best of the repeats, per call and, for batches,
per hypothesis. What each tool returns for the ``allowed`` prefixes is hashed (sorted),
so the harness can check that all tools agree.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BASELINES = Path(__file__).resolve().parent / "baselines"
_PAGE = os.sysconf("SC_PAGE_SIZE")
MIN_REPEAT_S = 0.05
REPEATS = 7
BATCHES = (40, 4096)
POOLS = ("deep", "shallow")


def rss_mb() -> float:
    """This process's resident set size now, in MB (MiB)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 2**20


def baseline(name: str) -> Any:
    """A module of ``benchmarks/baselines`` (they are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, BASELINES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(fn: Callable[[Any], Any], inputs: Sequence[Any], per: int = 1, repeats: int = REPEATS,
          min_s: float = MIN_REPEAT_S) -> dict:
    """``fn(x)`` over ``inputs`` (cycled): median and best seconds per call, in µs (and per item when ``per`` > 1)."""
    started = time.perf_counter()
    fn(inputs[0])
    once = time.perf_counter() - started
    loops = max(1, math.ceil(min_s / max(once, 1e-7)))
    if once > 0.2:
        repeats = 3
    n = len(inputs)
    results = []
    gc.disable()
    try:
        for r in range(repeats):
            chosen = [inputs[(r * loops + i) % n] for i in range(loops)]
            started = time.perf_counter()
            for x in chosen:
                fn(x)
            results.append((time.perf_counter() - started) / loops)
    finally:
        gc.enable()
    out = {"us_per_call": round(statistics.median(results) * 1e6, 3), "us_per_call_best": round(min(results) * 1e6, 3),
           "calls": loops * repeats, "distinct_inputs": min(n, loops * repeats)}
    if per > 1:
        out["per"] = per
        out["us_per_item"] = round(statistics.median(results) * 1e6 / per, 4)
        out["us_per_item_best"] = round(min(results) * 1e6 / per, 4)
    return out


def timed_each(fn: Callable[[Any], Any], inputs: Sequence[Any]) -> dict:
    """``timed`` for each input on its own: the median and the largest of their medians."""
    each = [timed(fn, [x], min_s=0.02, repeats=5)["us_per_call"] for x in inputs]
    return {"us_median": round(statistics.median(each), 3), "us_max": round(max(each), 3),
            "us_min": round(min(each), 3), "prefixes": len(each), "us_each": each}


def digest(lists: list[list[int]]) -> dict:
    """How many tokens the answers hold, and a hash of them (each sorted) to compare tools."""
    h = hashlib.sha1()
    for values in lists:
        h.update(json.dumps(sorted(int(v) for v in values)).encode())
    return {"tokens": sum(len(v) for v in lists), "sha1": h.hexdigest()[:16]}


def batches(items: list, size: int, most: int = 400) -> list[list]:
    """Consecutive slices of ``size`` items (at most ``most`` slices; the pool wraps around when short)."""
    count = min(most, max(1, len(items) // size))
    return [[items[(i * size + j) % len(items)] for j in range(size)] for i in range(count)]


def _completions_digest(found: list[list[tuple[int, ...]]]) -> str:
    """A hash of the completions of each prefix, in the order given."""
    return hashlib.sha1(json.dumps([[list(c) for c in each] for each in found]).encode()).hexdigest()[:16]


def _checks(trie: Any, pools: dict) -> dict:
    """Whether the batch calls agree with the one-state calls on the probe states (untimed).

    ``step_batch`` against ``step`` with the sampled token and with a token next to it
    (mostly not allowed); each ``mask`` row against ``allowed``; ``bitmask`` against ``mask``.
    """
    import numpy as np

    out = {}
    for pool, (states, tokens) in pools.items():
        states, tokens = states[:2000], tokens[:2000]
        others = (tokens + 1) % trie.vocab_size
        batch = np.concatenate((trie.step_batch(states, tokens), trie.step_batch(states, others)))
        one = [trie.step(int(s), int(t)) for s, t in zip(np.concatenate((states, states)),
                                                           np.concatenate((tokens, others)))]
        out[f"step_batch_equals_step/{pool}"] = bool(all((-1 if o is None else o) == b for o, b in zip(one, batch)))
        masks = trie.mask(states[:400])
        out[f"mask_equals_allowed/{pool}"] = bool(all(
            np.array_equal(np.flatnonzero(row), np.sort(trie.allowed(int(s)))) for row, s in zip(masks, states[:400])))
        bits = trie.bitmask(states[:400]).view(np.uint8)
        unpacked = np.unpackbits(bits, axis=1, bitorder="little")[:, :masks.shape[1]].astype(bool)
        out[f"bitmask_equals_mask/{pool}"] = bool(np.array_equal(unpacked, masks))
    return out


# ---------------------------------------------------------------- the tools

def run_corpuskit(path: str, probes: dict, opens: int) -> dict:
    import numpy as np

    from corpuskit.trie import Trie

    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    trie = Trie.open(path)
    first = time.perf_counter() - started
    after = rss_mb()
    times = []
    for _ in range(opens):
        started = time.perf_counter()
        other = Trie.open(path)
        times.append(time.perf_counter() - started)
        del other
    out: dict[str, Any] = {"open": {"first_ms": round(first * 1e3, 3),
                                    "median_ms": round(statistics.median(times) * 1e3, 3),
                                    "max_ms": round(max(times) * 1e3, 3), "opens": opens,
                                    "rss_before_mb": round(before, 1), "rss_growth_mb": round(after - before, 2)}}

    pools = {}
    for pool in POOLS:
        pairs = probes[pool]
        states = np.array([trie.walk(p[:-1]) for p in pairs], dtype=np.int64)
        tokens = np.array([p[-1] for p in pairs], dtype=np.int64)
        pools[pool] = (states, tokens)
        out.setdefault("pools", {})[pool] = {"states": len(states), "all_live": bool((states >= 0).all()),
                                             "all_steps_live": bool((trie.step_batch(states, tokens) >= 0).all()),
                                             "mean_allowed": round(float(np.mean([len(trie.allowed(int(s)))
                                                                                   for s in states[:2000]])), 1)}
    queries: dict[str, Any] = {}
    for pool, (states, tokens) in pools.items():
        for size in BATCHES:
            inputs = [(states[i:i + size].copy(), tokens[i:i + size].copy())
                      for i in range(0, len(states) - size + 1, size)][:400]
            queries[f"step_batch/{pool}/{size}"] = timed(lambda x: trie.step_batch(x[0], x[1]), inputs, per=size)
        inputs = [(states[i:i + 40].tolist(), tokens[i:i + 40].tolist()) for i in range(0, len(states) - 39, 40)][:400]
        queries[f"step_loop/{pool}/40"] = timed(lambda x: [trie.step(s, t) for s, t in zip(x[0], x[1])], inputs, per=40)
        batch40 = [states[i:i + 40].copy() for i in range(0, len(states) - 39, 40)][:400]
        queries[f"mask/{pool}/40"] = timed(trie.mask, batch40, per=40)
        queries[f"bitmask/{pool}/40"] = timed(trie.bitmask, batch40, per=40)
        if pool == "shallow":  # the first decoding step: every hypothesis at the root
            roots = [np.zeros(40, dtype=np.int64)]
            queries["mask/root/40"] = timed(trie.mask, roots, per=40)
            queries["bitmask/root/40"] = timed(trie.bitmask, roots, per=40)
        singles = [int(s) for s in states[:4000]]
        queries[f"allowed_state/{pool}"] = timed(trie.allowed, singles)
        queries[f"completions10/{pool}"] = timed(lambda s: trie.completions(s, limit=10), singles[:2000])
        queries[f"count/{pool}"] = timed(trie.count, singles)

    def allowed(prefix: list[int]) -> Any:
        state = trie.walk(prefix)
        return trie.allowed(state) if state is not None else np.zeros(0, dtype=np.int64)

    answers, counts, completions = {}, {}, {}
    for group, prefixes in probes["allowed"].items():
        queries[f"allowed/{group}"] = timed_each(allowed, prefixes)
        queries[f"allowed_list/{group}"] = timed_each(lambda p: allowed(p).tolist(), prefixes)
        answers[group] = digest([allowed(p).tolist() for p in prefixes])
        states = [trie.walk(p) for p in prefixes]
        counts[group] = [0 if s is None else trie.count(s) for s in states]
        completions[group] = _completions_digest([[] if s is None else trie.completions(s, limit=10) for s in states])
    out["checks"] = _checks(trie, pools)
    out.update({"queries": queries, "answers": answers, "counts": counts, "completions": completions,
                "rss_after_queries_mb": round(rss_mb(), 1),
                "rss_growth_after_queries_mb": round(rss_mb() - before, 1), "trie": repr(trie)})
    return out


def run_nested(path: str, probes: dict, opens: int) -> dict:
    nd = baseline("nested_dict_trie")
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    trie = nd.load(path)
    first = time.perf_counter() - started
    out: dict[str, Any] = {"open": {"first_ms": round(first * 1e3, 3), "opens": 0,
                                    "rss_before_mb": round(before, 1), "rss_growth_mb": round(rss_mb() - before, 2),
                                    "what": "pickle.load"}}
    queries: dict[str, Any] = {}
    for pool in POOLS:
        pairs = probes[pool]
        nodes = [nd.walk(trie, p[:-1]) for p in pairs]
        out.setdefault("pools", {})[pool] = {"states": len(nodes), "all_live": all(n is not None for n in nodes)}
        items = list(zip(nodes, (p[-1] for p in pairs)))
        for size in BATCHES:
            queries[f"step_loop/{pool}/{size}"] = timed(lambda b: [n.get(t) for n, t in b], batches(items, size),
                                                        per=size)
    answers = {}
    for group, prefixes in probes["allowed"].items():
        queries[f"allowed_list/{group}"] = timed_each(lambda p: nd.allowed(trie, p), prefixes)
        answers[group] = digest([nd.allowed(trie, p) for p in prefixes])
    out.update({"queries": queries, "answers": answers, "rss_after_queries_mb": round(rss_mb(), 1),
                "rss_growth_after_queries_mb": round(rss_mb() - before, 1)})
    return out


def run_marisa(path: str, probes: dict, opens: int) -> dict:
    mt = baseline("marisa_trie_baseline")
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    trie = mt.open_mmap(path)
    first = time.perf_counter() - started
    after = rss_mb()
    times = []
    for _ in range(opens):
        started = time.perf_counter()
        other = mt.open_mmap(path)
        times.append(time.perf_counter() - started)
        del other
    loads = []
    for _ in range(5):
        started = time.perf_counter()
        other = mt.load(path)
        loads.append(time.perf_counter() - started)
        del other
    out: dict[str, Any] = {"open": {"first_ms": round(first * 1e3, 3),
                                    "median_ms": round(statistics.median(times) * 1e3, 3),
                                    "max_ms": round(max(times) * 1e3, 3), "opens": opens,
                                    "rss_before_mb": round(before, 1), "rss_growth_mb": round(after - before, 2),
                                    "what": "Trie().mmap(path)",
                                    "load_median_ms": round(statistics.median(loads) * 1e3, 3)}}
    queries: dict[str, Any] = {}
    answers, counts, completions = {}, {}, {}
    for group, prefixes in probes["allowed"].items():
        queries[f"allowed_list/{group}"] = timed_each(lambda p: mt.allowed(trie, p), prefixes)
        answers[group] = digest([mt.allowed(trie, p) for p in prefixes])
        below = [trie.keys(mt.key(p)) for p in prefixes]
        counts[group] = [len(k) for k in below]
        # the first 10 sequences in token-id order (code points keep that order)
        completions[group] = _completions_digest([[tuple(ord(c) - mt.OFFSET for c in k) for k in sorted(keys)[:10]]
                                                  for keys in below])
        del below
    out.update({"queries": queries, "answers": answers, "counts": counts, "completions": completions,
                "rss_after_queries_mb": round(rss_mb(), 1),
                "rss_growth_after_queries_mb": round(rss_mb() - before, 1)})
    return out


TOOLS = {"corpuskit": run_corpuskit, "nested": run_nested, "marisa": run_marisa}


def reference_ms() -> float:
    """A fixed piece of Python and numpy work (best of 5, ms): how fast this machine ran at the time.

    It touches no trie, so differences between children show the machine's own noise
    (other virtual machines on the host, frequency), to read the query times against.
    """
    import numpy as np

    a = np.arange(4096, dtype=np.int64)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        d = {}
        for i in range(20000):
            d[i & 1023] = i
        for _ in range(200):
            np.searchsorted(a, a[::7])
        best = min(best, time.perf_counter() - started)
    return round(best * 1e3, 3)


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.trie_queries", description=__doc__.split("\n\n")[0])
    parser.add_argument("tool", choices=sorted(TOOLS))
    parser.add_argument("trie")
    parser.add_argument("probes")
    parser.add_argument("out")
    parser.add_argument("--opens", type=int, default=200, help="opens timed after the first (default 200)")
    args = parser.parse_args(argv)
    if args.tool == "corpuskit":  # imports before the RSS baseline, so it measures the open alone
        import numpy  # noqa: F401

        import corpuskit.trie  # noqa: F401
    elif args.tool == "marisa":
        import marisa_trie  # noqa: F401
    with open(args.probes) as f:
        probes = json.load(f)
    started = time.perf_counter()
    before = reference_ms()
    result = TOOLS[args.tool](args.trie, probes, args.opens)
    after = reference_ms()
    result["reference_ms"] = min(before, after)
    result["reference_ms_each"] = [before, after]
    result["seconds"] = round(time.perf_counter() - started, 1)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
