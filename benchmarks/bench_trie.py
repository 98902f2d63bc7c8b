"""Time ``corpuskit trie``: build, file size, open, and queries, against a nested-dict trie and marisa-trie.

    python -m benchmarks.bench_trie                                   # 100k, 1M, 5M sequences (~15 min here)
    python -m benchmarks.bench_trie --big --wait-quiet 600            # and 20M; wait for a quiet machine
    python -m benchmarks.bench_trie --sizes 100k,1M --repeat 1        # a quick look (~3 min)
    python -m benchmarks.bench_trie --sizes 1M --nested-sizes '' --marisa-sizes ''   # corpuskit alone

Input (``trie_data.py``): synthetic token-id sequences, ids Zipf-distributed over a
vocabulary of 21,128, lengths uniform in 5..40, fixed seed; one line of space-separated
ids per sequence, in ``benchmarks/data/``. Smaller files are prefixes of larger ones.

What runs, each in a fresh child under ``/usr/bin/time -v`` (or ``os.wait4``), after
``sync`` and a read of its input (page cache warm), with a thread summing the RSS of
every process below this one (the process tree; bench_tokenize's sampler):

* build: ``corpuskit trie build IDS -o OUT --tokenizer ids --vocab-size 21128 --mem 4G``
  at every size; ``baselines/marisa_trie_baseline.py build`` (``--marisa-sizes``, default
  100k,1M,5M); ``baselines/nested_dict_trie.py build`` then ``load`` (``--nested-sizes``,
  default 100k,1M: at 1M it already takes ~5 GB);
* queries: ``python -m benchmarks.trie_queries TOOL FILE PROBES OUT`` for each tool and
  size: open time and RSS growth, ``step_batch`` (40 and 4096 hypotheses), ``mask`` and
  ``bitmask`` for 40 (batch 8 x beam 5, vocabulary 21,128), ``allowed``, ``count`` and
  ``completions(limit=10)`` on states sampled from the input (``trie_queries.py`` says how);
  ``allowed`` for one-token prefixes against both baselines, whose answers must agree.

``--wait-quiet SECONDS`` waits before each child until the machine's other CPU use is
under 0.25 cores (at most SECONDS); the load seen while a child ran is recorded either
way ("other load"). Results: tables (markdown) and the targets of the issue with
verdicts on stdout, and ``benchmarks/results/trie.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import measure as m
from benchmarks.measure import HERE, REPO, TreeSampler, wait_quiet
from benchmarks.trie_data import VOCAB, count_label, ensure_ids, parse_count

WORK = HERE / "work" / "trie"
RESULTS = HERE / "results" / "trie.json"
BASELINES = HERE / "baselines"
COUNTERS = ("involuntary_switches", "voluntary_switches", "major_faults", "minor_faults", "fs_outputs")

# the targets of the issue, as numbers
BUILD_20M_MAX_S = 600.0          # build 20M sequences under --mem 4G in under 10 minutes (2 cores)
BYTES_PER_TOKEN_MAX = 2.5        # file at most 2.5 bytes per input token (and smaller than marisa-trie)
OPEN_MAX_MS = 10.0               # Trie.open under 10 ms ...
OPEN_RSS_MAX_MB = 10.0           # ... and RSS growth under 10 MB, at any size
STEP_MAX_US = 1.0                # step_batch: at most 1 µs per hypothesis step
MASK_MAX_US = 50.0               # mask for 40 hypotheses under 0.05 ms
FLAT_MAX = 1.25                  # our reading of "flat": largest size / smallest size <= 1.25 (as bench_shuffle)

# queries whose answer itself grows with the number of sequences (more children at the root and
# below the frequent first tokens): left out of the "flat" verdict, reported beside it
# (mask and bitmask cost grows with the allowed tokens of the states: even for "deep" states their
# mean count grows from 43 at 100k to 663 at 20M, because cuts after the first token land on nodes
# with thousands of children in a large trie)
GROWING_ANSWERS = ("allowed_list/frequent", "mask/deep/40", "bitmask/deep/40", "mask/shallow/40",
                   "bitmask/shallow/40", "mask/root/40", "bitmask/root/40")

PROBE_POOL = 16384               # (prefix, next token) pairs per pool
ALLOWED_DEEP = 50                # random 2-6-token prefixes for `allowed`
CLAIM_LINE = "- {claim}: {measured} (target {target}): {VERDICT}"


# ---------------------------------------------------------------- one child

def snapshot() -> Path:
    """A copy of ``corpuskit/`` in WORK, which every child then imports (``PYTHONPATH``) instead of the tree.

    The trie code may change while a long run goes on (other work on the same checkout);
    the copy makes every measurement of one run measure the same code.
    """
    target = WORK / "snapshot"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(REPO / "corpuskit", target / "corpuskit", ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _pythonpath() -> str:
    return os.pathsep.join(str(p) for p in (SNAPSHOT, REPO) if p is not None)


SNAPSHOT: Path | None = None


def run(argv: list[str], args: argparse.Namespace, warm: list[Path], stdout: Path | None = None) -> dict:
    """Syncs and warms ``warm``, waits for quiet if asked, then runs ``argv`` in a fresh child and measures it."""
    os.sync()
    warm_s = sum(m.warm(p) for p in warm)
    quiet = wait_quiet(args.wait_quiet) if args.wait_quiet > 0 else None
    sampler = TreeSampler(args.sample_every)
    sampler.start()
    try:
        child = m.run_child(argv, args.timer, WORK, stdout_path=stdout,
                            env={**os.environ, "PYTHONPATH": _pythonpath()})
    finally:
        tree = sampler.stop()
    return {"argv": argv, **child.times(), "cpu_util": child.cpu_util(), **child.load(), **tree,
            **child.counters(COUNTERS), "warm_read_s": round(warm_s, 2), "wait_quiet": quiet}


def _say(size: str, what: str, r: dict, extra: str = "") -> None:
    waited = f" (waited {r['wait_quiet']['waited_s']}s for quiet)" if r.get("wait_quiet") else ""
    print(f"{size:<5} {what:<34} wall {r['wall']:8.2f}s  cpu {r['cpu']:7.2f}s  peak {r['peak_rss_mb']:7.0f} MB "
          f"(tree {r['tree_rss_mb']:6.0f})  other load {r['other_load_cores']:.2f}{waited}{extra}", flush=True)


# ---------------------------------------------------------------- builds

def build_corpuskit(ids: Path, out: Path, args: argparse.Namespace) -> dict:
    out.unlink(missing_ok=True)
    tmp = WORK / "tmp"
    tmp.mkdir(exist_ok=True)
    argv = [m.corpuskit_bin(), "trie", "build", str(ids), "-o", str(out), "--tokenizer", "ids",
            "--vocab-size", str(VOCAB), "--mem", args.mem, "--tmp", str(tmp), "--force", "-q"]
    r = run(argv, args, [ids])
    with open(f"{out}.manifest.json") as f:
        manifest = json.load(f)
    r.update({"file_bytes": out.stat().st_size, "arrays": file_arrays(out), "manifest": {k: manifest.get(k) for k in (
        "sequences", "duplicates", "records", "tokens", "nodes", "seconds", "peak_rss", "sorted_runs_spilled")}})
    return r


def file_arrays(path: Path) -> dict:
    """Each array of a trie file: its dtype, length and bytes (from the header; nothing else is read)."""
    from corpuskit.trie import fileformat

    arrays, _, mapped = fileformat.load(str(path))
    out = {name: {"dtype": a.dtype.str, "length": int(a.size), "bytes": int(a.nbytes)} for name, a in arrays.items()}
    del arrays
    if mapped is not None:
        mapped.close()
    return out


def build_marisa(ids: Path, out: Path, args: argparse.Namespace) -> dict:
    out.unlink(missing_ok=True)
    report = WORK / "baseline-report.json"
    r = run([sys.executable, str(BASELINES / "marisa_trie_baseline.py"), "build", str(ids), str(out)], args, [ids],
            stdout=report)
    r.update({"file_bytes": out.stat().st_size, "report": json.loads(report.read_text())})
    return r


def build_nested(ids: Path, out: Path, args: argparse.Namespace) -> tuple[dict, dict]:
    out.unlink(missing_ok=True)
    report = WORK / "baseline-report.json"
    script = str(BASELINES / "nested_dict_trie.py")
    built = run([sys.executable, script, "build", str(ids), str(out)], args, [ids], stdout=report)
    built.update({"file_bytes": out.stat().st_size, "report": json.loads(report.read_text())})
    loaded = run([sys.executable, script, "load", str(out)], args, [out], stdout=report)
    loaded["report"] = json.loads(report.read_text())
    return built, loaded


# ---------------------------------------------------------------- probes and queries

def sample_sequences(path: Path, n: int, rng: np.random.Generator) -> list[list[int]]:
    """``n`` sequences of the file, chosen at random: the line after a random byte offset.

    Lines are independent, so the line *after* the one an offset lands in is not biased
    towards long lines.
    """
    size = path.stat().st_size
    out = []
    with open(path, "rb") as f:
        for offset in np.sort(rng.integers(0, size, n)).tolist():
            f.seek(offset)
            f.readline()
            line = f.readline() or (f.seek(0) or f.readline())
            out.append([int(x) for x in line.split()])
    order = rng.permutation(n)
    return [out[i] for i in order]


def make_probes(ids: Path, trie_path: Path, seed: int) -> dict:
    """The prefixes every tool is queried with (see ``trie_queries.py``)."""
    from corpuskit.trie import ROOT, Trie

    rng = np.random.default_rng([seed, 7])
    seqs = sample_sequences(ids, 2 * PROBE_POOL + ALLOWED_DEEP, rng)
    deep, shallow = seqs[:PROBE_POOL], seqs[PROBE_POOL:2 * PROBE_POOL]
    cut_deep = [int(rng.integers(1, len(s))) for s in deep]
    cut_shallow = [int(rng.integers(0, 3)) for _ in shallow]
    trie = Trie.open(trie_path)
    firsts = trie.allowed(ROOT)
    counts = np.array([trie.count(trie.step(ROOT, int(t))) for t in firsts.tolist()])
    # the root's children with the fewest sequences (ties in random order)
    rare = firsts[np.lexsort((rng.random(len(counts)), counts))[:10]].tolist()
    deep_allowed = [s[:int(rng.integers(2, 7))] for s in seqs[2 * PROBE_POOL:]]
    return {
        "seed": seed, "pool": PROBE_POOL,
        "deep": [s[:c + 1] for s, c in zip(deep, cut_deep)],
        "shallow": [s[:c + 1] for s, c in zip(shallow, cut_shallow)],
        "allowed": {"frequent": [[t] for t in range(10)], "rare": [[int(t)] for t in rare], "deep": deep_allowed},
        "first_token_counts": {"frequent": [trie.count(st) if (st := trie.walk([t])) is not None else 0
                                            for t in range(10)],
                               "rare": sorted(counts.tolist())[:10], "root_children": len(firsts)},
    }


def query(tool: str, path: Path, probes: Path, args: argparse.Namespace) -> dict:
    out = WORK / f"queries-{tool}.json"
    out.unlink(missing_ok=True)
    r = run([sys.executable, "-m", "benchmarks.trie_queries", tool, str(path), str(probes), str(out),
             "--opens", str(args.opens)], args, [path])
    r["result"] = json.loads(out.read_text())
    out.unlink()
    return r


# ---------------------------------------------------------------- summary

def _per_item(q: dict) -> float:
    """The figure a query is judged by: µs per hypothesis for batches, else µs per call (median of prefixes)."""
    return q.get("us_per_item", q.get("us_per_call", q.get("us_median")))


def summarize(sizes: dict[str, dict]) -> dict:
    """Per size and tool: the build, the file, the open and the queries, flattened for tables and claims."""
    out: dict[str, dict] = {}
    for size, s in sizes.items():
        row: dict[str, Any] = {"sequences": s["input"]["sequences"], "input_tokens": s["input"]["tokens"]}
        for tool, b in s.get("build", {}).items():
            rounds = b if isinstance(b, list) else [b]
            best = min(rounds, key=lambda r: r["wall"])
            row.setdefault("build", {})[tool] = {
                "wall_median": m.median_of(rounds, "wall"), "wall_min": best["wall"],
                "s_per_million": round(m.wall_median(rounds) / (s["input"]["sequences"] / 1e6), 2),
                "cpu_median": m.median_of(rounds, "cpu"), "peak_rss_mb": max(r["peak_rss_mb"] for r in rounds),
                "tree_rss_mb": max(r["tree_rss_mb"] for r in rounds), "file_bytes": rounds[-1]["file_bytes"],
                "bytes_per_input_token": round(rounds[-1]["file_bytes"] / s["input"]["tokens"], 3),
                "other_load_cores": m.median_of(rounds, "other_load_cores", 2), "rounds": len(rounds)}
        if "nested_load" in s:
            row["nested_load"] = {"wall": s["nested_load"]["wall"], "load_s": s["nested_load"]["report"]["load_s"],
                                  "peak_rss_mb": s["nested_load"]["peak_rss_mb"]}
        for tool, rounds in s.get("queries", {}).items():
            res = rounds[0]["result"]
            opens = [q["result"]["open"] for q in rounds]
            row.setdefault("open", {})[tool] = {
                **res["open"], "first_ms": max(o["first_ms"] for o in opens),
                "median_ms": m.median_of(opens, "median_ms") if "median_ms" in res["open"] else None,
                "rss_growth_mb": max(o["rss_growth_mb"] for o in opens),
                "child_peak_rss_mb": max(q["peak_rss_mb"] for q in rounds),
                "rss_growth_after_queries_mb": max(q["result"]["rss_growth_after_queries_mb"] for q in rounds),
                "rounds": len(rounds)}
            row.setdefault("queries", {})[tool] = {
                k: round(float(np.median([_per_item(q["result"]["queries"][k]) for q in rounds])), 4)
                for k in res["queries"]}
            if len(rounds) > 1:
                row.setdefault("queries_spread", {})[tool] = {
                    k: [_per_item(q["result"]["queries"][k]) for q in rounds] for k in res["queries"]}
            row.setdefault("reference_ms", {})[tool] = [q["result"]["reference_ms"] for q in rounds]
            if "pools" in res and tool == "corpuskit":
                row["mean_allowed"] = {pool: p.get("mean_allowed") for pool, p in res["pools"].items()}
            row.setdefault("other_load_cores", {})[tool] = [q["other_load_cores"] for q in rounds]
            row.setdefault("answers", {})[tool] = res["answers"]
            for what in ("counts", "completions"):
                if what in res:
                    row.setdefault(what, {})[tool] = res[what]
            if "checks" in res:
                row["checks"] = res["checks"]
        for what, key in (("answers", "answers_agree"), ("counts", "counts_agree"),
                          ("completions", "completions_agree")):
            found = row.get(what, {})
            if found:
                row[key] = {g: len({json.dumps(a[g]) for a in found.values() if g in a}) == 1
                            for g in next(iter(found.values()))}
        out[size] = row
    return out


def _verdict(holds: bool | None) -> str:
    return "not measured" if holds is None else "holds" if holds else "fails"


def claims(summary: dict[str, dict], args: argparse.Namespace) -> list[dict]:
    """Each target of the issue with what was measured and a verdict."""
    out = []

    def claim(text, measured, target, holds, **extra):
        out.append({"claim": text, "measured": measured, "target": target, "holds": holds,
                    "verdict": extra.pop("verdict", _verdict(holds)), **extra})

    ck_build = {size: s["build"]["corpuskit"] for size, s in summary.items() if "corpuskit" in s.get("build", {})}
    if "20M" in ck_build:
        b = ck_build["20M"]
        holds = b["wall_median"] <= BUILD_20M_MAX_S
        claim(f"build 20M sequences with --mem {args.mem} in under 10 minutes on 2 cores",
              f"{b['wall_median']:.0f} s, peak RSS {b['tree_rss_mb']:.0f} MB (process tree)", "< 600 s", holds,
              verdict=_verdict(holds) + ("" if b["tree_rss_mb"] <= 4096 else f"; but peak RSS is over --mem {args.mem}"))
    else:
        largest = max(ck_build, key=lambda k: summary[k]["sequences"]) if ck_build else None
        guess = f"{ck_build[largest]['s_per_million'] * 20:.0f} s if 20M ran at {largest}'s s/M" if largest else "-"
        claim(f"build 20M sequences with --mem {args.mem} in under 10 minutes on 2 cores",
              f"not run (use --big); {guess}", "< 600 s", None)
    for size, b in ck_build.items():
        claim(f"file at most {BYTES_PER_TOKEN_MAX} bytes per input token at {size}",
              f"{b['bytes_per_input_token']:.2f} B/token ({b['file_bytes'] / 1e6:.1f} MB)",
              f"<= {BYTES_PER_TOKEN_MAX}", b["bytes_per_input_token"] <= BYTES_PER_TOKEN_MAX)
        marisa = summary[size]["build"].get("marisa")
        if marisa:
            claim(f"file smaller than marisa-trie's at {size}",
                  f"{b['file_bytes'] / 1e6:.1f} MB vs {marisa['file_bytes'] / 1e6:.1f} MB "
                  f"(ratio {m.ratio(b['file_bytes'], marisa['file_bytes'])})", "ratio < 1",
                  b["file_bytes"] < marisa["file_bytes"])
    opens = {size: s["open"]["corpuskit"] for size, s in summary.items() if "corpuskit" in s.get("open", {})}
    if opens:
        worst_ms = max(max(o["first_ms"], o["median_ms"]) for o in opens.values())
        worst_mb = max(o["rss_growth_mb"] for o in opens.values())
        claim(f"Trie.open under {OPEN_MAX_MS:g} ms with RSS growth under {OPEN_RSS_MAX_MB:g} MB at any size",
              "; ".join(f"{k}: {o['first_ms']:.2f} ms first, {o['median_ms']:.3f} ms median, "
                        f"+{o['rss_growth_mb']:.2f} MB" for k, o in opens.items()),
              f"< {OPEN_MAX_MS:g} ms, < {OPEN_RSS_MAX_MB:g} MB",
              worst_ms < OPEN_MAX_MS and worst_mb < OPEN_RSS_MAX_MB)
    queries = {size: s["queries"]["corpuskit"] for size, s in summary.items() if "corpuskit" in s.get("queries", {})}

    def over_sizes(key):
        return {size: q[key] for size, q in queries.items() if key in q}

    for pool in ("deep", "shallow"):
        for batch in (40, 4096):
            values = over_sizes(f"step_batch/{pool}/{batch}")
            if values:
                claim(f"step_batch at most {STEP_MAX_US:g} µs per hypothesis ({batch} {pool} states)",
                      ", ".join(f"{k}: {v:.3f} µs" for k, v in values.items()), f"<= {STEP_MAX_US:g} µs",
                      max(values.values()) <= STEP_MAX_US)
    for pool in ("deep", "shallow", "root"):
        values = {k: v * 40 for k, v in over_sizes(f"mask/{pool}/40").items()}
        if values:
            claim(f"mask for 40 hypotheses (8 x 5, vocab {VOCAB}) under {MASK_MAX_US / 1000:g} ms ({pool} states)",
                  ", ".join(f"{k}: {v / 1000:.3f} ms" for k, v in values.items()), f"< {MASK_MAX_US / 1000:g} ms",
                  max(values.values()) < MASK_MAX_US)
    if len(queries) >= 2:
        order = sorted(queries, key=lambda k: summary[k]["sequences"])
        small, large = order[0], order[-1]
        ratios = {key: m.ratio(queries[large][key], queries[small][key])
                  for key in queries[small] if key in queries[large] and queries[small][key]}
        judged = {k: v for k, v in ratios.items() if k not in GROWING_ANSWERS}
        slow = {k: v for k, v in judged.items() if v > FLAT_MAX}
        claim(f"query time flat from {small} to {large}",
              f"{len(judged) - len(slow)} of {len(judged)} queries within {FLAT_MAX}x; "
              + (", ".join(f"{k} {v}x" for k, v in sorted(slow.items(), key=lambda kv: -kv[1])) or "none slower")
              + f"; worst {max(judged.values())}x. Not judged (their answer grows with the trie): "
              + ", ".join(f"{k} {ratios[k]}x" for k in GROWING_ANSWERS if k in ratios),
              f"each query at {large} <= {FLAT_MAX} x its time at {small} (our reading of 'flat')",
              not slow, ratios=ratios)
        mid = [k for k in order if summary[k]["sequences"] >= 1_000_000 and k != large]
        if mid and mid[0] != small:
            base = mid[0]
            later = {key: m.ratio(queries[large][key], queries[base][key]) for key in judged
                     if key in queries[base] and queries[base][key]}
            slow = {k: v for k, v in later.items() if v > FLAT_MAX}
            claim(f"query time flat from {base} to {large} (both tries larger than the 32 MiB L3 cache)",
                  f"{len(later) - len(slow)} of {len(later)} queries within {FLAT_MAX}x; "
                  + (", ".join(f"{k} {v}x" for k, v in sorted(slow.items(), key=lambda kv: -kv[1])) or "none slower")
                  + f"; worst {max(later.values())}x",
                  f"each query at {large} <= {FLAT_MAX} x its time at {base}", not slow, ratios=later,
                  verdict=("holds" if not slow else "fails") + " (supplementary: the issue's range starts at 100k)")
    if ck_build:
        claim("build time per million sequences",
              ", ".join(f"{k}: {b['s_per_million']:.1f} s/M" for k, b in ck_build.items()), "report only", None,
              verdict="reported")
    return out


# ---------------------------------------------------------------- tables

def _times(r: float) -> str:
    return f"{r:,.0f}x" if r >= 10 else f"{r:.2g}x"


def tables(summary: dict[str, dict]) -> str:
    """The markdown tables of the README's Trie section."""
    lines = [("| sequences | tool | wall s | s per M seq | CPU s | peak RSS MB (tree) | file MB | bytes / input token "
             "| other load |"), "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    names = {"corpuskit": "`corpuskit trie build`", "marisa": "marisa-trie", "nested": "nested dict (+ pickle)"}
    for size, s in summary.items():
        for tool, b in s.get("build", {}).items():
            lines.append(f"| {size} | {names[tool]} | {b['wall_median']:.1f} | {b['s_per_million']:.1f} | "
                         f"{b['cpu_median']:.1f} | {b['tree_rss_mb']:.0f} | {b['file_bytes'] / 1e6:.1f} | "
                         f"{b['bytes_per_input_token']:.2f} | {b['other_load_cores']:.2f} |")
        if "nested_load" in s:
            n = s["nested_load"]
            lines.append(f"| {size} | nested dict: `pickle.load` | {n['wall']:.1f} (load {n['load_s']:.1f}) | | | "
                         f"{n['peak_rss_mb']:.0f} | | | |")
    lines += ["", "| sequences | tool | first open ms | median open ms | RSS growth MB | RSS growth after queries MB |",
              "| --- | --- | --- | --- | --- | --- |"]
    for size, s in summary.items():
        for tool, o in s.get("open", {}).items():
            median = "-" if o.get("median_ms") is None else f"{o['median_ms']:.3f}"
            what = f" ({o['what']})" if "what" in o else ""
            lines.append(f"| {size} | {tool}{what} | {o['first_ms']:.2f} | {median} | {o['rss_growth_mb']:.2f} | "
                         f"{o['rss_growth_after_queries_mb']:.1f} |")
    sizes = [k for k, s in summary.items() if "corpuskit" in s.get("queries", {})]
    if sizes:
        lines += ["", "corpuskit queries (µs; per hypothesis for batches, per call otherwise):", "",
                  "| query | " + " | ".join(sizes) + " |", "| --- |" + " --- |" * len(sizes)]
        keys = list(summary[sizes[0]]["queries"]["corpuskit"])
        for key in keys:
            if key.startswith(("allowed/", "allowed_list/")):
                continue
            lines.append(f"| {key} | " + " | ".join(
                f"{summary[k]['queries']['corpuskit'].get(key, float('nan')):.3f}" for k in sizes) + " |")
        for pool in ("deep", "shallow"):
            lines.append(f"| mean allowed tokens of a {pool} state (not a time) | " + " | ".join(
                f"{summary[k].get('mean_allowed', {}).get(pool, float('nan')):.0f}" for k in sizes) + " |")
        lines.append("| reference loop, no trie (ms; machine speed) | " + " | ".join(
            f"{np.median(summary[k]['reference_ms']['corpuskit']):.2f}" for k in sizes) + " |")
        lines += ["", "`allowed` for a prefix, from the root (µs per prefix, median over the prefixes):", "",
                  ("| prefixes | sequences | corpuskit (array view) | corpuskit `.tolist()` | nested dict | marisa-trie "
                  "| marisa / corpuskit list | answers agree |"), "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for group in ("frequent", "rare", "deep"):
            for size in sizes:
                q = summary[size]["queries"]
                ck = q["corpuskit"].get(f"allowed/{group}")
                ck_list = q["corpuskit"].get(f"allowed_list/{group}")
                nested = q.get("nested", {}).get(f"allowed_list/{group}")
                marisa = q.get("marisa", {}).get(f"allowed_list/{group}")
                agree = summary[size].get("answers_agree", {}).get(group)
                lines.append(f"| {group} | {size} | {ck:.2f} | {ck_list:.2f} | "
                             f"{'-' if nested is None else f'{nested:.2f}'} | "
                             f"{'-' if marisa is None else f'{marisa:,.1f}'} | "
                             f"{'-' if marisa is None else _times(marisa / ck_list)} | "
                             f"{'yes' if agree else 'NO' if agree is not None else '-'} |")
        nested_sizes = [k for k in sizes if "nested" in summary[k]["queries"]]
        if nested_sizes:
            lines += ["", "Stepping hypotheses in a nested dict, as a Python loop (µs per hypothesis):", "",
                      "| query | " + " | ".join(nested_sizes) + " |", "| --- |" + " --- |" * len(nested_sizes)]
            for key in summary[nested_sizes[0]]["queries"]["nested"]:
                if key.startswith("step_loop"):
                    lines.append(f"| {key} | " + " | ".join(
                        f"{summary[k]['queries']['nested'][key]:.3f}" for k in nested_sizes) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = m.arg_parser("trie", __doc__)
    parser.add_argument("--sizes", default="100k,1M,5M", help="numbers of sequences (default 100k,1M,5M)")
    parser.add_argument("--big", action="store_true", help="add 20M to --sizes")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of each corpuskit build (default 1)")
    parser.add_argument("--query-rounds", type=int, default=3,
                        help="rounds of corpuskit's queries at every size, interleaved (default 3; the baselines "
                             "are queried in the first round only)")
    parser.add_argument("--marisa-sizes", default="100k,1M,5M", help="sizes with a marisa-trie ('' for none)")
    parser.add_argument("--nested-sizes", default="100k,1M",
                        help="sizes with a nested-dict trie ('' for none; 1M needs ~5 GB, 5M ~25 GB)")
    parser.add_argument("--mem", default="4G", help="--mem of corpuskit trie build (default 4G)")
    parser.add_argument("--opens", type=int, default=200, help="Trie.open calls timed after the first (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the input and of the probes")
    parser.add_argument("--keep", action="store_true", help="keep the trie files in benchmarks/work/trie")
    parser.add_argument("--resummarize", metavar="JSON",
                        help="measure nothing: recompute the summary, claims and tables of this results JSON "
                             "from its runs (after changing how they are judged), and rewrite it")
    parser.add_argument("--no-snapshot", action="store_true",
                        help="measure the corpuskit of the working tree as it is when each child starts, not a "
                             "copy taken at the start of the run")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="before each child, wait up to this long for the machine's load to drop under "
                             "0.25 cores (default 0: don't wait)")
    parser.add_argument("--sample-every", type=float, default=0.2,
                        help="seconds between samples of the process tree's memory (default 0.2)")
    return m.parse_args(parser, RESULTS, argv)


def build_all(size: str, args: argparse.Namespace, marisa_sizes: set, nested_sizes: set) -> tuple[dict, dict]:
    """Every build at one size: corpuskit (``--repeat`` rounds), then marisa-trie and the nested dict if asked."""
    ids, meta = ensure_ids(parse_count(size), args.seed)
    s = {"input": {"path": str(ids.relative_to(REPO)), **meta}}
    ck = WORK / f"out-{size}.trie"
    s["build"] = {"corpuskit": []}
    for r in range(args.repeat):
        b = build_corpuskit(ids, ck, args)
        s["build"]["corpuskit"].append(b)
        _say(size, f"corpuskit trie build (round {r + 1})", b,
             f"  {b['file_bytes'] / 1e6:.1f} MB, {b['file_bytes'] / meta['tokens']:.2f} B/token, "
             f"{b['manifest']['sorted_runs_spilled']} runs spilled")
    paths = {"corpuskit": ck}
    if size in marisa_sizes:
        paths["marisa"] = WORK / f"out-{size}.marisa"
        b = s["build"]["marisa"] = build_marisa(ids, paths["marisa"], args)
        _say(size, "marisa-trie build", b, f"  {b['file_bytes'] / 1e6:.1f} MB")
    if size in nested_sizes:
        paths["nested"] = WORK / f"out-{size}.pkl"
        b, loaded = build_nested(ids, paths["nested"], args)
        s["build"]["nested"], s["nested_load"] = b, loaded
        _say(size, "nested dict build + pickle", b, f"  {b['file_bytes'] / 1e6:.1f} MB pickle "
             f"(build {b['report']['build_s']} s, pickle {b['report']['pickle_s']} s)")
        _say(size, "nested dict pickle.load", loaded, f"  load {loaded['report']['load_s']} s")
    return s, paths


def _labels(text: str) -> list[str]:
    return [count_label(parse_count(x)) for x in text.split(",") if x.strip()]


def _trie_sources_sha(root: Path) -> str:
    """A short hash of ``root/corpuskit/trie/*.py`` (names and bytes)."""
    h = hashlib.sha256()
    for path in sorted((root / "corpuskit" / "trie").glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def report(summary: dict, args: argparse.Namespace) -> tuple[list[dict], str]:
    """Prints the tables and the claims; returns them."""
    verdicts = claims(summary, args)
    text = tables(summary)
    print()
    print(text)
    print()
    for c in verdicts:
        print(CLAIM_LINE.format(**c, VERDICT=c["verdict"].upper()))
    return verdicts, text


def resummarize(path: Path, args: argparse.Namespace) -> None:
    """Recomputes the summary, claims and tables of a results JSON from its runs, and rewrites it."""
    with open(path) as f:
        result = json.load(f)
    args.mem = result["settings"]["mem"]
    summary = summarize(result["runs"])
    verdicts, text = report(summary, args)
    result.update({"summary": summary, "claims": verdicts, "tables_markdown": text,
                   "targets": _targets(), "resummarized": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    m.write_json(path, result)


def _targets() -> dict:
    return {"build_20m_max_s": BUILD_20M_MAX_S, "bytes_per_token_max": BYTES_PER_TOKEN_MAX,
            "open_max_ms": OPEN_MAX_MS, "open_rss_max_mb": OPEN_RSS_MAX_MB, "step_max_us": STEP_MAX_US,
            "mask_max_us": MASK_MAX_US, "flat_max": FLAT_MAX, "not_judged_for_flat": list(GROWING_ANSWERS)}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.resummarize:
        resummarize(Path(args.resummarize), args)
        return
    sizes = _labels(args.sizes) + (["20M"] if args.big and "20M" not in _labels(args.sizes) else [])
    sizes.sort(key=parse_count)
    marisa_sizes, nested_sizes = set(_labels(args.marisa_sizes)), set(_labels(args.nested_sizes))
    WORK.mkdir(parents=True, exist_ok=True)
    m.clean_outputs(WORK)
    global SNAPSHOT
    if not args.no_snapshot:
        SNAPSHOT = snapshot()
        sys.path.insert(0, str(SNAPSHOT))  # this process's own corpuskit calls (probes, file layout) too
    session = m.Session.begin("trie", args.timer, argv, WORK)
    trie_sha = _trie_sources_sha(SNAPSHOT or REPO)
    results: dict[str, dict] = {}
    paths: dict[str, dict[str, Path]] = {}
    try:
        for size in sizes:
            results[size], paths[size] = build_all(size, args, marisa_sizes, nested_sizes)
        # queries: rounds over every size, in an order that rotates (as bench_cat's tools take turns)
        for size in sizes:
            ids = REPO / results[size]["input"]["path"]
            probes = make_probes(ids, paths[size]["corpuskit"], args.seed)
            results[size]["probes"] = {"first_token_counts": probes["first_token_counts"],
                                       "allowed": probes["allowed"] if size == sizes[0]
                                       else {"rare": probes["allowed"]["rare"]}}
            (WORK / f"probes-{size}.json").write_text(json.dumps(probes))
            results[size]["queries"] = {}
        for r in range(args.query_rounds):
            for size in m.rotate(sizes, r):
                tools_ = [t for t in paths[size] if t == "corpuskit" or r == 0]   # baselines: one round
                for tool in m.rotate(tools_, r):
                    q = query(tool, paths[size][tool], WORK / f"probes-{size}.json", args)
                    q["round"] = r + 1
                    results[size]["queries"].setdefault(tool, []).append(q)
                    o = q["result"]["open"]
                    _say(size, f"{tool} queries (round {r + 1})", q,
                         f"  open {o['first_ms']:.2f} ms, +{o['rss_growth_mb']:.2f} MB, "
                         f"reference loop {q['result']['reference_ms']:.1f} ms")
    finally:
        for size, made in paths.items():
            (WORK / f"probes-{size}.json").unlink(missing_ok=True)
            if not args.keep:
                for path in made.values():
                    path.unlink(missing_ok=True)
                    Path(f"{path}.manifest.json").unlink(missing_ok=True)

    summary = summarize(results)
    verdicts, text = report(summary, args)

    import importlib.metadata

    result = session.header()
    result.update({
        "corpuskit_trie_sources_sha256": trie_sha,
        "corpuskit_measured": str(SNAPSHOT / "corpuskit") if SNAPSHOT else str(REPO / "corpuskit"),
        "working_tree_trie_sha256_at_end": _trie_sources_sha(REPO),
        "versions": {"marisa-trie": importlib.metadata.version("marisa-trie")},
        "settings": {"mem": args.mem, "vocab_size": VOCAB, "probe_pool": PROBE_POOL, "opens": args.opens,
                     "wait_quiet_s": args.wait_quiet, "sample_every_s": args.sample_every,
                     "marisa_sizes": sorted(marisa_sizes, key=parse_count),
                     "nested_sizes": sorted(nested_sizes, key=parse_count)},
        "targets": _targets(),
        "summary": summary, "claims": verdicts, "tables_markdown": text, "runs": results,
    })
    m.write_json(Path(args.out), result)


if __name__ == "__main__":
    main()
