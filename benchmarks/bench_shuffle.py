"""Time ``corpuskit shuffle`` against GNU ``shuf``, ``sort -R``, ``terashuf`` (if on PATH) and ``cp``.

    python -m benchmarks.bench_shuffle                                  # 2G, 1 round, per-GB at 1G/2G/4G
    python -m benchmarks.bench_shuffle --repeat 2 --slow-rounds 1       # what results/shuffle.json holds
    python -m benchmarks.bench_shuffle --size 200M --scale '' --repeat 1  # a quick look
    python -m benchmarks.bench_shuffle --tools ck-ext,ck-ext-z --scale 1G,2G,3G

The method is bench_cat's (both use ``benchmarks/measure.py``): each measurement is
one fresh child under ``/usr/bin/time -v`` (or ``os.wait4`` without it), so wall, user,
sys and peak RSS are its own. Before each one the previous output and temp files are
deleted, ``sync`` runs and the input is read once (page cache warm); with ``--drop-caches``
the page cache is emptied first (root only), so every tool starts with only its input
cached. Tools take turns in each round and the order rotates between rounds. The machine's
other load (from /proc/stat) is recorded per run.

After each run, outside the timed region, the output is checked to be a permutation
of the input: same size, same line count and same order-independent sum of xxh64 of
every line (``corpuskit.shuffle.verify.fingerprint``, what ``corpuskit verify`` does;
the input's fingerprint is computed once). Then it is deleted. While a tool runs, a
thread samples the size of the temp folder every 0.2 s (peak temp space).

Time per GB: ``corpuskit shuffle --mem 256M`` on prefixes of the corpus (``--scale``),
each beside the two-pass copy of the same file (``cp F tmp; cp tmp out``, the I/O of any
two-pass shuffle); make_corpus makes a smaller corpus as a prefix of a larger one with the same seed.

Results: a table on stdout and ``benchmarks/results/shuffle.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import measure as m
from benchmarks.make_corpus import ensure_corpus, parse_size, size_label
from benchmarks.measure import HERE, REPO

WORK = HERE / "work" / "shuffle"
TMP = WORK / "tmp"
RESULTS = HERE / "results" / "shuffle.json"
# the child's counters kept in each run, besides its times
COUNTERS = ("involuntary_switches", "voluntary_switches", "major_faults", "minor_faults", "fs_inputs", "fs_outputs")

# the claims of the issue, as numbers
TERASHUF_MAX, TERASHUF_AIM = 0.5, 1 / 3   # corpuskit --mem 256M wall <= 0.5 x terashuf MEMORY=0.25 (aim 1/3)
SHUF_MAX = 0.5                            # corpuskit, file fits in --mem: wall <= 0.5 x GNU shuf
FLAT_PER_GB_MAX = 1.25                    # our reading of "flat": slowest s/GB <= 1.25 x fastest s/GB

# the summary table and the claims on stdout
TABLE_HEADER = (f"{'input':<6} {'tool':<36} {'wall med':>9} {'wall min':>9} {'user':>7} {'sys':>7} {'peak RSS':>9} "
                f"{'temp':>8} {'s/GiB':>7} {'other':>6}")
CLAIM_LINE = "- {claim}: {ratio} = {median_ratio} (best-of {best_ratio}, target {target}): {VERDICT}"


@dataclass
class Tool:
    """One command to time: its key, display name, argv, environment and how it reads and writes."""

    key: str
    name: str
    argv: list[str]          # {src}, {dst}, {tmp} and {mem} are filled in
    stdin_is_input: bool = False
    stdout_is_output: bool = False
    env: dict = field(default_factory=dict)
    corpuskit_mem: str | None = None   # the --mem of a corpuskit run (peak RSS must stay under it)


def tools(mem: str, fit_mem: str) -> list[Tool]:
    """Every tool to time: corpuskit at ``mem`` and at each ``fit_mem``, then shuf, sort -R, terashuf, cp, cat."""
    ck = m.corpuskit_bin()
    out = [
        Tool("ck-ext", f"corpuskit --mem {mem}",
             [ck, "shuffle", "{src}", "{dst}", "--mem", mem, "--seed", "1", "--tmp", "{tmp}", "-q"],
             corpuskit_mem=mem),
        Tool("ck-ext-z", f"corpuskit --mem {mem} --compress-temp",
             [ck, "shuffle", "{src}", "{dst}", "--mem", mem, "--seed", "1", "--tmp", "{tmp}", "--compress-temp", "-q"],
             corpuskit_mem=mem),
    ]
    # --tmp only so that a spill, if the plan makes one, is seen (peak temp) and cleaned here
    for i, fm in enumerate(x.strip() for x in fit_mem.split(",") if x.strip()):
        out.append(Tool("ck-mem" if i == 0 else f"ck-mem-{fm}", f"corpuskit --mem {fm}",
                        [ck, "shuffle", "{src}", "{dst}", "--mem", fm, "--seed", "1", "--tmp", "{tmp}", "-q"],
                        corpuskit_mem=fm))
    out += [
        Tool("shuf", "GNU shuf", ["shuf", "{src}", "-o", "{dst}"]),
        Tool("sort-R", f"sort -R -S {mem}", ["sort", "-R", "-S", mem, "-T", "{tmp}", "{src}", "-o", "{dst}"]),
    ]
    if shutil.which("terashuf"):
        out.append(Tool("terashuf", "terashuf MEMORY=0.25", ["terashuf"], stdin_is_input=True,
                        stdout_is_output=True, env={"MEMORY": "0.25", "SEED": "1", "TMPDIR": "{tmp}"}))
    out.append(Tool("cp", "cp", ["cp", "{src}", "{dst}"]))
    # the two-pass floor as a shuffle meets it: the input copied to a temp file, that file to the output
    two_copies = 'cp "$0" "$1/copy" && cp "$1/copy" "$2" && rm "$1/copy"'
    out.append(Tool("cp2", "cp F tmp; cp tmp out", ["sh", "-c", two_copies, "{src}", "{tmp}", "{dst}"]))
    # a second one-pass floor: bench_cat saw page-cache writes vary 2-4x between tries on this VM
    out.append(Tool("cat", "cat a > b", ["cat", "{src}"], stdout_is_output=True))
    return out


# ---------------------------------------------------------------- one measurement

def _dir_bytes(path: Path) -> int:
    """The total size of the files under ``path`` (those that vanish meanwhile count 0)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


class TempWatcher(threading.Thread):
    """Samples the bytes under a folder until stopped; keeps the largest."""

    def __init__(self, path: Path, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.path, self.every, self.peak = path, every, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        """Samples until ``stop``."""
        while not self._stop_event.wait(self.every):
            self.peak = max(self.peak, _dir_bytes(self.path))

    def stop(self) -> int:
        """Stops sampling; the largest size seen, a last sample included."""
        self._stop_event.set()
        self.join()
        return max(self.peak, _dir_bytes(self.path))


def run_tool(tool: Tool, src: Path, dst: Path, timer: str) -> dict:
    """One timed run of ``tool``: times, CPU use, the machine's other load, peak temp space and counters."""
    fill = {"src": str(src), "dst": str(dst), "tmp": str(TMP)}
    argv = [a.format(**fill) for a in tool.argv]
    env = {**os.environ, **{k: v.format(**fill) for k, v in tool.env.items()}}
    watcher = TempWatcher(TMP)
    watcher.start()
    try:
        child = m.run_child(argv, timer, WORK, stdin_path=src if tool.stdin_is_input else None,
                            stdout_path=dst if tool.stdout_is_output else None, env=env)
    finally:
        peak_temp = watcher.stop()
    return {"argv": argv, **child.times(), "cpu_util": child.cpu_util(), **child.load(),
            "peak_temp_mb": round(peak_temp / 2**20, 1), **child.counters(COUNTERS)}


_FINGERPRINTS: dict[str, dict] = {}


def fingerprint(path: Path) -> dict:
    """The order-independent fingerprint of a text file's lines (what ``corpuskit verify`` compares)."""
    from corpuskit.shuffle.verify import fingerprint as fp

    return fp([str(path)], format="text").as_dict()


def input_fingerprint(src: Path) -> dict:
    """``fingerprint`` of an input, computed once per file."""
    if str(src) not in _FINGERPRINTS:
        _FINGERPRINTS[str(src)] = fingerprint(src)
    return _FINGERPRINTS[str(src)]


def measure(tool: Tool, src: Path, corpus: dict, timer: str, verify: bool, drop: bool = False,
            settle: float = 0.0) -> dict:
    """Cleans up, syncs, warms ``src``, waits ``settle`` s, times ``tool`` on it and checks its
    output is a permutation of ``src``."""
    dst = WORK / "out.txt"
    _clean()
    warm_s = m.sync_and_warm(src, drop=drop)
    time.sleep(settle)
    result = run_tool(tool, src, dst, timer)
    result["temp_left_mb"] = round(_dir_bytes(TMP) / 2**20, 1)   # temp files the tool did not remove
    size = dst.stat().st_size
    result.update({"output_bytes": size, "warm_read_s": round(warm_s, 2)})
    ok = size == corpus["bytes"]
    if verify and ok:
        started = time.perf_counter()
        got, want = fingerprint(dst), input_fingerprint(src)
        result.update({"output_fingerprint": got, "verify_s": round(time.perf_counter() - started, 1)})
        ok = got == want
    result["output_ok"] = ok
    _clean()
    if not ok:
        raise RuntimeError(f"{tool.name} wrote an output that is not a permutation of its input: {result}")
    return result


def _clean() -> None:
    """Deletes the outputs and empties the temp folder."""
    m.clean_outputs(WORK)
    shutil.rmtree(TMP, ignore_errors=True)
    TMP.mkdir(parents=True, exist_ok=True)


def plan_of(tool: Tool, src: Path) -> dict | None:
    """corpuskit's plan for this run, computed by a fresh process that imported the CLI (not timed)."""
    if tool.corpuskit_mem is None:
        return None
    code = ("import json, sys, corpuskit.cli\n"
            "from corpuskit.io.paths import detect\n"
            "from corpuskit.shuffle.plan import make_plan\n"
            "from corpuskit.units import parse_size\n"
            "p = make_plan([detect(sys.argv[1], None)], parse_size(sys.argv[2]), sys.argv[3] == '1')\n"
            "print(json.dumps({**p.as_dict(), 'describe': p.describe()}))\n")
    try:
        out = subprocess.run([sys.executable, "-c", code, str(src), tool.corpuskit_mem,
                              "1" if "--compress-temp" in tool.argv else "0"],
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)
    except (subprocess.CalledProcessError, ValueError) as e:
        return {"error": str(e)}


# ---------------------------------------------------------------- summary

def summarize(runs: list[dict], input_bytes: int) -> dict:
    """One tool on one input over its rounds: wall, time per GiB, throughput, peaks and medians."""
    s = m.wall_summary(runs)
    s.update({"s_per_gib_median": round(m.wall_median(runs) / (input_bytes / 2**30), 3),
              "mb_per_s_median": m.mb_per_s_median(runs, input_bytes),
              "peak_rss_mb_max": max(r["peak_rss_mb"] for r in runs),
              "peak_temp_mb_max": max(r["peak_temp_mb"] for r in runs)})
    for k in ("cpu", "user", "sys", "cpu_util", "other_load_cores", "minor_faults", "voluntary_switches",
              "involuntary_switches", "fs_outputs"):
        have = [r for r in runs if r.get(k) is not None]
        if have:
            s[f"{k}_median"] = m.median_of(have, k)
    return s


def table_row(size: str, key: str, s: dict) -> str:
    """One line of the summary table (under TABLE_HEADER): a tool on one input."""
    return (f"{size:<6} {s['name']:<36} {s['wall_median']:>8.2f}s {s['wall_min']:>8.2f}s "
            f"{s['user_median']:>6.2f}s {s['sys_median']:>6.2f}s {s['peak_rss_mb_max']:>7.0f}MB "
            f"{s['peak_temp_mb_max']:>6.0f}MB {s['s_per_gib_median']:>7.2f} {s['other_load_cores_median']:>5.2f}c")


def parse_mem_mib(text: str) -> float:
    """A size such as ``256M``, in MiB."""
    return parse_size(text) / 2**20


def claims(summary: dict, big: str, scale: list[str], mem: str, plans: dict) -> list[dict]:
    """Each claim of the issue with its measured ratio (median rounds, and best-of rounds) and verdict."""
    out = []
    main = summary.get(big, {})
    ext, ext_z = main.get("ck-ext"), main.get("ck-ext-z")
    shuf, sortr, tera, cp = main.get("shuf"), main.get("sort-R"), main.get("terashuf"), main.get("cp")

    def entry(claim, ratio_what, target, med, best, cpu, holds, verdict, **extra):
        out.append({"claim": claim, "ratio": ratio_what, "target": target, "median_ratio": med, "best_ratio": best,
                    "cpu_ratio": cpu, "holds": holds, "verdict": verdict, **extra})

    if ext:
        claim = f"corpuskit --mem {mem} at most 0.5x (aim 1/3) the wall time of terashuf MEMORY=0.25 on {big}"
        if tera:
            med = m.ratio(ext["wall_median"], tera["wall_median"])
            best = m.ratio(ext["wall_min"], tera["wall_min"])
            holds = med <= TERASHUF_MAX
            verdict = ("holds, and meets the 1/3 aim" if med <= TERASHUF_AIM else "holds (not the 1/3 aim)") \
                if holds else "fails"
            entry(claim, "corpuskit / terashuf", "<= 0.5 (aim <= 0.33)", med, best,
                  m.ratio(ext["cpu_median"], tera["cpu_median"]), holds, verdict)
        else:
            others = {}
            for key, s in (("shuf", shuf), ("sort-R", sortr)):
                if s:
                    others[key] = {"median_ratio": m.ratio(ext["wall_median"], s["wall_median"]),
                                   "best_ratio": m.ratio(ext["wall_min"], s["wall_min"]),
                                   "cpu_ratio": m.ratio(ext["cpu_median"], s["cpu_median"])}
            entry(claim, "corpuskit / terashuf", "<= 0.5 (aim <= 0.33)", None, None, None, None,
                  ("not measured: terashuf not among --tools" if shutil.which("terashuf") else
                   "not measured: no terashuf on PATH") + " (ratios to GNU shuf and sort -R given instead)",
                  substitutes=others)
    for key, fit_ in main.items():
        if not key.startswith("ck-mem") or not shuf:
            continue
        plan = plans.get(f"{big}/{key}") or {}
        one_pass = plan.get("bits") == 0
        med, best = m.ratio(fit_["wall_median"], shuf["wall_median"]), m.ratio(fit_["wall_min"], shuf["wall_min"])
        holds, holds_best = med <= SHUF_MAX, best <= SHUF_MAX
        verdict = "holds" if holds else "fails"
        if holds != holds_best:
            verdict += " (best-of rounds would say otherwise: within noise)"
        if not one_pass:
            verdict = (f"not the claim's case: corpuskit's plan at --mem {fit_['corpuskit_mem']} does not fit this file "
                       f"in memory ({plan.get('buckets')} buckets on disk); ratio {verdict}")
        entry(f"{fit_['name']} (file fits in --mem) at most 0.5x the wall time of GNU shuf on {big}",
              "corpuskit / shuf", f"<= {SHUF_MAX}", med, best, m.ratio(fit_["cpu_median"], shuf["cpu_median"]),
              holds if one_pass else None, verdict, one_pass=one_pass)
    for floor_key, floor in (("cp", cp), ("cat", main.get("cat"))):
        if not floor:
            continue
        for key, s in main.items():
            if key.startswith("ck-"):
                entry(f"{key}: ratio to the two-pass floor (2 x {floor_key}) on {big}", f"{key} / (2 x {floor_key})",
                      "report only", m.ratio(s["wall_median"], 2 * floor["wall_median"]),
                      m.ratio(s["wall_min"], 2 * floor["wall_min"]), m.ratio(s["cpu_median"], 2 * floor["cpu_median"]),
                      None, "reported")
    if ext and ext_z:
        med = m.ratio(ext_z["wall_median"], ext["wall_median"])
        entry(f"--compress-temp off by default (decided by measurement) on {big}",
              "compressed / uncompressed temp", "default off is right when > 1", med,
              m.ratio(ext_z["wall_min"], ext["wall_min"]), m.ratio(ext_z["cpu_median"], ext["cpu_median"]),
              med > 1, "off by default is supported" if med > 1 else "compressing would be faster: default should be on",
              temp_mb={"uncompressed": ext["peak_temp_mb_max"], "compressed": ext_z["peak_temp_mb_max"]})
    per_gb = {size: summary[size]["ck-ext"]["s_per_gib_median"] for size in scale
              if "ck-ext" in summary.get(size, {})}
    if len(per_gb) >= 2:
        r = m.ratio(max(per_gb.values()), min(per_gb.values()))
        entry(f"corpuskit --mem {mem}: time per GB flat over {', '.join(per_gb)}",
              "slowest s/GiB / fastest s/GiB", f"<= {FLAT_PER_GB_MAX} (our reading of 'flat')", r, None, None,
              r <= FLAT_PER_GB_MAX, "holds" if r <= FLAT_PER_GB_MAX else "fails", s_per_gib=per_gb)
    over_floor = {size: m.ratio(summary[size]["ck-ext"]["wall_median"], summary[size]["cp2"]["wall_median"])
                  for size in per_gb if "cp2" in summary[size]}
    if len(over_floor) >= 2:
        r = m.ratio(max(over_floor.values()), min(over_floor.values()))
        entry(f"corpuskit --mem {mem} over the two-pass copy (cp F tmp; cp tmp out) of the same size, "
              f"flat over {', '.join(over_floor)}", "largest / smallest ratio to the floor",
              f"<= {FLAT_PER_GB_MAX}", r, None, None, r <= FLAT_PER_GB_MAX,
              "holds" if r <= FLAT_PER_GB_MAX else "fails", ratio_to_floor=over_floor,
              floor_s_per_gib={size: summary[size]["cp2"]["s_per_gib_median"] for size in over_floor})
    worst = []
    for size, tools_ in summary.items():
        for key, s in tools_.items():
            if s.get("corpuskit_mem"):
                limit = parse_mem_mib(s["corpuskit_mem"])
                worst.append({"input": size, "tool": key, "peak_rss_mib": s["peak_rss_mb_max"],
                              "mem_mib": limit, "under": s["peak_rss_mb_max"] < limit})
    if worst:
        holds = all(w["under"] for w in worst)
        entry("corpuskit peak RSS under --mem (every run)", "peak RSS / --mem", "< 1",
              max(m.ratio(w["peak_rss_mib"], w["mem_mib"]) for w in worst), None, None, holds,
              "holds" if holds else "fails", runs=worst)
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = m.arg_parser("shuffle", __doc__)
    parser.add_argument("--size", default="2G", help="the input every tool shuffles (default 2G)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds on --size (default 1)")
    parser.add_argument("--scale", default="1G,2G,4G",
                        help="sizes for corpuskit's time per GB, comma-separated ('' to skip; default 1G,2G,4G)")
    parser.add_argument("--scale-repeat", type=int, default=1, help="rounds per --scale size (default 1)")
    parser.add_argument("--tools", default="", help="comma-separated tool keys to run on --size (default all): "
                                                    "ck-ext, ck-ext-z, ck-mem, ck-mem-<M> (second and later "
                                                    "--fit-mem), shuf, sort-R, terashuf, cp, cat")
    parser.add_argument("--mem", default="256M", help="--mem of the external corpuskit runs, and sort's -S")
    parser.add_argument("--fit-mem", default="8G,12G",
                        help="--mem of the corpuskit runs meant to fit in memory, comma-separated (default 8G,12G: "
                             "at 8G corpuskit's plan still spills a 2 GiB file to 4 buckets)")
    parser.add_argument("--slow-rounds", type=int, default=1,
                        help="rounds for sort -R, the slowest tool by far (default 1; rounds after that skip it)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed")
    parser.add_argument("--no-verify", action="store_true", help="check output sizes only, not fingerprints")
    parser.add_argument("--drop-caches", action="store_true",
                        help="empty the page cache before each run (root only): the same start for every tool")
    parser.add_argument("--settle", type=float, default=0.0,
                        help="seconds to wait before each run, so that a VM with free page reporting has handed "
                             "the memory freed by the last run back to its host: every tool then writes into "
                             "fresh pages, its worst case there (default 0)")
    return m.parse_args(parser, RESULTS, argv)


def load_corpora(sizes: list[str], seed: int) -> dict[str, dict]:
    """size -> the text corpus file (made if missing) and its bytes, records and line lengths."""
    corpora: dict[str, dict] = {}
    for size in dict.fromkeys(sizes):
        path = ensure_corpus(size, "text", seed)
        info = m.read_meta(path)
        corpora[size] = {"path": str(path.relative_to(REPO)), "bytes": info["bytes"], "records": info["records"],
                         "line_bytes": info.get("line_bytes")}
    return corpora


def run_rounds(size: str, corpus: dict, tools_: list[Tool], rounds: int, args: argparse.Namespace) -> list[dict]:
    """Every round of ``tools_`` on one corpus, taking turns in a rotating order (sort -R only in the first rounds)."""
    runs = []
    src = REPO / corpus["path"]
    for r in range(rounds):
        for tool in m.rotate(tools_, r):
            if tool.key == "sort-R" and r >= args.slow_rounds:
                continue
            result = measure(tool, src, corpus, args.timer, not args.no_verify, args.drop_caches, args.settle)
            result.update({"input": size, "tool": tool.key, "name": tool.name, "round": r + 1})
            runs.append(result)
            print(f"{size:<5} round {r + 1}  {tool.name:<36} wall {result['wall']:7.2f}s  "
                  f"user {result['user']:6.2f}s sys {result['sys']:6.2f}s  peak {result['peak_rss_mb']:7.1f} MB  "
                  f"temp {result['peak_temp_mb']:6.0f} MB  other load {result['other_load_cores']:.2f} cores",
                  flush=True)
    return runs


def summarize_all(runs: list[dict], corpora: dict[str, dict], all_tools: list[Tool]) -> dict[str, dict]:
    """size -> tool key -> its summary (with its wall relative to ck-ext), for every pair that ran."""
    summary: dict[str, dict] = {}
    for size, corpus in corpora.items():
        for tool in all_tools:
            mine = [r for r in runs if r["input"] == size and r["tool"] == tool.key]
            if mine:
                s = summarize(mine, corpus["bytes"])
                s.update({"name": tool.name, "corpuskit_mem": tool.corpuskit_mem})
                summary.setdefault(size, {})[tool.key] = s
        base = summary.get(size, {}).get("ck-ext")
        for s in summary.get(size, {}).values():
            if base:
                s["wall_ratio_to_ck_ext"] = m.ratio(s["wall_median"], base["wall_median"])
    return summary


def main(argv: list[str] | None = None) -> None:
    """Runs the benchmark; prints the table and the claims and writes the results JSON."""
    args = parse_args(argv)
    big = size_label(parse_size(args.size))
    scale = [size_label(parse_size(s)) for s in args.scale.split(",") if s.strip()]
    WORK.mkdir(parents=True, exist_ok=True)
    TMP.mkdir(parents=True, exist_ok=True)

    all_tools = tools(args.mem, args.fit_mem)
    by_key = {t.key: t for t in all_tools}
    wanted = [k.strip() for k in args.tools.split(",") if k.strip()]
    chosen = [by_key[k] for k in wanted if k in by_key] if wanted else all_tools
    have_terashuf = shutil.which("terashuf") is not None
    if not have_terashuf:
        print("note: no terashuf on PATH: it is not measured; GNU shuf and sort -R are reported instead",
              file=sys.stderr)

    corpora = load_corpora([big] + scale, args.seed)

    # (size, tool, rounds) in the order they run: the main comparison, then the scale runs not already done
    jobs: list[tuple[str, list[Tool], int]] = [(big, chosen, args.repeat)]
    ext = by_key["ck-ext"]
    for size in scale:
        if size != big or ext not in chosen:
            jobs.append((size, [ext, by_key["cp2"]], args.scale_repeat))

    session = m.Session.begin("shuffle", args.timer, argv, WORK)
    plans = {}
    runs: list[dict] = []
    for size, tools_, rounds in jobs:
        corpus = corpora[size]
        for tool in tools_:
            if tool.corpuskit_mem:
                plans[f"{size}/{tool.key}"] = plan_of(tool, REPO / corpus["path"])
        runs += run_rounds(size, corpus, tools_, rounds, args)

    summary = summarize_all(runs, corpora, all_tools)
    verdicts = claims(summary, big, scale, args.mem, plans)

    m.print_report(TABLE_HEADER, summary, table_row, verdicts, CLAIM_LINE)

    result = session.header()
    result.update({
        "locale": {k: os.environ.get(k) for k in ("LANG", "LC_ALL", "LC_CTYPE", "LC_COLLATE")},
        "versions": {"shuf": _version(["shuf", "--version"]), "sort": _version(["sort", "--version"])},
        "terashuf": shutil.which("terashuf") or "not on PATH: not measured",
        "drop_caches": args.drop_caches, "settle_s": args.settle,
        "corpora": corpora, "input_fingerprints": _FINGERPRINTS, "plans": plans,
        "tools": {t.key: {"name": t.name, "argv": t.argv, "env": t.env} for t in all_tools},
        "summary": summary, "claims": verdicts, "runs": runs,
    })
    m.write_json(Path(args.out), result)


def _version(cmd: list[str]) -> str:
    """The first line of ``cmd``'s output (``?`` if it gives none)."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "?"


if __name__ == "__main__":
    main()
