"""Time ``corpuskit cat`` against ``cat`` and hand-written Python, on the same generated corpora.

    python -m benchmarks.bench_cat                       # 2G and 200M, text and JSONL, 3 rounds
    python -m benchmarks.bench_cat --size 500M --small 50M --repeat 1 --only text

Each measurement is one fresh child process, wrapped in ``/usr/bin/time -v`` (or,
without it, reaped with ``os.wait4``), so its wall time, user+sys CPU and peak RSS
are its own. Before each one: the previous output is deleted, ``sync`` runs, and the
input is read once so every tool starts with it in the page cache. Tools take turns
inside each round (the order rotates per round), so slow drifts in machine load hit
all of them alike. Outputs go to ``benchmarks/work/cat/`` and are checked (same size
as the input for text, same row count for Parquet), then deleted.

The machine may be shared: each measurement also records how much CPU *other*
processes used meanwhile (from /proc/stat, in cores) and the child's involuntary
context switches, so a noisy result can be told from a slow one. The summary gives
the median and the best of the rounds; the claims are judged on medians and the
verdict says when best-of rounds would disagree.

Results: a table on stdout and ``benchmarks/results/cat.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.make_corpus import ensure_corpus, parse_size, size_label

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "work" / "cat"
RESULTS = HERE / "results" / "cat.json"
BASELINES = HERE / "baselines"
GNU_TIME = "/usr/bin/time"

# the claims of the issue, as numbers
CAT_RATIO_MAX = 1.5        # corpuskit cat text->text wall <= 1.5 x `cat a > b`
LOOP_SPEEDUP_MIN = 3.0     # python line loop wall >= 3 x corpuskit
JSONL_SPEEDUP_MIN = 2.0    # python json.loads loop wall >= 2 x corpuskit
FLAT_RSS_MAX = 1.5         # peak RSS at the large input <= 1.5 x peak RSS at the small one (10x less input)


@dataclass
class Tool:
    name: str
    kind: str             # "text" or "jsonl": which corpus it reads
    argv: list[str]       # {src} and {dst} are filled in
    out_ext: str | None   # extension of its output; None writes to /dev/null
    stdout_is_output: bool = False
    reference: bool = False  # shown for context, not part of a claim


def corpuskit_bin() -> str:
    """The console script next to this Python (not the pyenv shim, which is a shell script)."""
    here = Path(sys.executable).parent / "corpuskit"
    return str(here) if here.exists() else shutil.which("corpuskit") or "corpuskit"


def tools() -> list[Tool]:
    ck = corpuskit_bin()
    py = sys.executable
    out = [
        Tool("cat a > b", "text", ["cat", "{src}"], ".txt", stdout_is_output=True),
        Tool("corpuskit cat", "text", [ck, "cat", "{src}", "-o", "{dst}", "--force", "-q"], ".txt"),
        Tool("python line loop", "text", [py, str(BASELINES / "py_cat_lines.py"), "{src}", "{dst}"], ".txt"),
        Tool("corpuskit cat", "jsonl", [ck, "cat", "{src}", "-o", "{dst}", "--force", "-q"], ".parquet"),
        Tool("python json.loads+pyarrow", "jsonl",
             [py, str(BASELINES / "py_jsonl_to_parquet.py"), "{src}", "{dst}"], ".parquet"),
    ]
    if shutil.which("zstd"):
        out.append(Tool("zstd -dc > /dev/null", "jsonl", ["zstd", "-dcq", "{src}"], None,
                        stdout_is_output=True, reference=True))
    return out


# ---------------------------------------------------------------- one measurement

def _cpu_busy() -> float:
    """Seconds of CPU time the whole machine has spent busy (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    guest = sum(fields[8:10]) if len(fields) > 9 else 0      # already counted in user/nice
    return (sum(fields) - idle - guest) / os.sysconf("SC_CLK_TCK")


def _steal() -> float:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (fields[7] if len(fields) > 7 else 0) / os.sysconf("SC_CLK_TCK")


def warm(path: Path) -> float:
    """Reads ``path`` once (into the page cache); returns the seconds it took."""
    started = time.perf_counter()
    buf = bytearray(16 << 20)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass
    return time.perf_counter() - started


def _parse_gnu_time(text: str) -> dict:
    values = {}
    for line in text.splitlines():
        key, _, value = line.strip().rpartition(": ")
        values[key] = value
    return {
        "user": float(values["User time (seconds)"]),
        "sys": float(values["System time (seconds)"]),
        "peak_rss_kb": int(values["Maximum resident set size (kbytes)"]),
        "involuntary_switches": int(values["Involuntary context switches"]),
        "major_faults": int(values["Major (requiring I/O) page faults"]),
        "exit": int(values["Exit status"]),
    }


def run_child(argv: list[str], stdout_path: str | None, timer: str) -> dict:
    """Runs ``argv`` once; its wall, user, sys, peak RSS, involuntary switches and the machine's other load."""
    stdout = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    with tempfile.TemporaryFile(dir=WORK) as err, tempfile.NamedTemporaryFile("r", suffix=".time", dir=WORK) as tf:
        busy0, steal0 = _cpu_busy(), _steal()
        try:
            if timer == "gnu-time":
                started = time.perf_counter()
                code = subprocess.call([GNU_TIME, "-v", "-o", tf.name, *argv], stdout=stdout, stderr=err)
                wall = time.perf_counter() - started
            else:
                started = time.perf_counter()
                proc = subprocess.Popen(argv, stdout=stdout, stderr=err)
                _, status, usage = os.wait4(proc.pid, 0)
                wall = time.perf_counter() - started
                proc.returncode = code = os.waitstatus_to_exitcode(status)
        finally:
            if stdout_path:
                stdout.close()
        busy, steal = _cpu_busy() - busy0, _steal() - steal0
        err.seek(0)
        stderr = err.read().decode(errors="replace")
        if code != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({code}):\n{stderr[-2000:]}")
        if timer == "gnu-time":
            report = tf.read()
            try:
                m = _parse_gnu_time(report)
            except (KeyError, ValueError):
                raise RuntimeError(f"cannot read /usr/bin/time's report for {argv}:\n{report}") from None
        else:
            m = {"user": usage.ru_utime, "sys": usage.ru_stime, "peak_rss_kb": usage.ru_maxrss,
                 "involuntary_switches": usage.ru_nivcsw, "major_faults": usage.ru_majflt}
    cpu = m["user"] + m["sys"]
    return {"wall": round(wall, 3), "cpu": round(cpu, 3), "user": round(m["user"], 3), "sys": round(m["sys"], 3),
            "peak_rss_mb": round(m["peak_rss_kb"] / 1024, 1),
            "other_load_cores": round(max(busy - cpu, 0.0) / wall, 2) if wall > 0 else None,
            "steal_s": round(steal, 2),
            "involuntary_switches": m["involuntary_switches"], "major_faults": m["major_faults"]}


def check_output(tool: Tool, dst: Path | None, corpus: dict) -> dict:
    """What the tool wrote, checked against the input: same bytes (text) or same record count (Parquet)."""
    if dst is None:
        return {}
    size = dst.stat().st_size
    if tool.out_ext == ".txt":
        ok = size == corpus["bytes"]
        return {"output_bytes": size, "output_ok": ok}
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(dst).metadata
    ok = meta.num_rows == corpus["records"]
    return {"output_bytes": size, "output_rows": meta.num_rows, "row_groups": meta.num_row_groups, "output_ok": ok}


def measure(tool: Tool, src: Path, corpus: dict, timer: str) -> dict:
    dst = WORK / f"out{tool.out_ext}" if tool.out_ext else None
    _clean()
    os.sync()
    warm_s = warm(src)
    argv = [a.format(src=src, dst=dst) for a in tool.argv]
    stdout_path = (str(dst) if dst else None) if tool.stdout_is_output else None
    result = run_child(argv, stdout_path, timer)
    result.update(check_output(tool, dst, corpus))
    result["warm_read_s"] = round(warm_s, 2)
    _clean()
    if result.get("output_ok") is False:
        raise RuntimeError(f"{tool.name} wrote a wrong output: {result}")
    return result


def _clean() -> None:
    for p in WORK.glob("out*"):
        p.unlink()
    for p in WORK.glob(".out*"):  # a temporary left by an interrupted corpuskit run
        p.unlink()


# ---------------------------------------------------------------- summary

def summarize(runs: list[dict], input_bytes: int) -> dict:
    walls = [r["wall"] for r in runs]
    med = statistics.median(walls)
    return {
        "rounds": len(runs),
        "wall_median": round(med, 3), "wall_min": round(min(walls), 3), "wall_max": round(max(walls), 3),
        "cpu_median": round(statistics.median(r["cpu"] for r in runs), 3),
        "user_median": round(statistics.median(r["user"] for r in runs), 3),
        "sys_median": round(statistics.median(r["sys"] for r in runs), 3),
        "peak_rss_mb_max": max(r["peak_rss_mb"] for r in runs),
        "other_load_cores_median": round(statistics.median(r["other_load_cores"] for r in runs), 2),
        "mb_per_s_median": round(input_bytes / 1e6 / med, 1),
    }


def ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else float("inf")


def claims(summary: dict, big: str, small: str | None) -> list[dict]:
    """Each claim of the issue with its measured ratio (median rounds, and best-of rounds) and verdict."""
    def get(kind: str, size: str, tool: str) -> dict | None:
        return summary.get(f"{kind}/{size}", {}).get(tool)

    out = []

    def judge(claim: str, num: dict, den: dict, limit: float, at_most: bool, what: str) -> None:
        med = ratio(num["wall_median"], den["wall_median"])
        best = ratio(num["wall_min"], den["wall_min"])
        cpu = ratio(num["cpu_median"], den["cpu_median"])
        holds = med <= limit if at_most else med >= limit
        holds_best = best <= limit if at_most else best >= limit
        verdict = "holds" if holds else "fails"
        if holds != holds_best:
            verdict += " (best-of rounds would say otherwise: within noise)"
        out.append({"claim": claim, "ratio": what, "target": f"{'<=' if at_most else '>='} {limit}",
                    "median_ratio": med, "best_ratio": best, "cpu_ratio": cpu, "verdict": verdict, "holds": holds})

    ck, cat, loop = get("text", big, "corpuskit cat"), get("text", big, "cat a > b"), get("text", big, "python line loop")
    if ck and cat:
        judge(f"corpuskit cat text->text within {CAT_RATIO_MAX}x of `cat a > b`", ck, cat, CAT_RATIO_MAX, True,
              "corpuskit / cat")
    if ck and loop:
        judge(f"corpuskit cat text->text >= {LOOP_SPEEDUP_MIN}x faster than a Python line loop", loop, ck,
              LOOP_SPEEDUP_MIN, False, "python loop / corpuskit")
    ckj, pyj = get("jsonl", big, "corpuskit cat"), get("jsonl", big, "python json.loads+pyarrow")
    if ckj and pyj:
        judge(f"corpuskit cat JSONL.zst->Parquet >= {JSONL_SPEEDUP_MIN}x faster than json.loads + pyarrow", pyj, ckj,
              JSONL_SPEEDUP_MIN, False, "python / corpuskit")
    if small:
        for kind in ("text", "jsonl"):
            a, b = get(kind, big, "corpuskit cat"), get(kind, small, "corpuskit cat")
            if a and b:
                r = ratio(a["peak_rss_mb_max"], b["peak_rss_mb_max"])
                out.append({"claim": f"corpuskit cat peak RSS flat ({kind}): {big} input vs {small}",
                            "ratio": f"peak RSS {big} / {small}", "target": f"<= {FLAT_RSS_MAX}",
                            "median_ratio": r, "best_ratio": r, "cpu_ratio": None,
                            "peak_rss_mb": {big: a["peak_rss_mb_max"], small: b["peak_rss_mb_max"]},
                            "verdict": "holds" if r <= FLAT_RSS_MAX else "fails", "holds": r <= FLAT_RSS_MAX})
    return out


def machine() -> dict:
    def run(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO).stdout.strip()
        except OSError:
            return ""

    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    import numpy
    import pyarrow
    import zstandard

    import corpuskit

    status = run(["git", "status", "--porcelain", "--", "corpuskit"])
    source = hashlib.sha256()
    for path in sorted((REPO / "corpuskit").rglob("*.py")):
        source.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes())
    return {
        "cpus": os.cpu_count(), "cpu_model": model, "mem_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(), "python": platform.python_version(),
        "corpuskit": getattr(corpuskit, "__version__", "?"), "pyarrow": pyarrow.__version__,
        "zstandard": zstandard.__version__, "numpy": numpy.__version__,
        "git_commit": run(["git", "rev-parse", "--short", "HEAD"]),
        "corpuskit_tree_changes": status.splitlines(),
        "corpuskit_source_sha256": source.hexdigest()[:16],
        "filesystem": run(["df", "-hT", str(WORK)]).splitlines()[-1:],
    }


def print_table(summary: dict, corpora: dict) -> None:
    header = f"{'input':<14} {'tool':<28} {'wall med':>9} {'wall min':>9} {'CPU med':>8} {'peak RSS':>9} " \
             f"{'MB/s':>7} {'other load':>10}"
    print(header)
    print("-" * len(header))
    for key, tools_ in summary.items():
        for name, s in tools_.items():
            print(f"{key:<14} {name:<28} {s['wall_median']:>8.2f}s {s['wall_min']:>8.2f}s {s['cpu_median']:>7.2f}s "
                  f"{s['peak_rss_mb_max']:>7.0f}MB {s['mb_per_s_median']:>7.0f} {s['other_load_cores_median']:>9.2f}c")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_cat", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="2G", help="the large input (default 2G, uncompressed bytes)")
    parser.add_argument("--small", default="200M", help="the small input for the flat-memory check ('' to skip)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per input (default 3)")
    parser.add_argument("--small-repeat", type=int, default=None, help="rounds for the small input (default --repeat)")
    parser.add_argument("--only", choices=["text", "jsonl"], help="only this kind of input")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timer", choices=["auto", "gnu-time", "wait4"], default="auto")
    parser.add_argument("--out", default=str(RESULTS), help="results JSON (default benchmarks/results/cat.json)")
    args = parser.parse_args(argv)
    timer = args.timer if args.timer != "auto" else ("gnu-time" if os.access(GNU_TIME, os.X_OK) else "wait4")
    big = size_label(parse_size(args.size))
    small = size_label(parse_size(args.small)) if args.small else None
    WORK.mkdir(parents=True, exist_ok=True)

    kinds = [args.only] if args.only else ["text", "jsonl"]
    corpora: dict[str, dict] = {}
    for kind in kinds:
        for size in [big] + ([small] if small else []):
            path = ensure_corpus(size, kind, args.seed)
            with open(f"{path}.meta.json") as f:
                info = json.load(f)
            corpora[f"{kind}/{size}"] = {"path": str(path.relative_to(REPO)), "bytes": info["bytes"],
                                        "file_bytes": info["file_bytes"], "records": info["records"]}

    started = time.time()
    load_before = os.getloadavg()
    machine_before = machine()  # the code measured is the code at the start (others may be editing it)
    runs: list[dict] = []
    all_tools = tools()
    for key, corpus in corpora.items():
        kind, size = key.split("/")
        chosen = [t for t in all_tools if t.kind == kind]
        rounds = args.repeat if size == big else (args.small_repeat or args.repeat)
        src = REPO / corpus["path"]
        for r in range(rounds):
            order = chosen[r % len(chosen):] + chosen[: r % len(chosen)]
            for tool in order:
                result = measure(tool, src, corpus, timer)
                result.update({"input": key, "tool": tool.name, "round": r + 1, "reference": tool.reference})
                runs.append(result)
                print(f"{key:<12} round {r + 1}  {tool.name:<28} wall {result['wall']:7.2f}s  "
                      f"cpu {result['cpu']:7.2f}s  peak {result['peak_rss_mb']:7.1f} MB  "
                      f"other load {result['other_load_cores']:.2f} cores", flush=True)

    summary: dict[str, dict] = {}
    for key, corpus in corpora.items():
        summary[key] = {}
        for tool in all_tools:
            mine = [r for r in runs if r["input"] == key and r["tool"] == tool.name]
            if mine:
                summary[key][tool.name] = summarize(mine, corpus["bytes"])
    verdicts = claims(summary, big, small)

    print()
    print_table(summary, corpora)
    print()
    for c in verdicts:
        print(f"{c['verdict'].upper():<6} {c['claim']}: {c['ratio']} = {c['median_ratio']} "
              f"(best-of {c['best_ratio']}, target {c['target']})")

    result = {
        "benchmark": "cat", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": round(time.time() - started, 1), "timer": timer,
        "command": " ".join(["python -m benchmarks.bench_cat", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine_before, "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "corpora": corpora, "tools": {t.name + " [" + t.kind + "]": t.argv for t in all_tools},
        "summary": summary, "claims": verdicts, "runs": runs,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
