"""Measurement tools shared by ``bench_cat`` and ``bench_shuffle``.

Each measurement is one fresh child process, wrapped in ``/usr/bin/time -v`` (or,
without it, reaped with ``os.wait4``), so its wall time, user+sys CPU, peak RSS and
counters are its own. While it runs, the machine's busy and steal CPU time are read
from /proc/stat, so the CPU that *other* processes used meanwhile can be reported.
This module also has the page-cache warm-up, a description of the machine, the
summary helpers and the JSON writer that both scripts use.
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
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GNU_TIME = "/usr/bin/time"
TIMERS = ["auto", "gnu-time", "wait4"]

T = TypeVar("T")

# /usr/bin/time -v's label -> (our name, type)
_TIME_FIELDS: dict[str, tuple[str, type]] = {
    "User time (seconds)": ("user", float), "System time (seconds)": ("sys", float),
    "Maximum resident set size (kbytes)": ("peak_rss_kb", int),
    "Involuntary context switches": ("involuntary_switches", int),
    "Voluntary context switches": ("voluntary_switches", int),
    "Major (requiring I/O) page faults": ("major_faults", int),
    "Minor (reclaiming a frame) page faults": ("minor_faults", int),
    "File system inputs": ("fs_inputs", int), "File system outputs": ("fs_outputs", int),
    "Exit status": ("exit", int),
}
_TIME_REQUIRED = ("user", "sys", "peak_rss_kb", "involuntary_switches", "major_faults", "exit")


# ---------------------------------------------------------------- machine and setup

def corpuskit_bin() -> str:
    """The console script next to this Python (not the pyenv shim, which is a shell script)."""
    here = Path(sys.executable).parent / "corpuskit"
    return str(here) if here.exists() else shutil.which("corpuskit") or "corpuskit"


def pick_timer(choice: str) -> str:
    """``gnu-time`` or ``wait4``: ``auto`` takes /usr/bin/time when it can run."""
    if choice != "auto":
        return choice
    return "gnu-time" if os.access(GNU_TIME, os.X_OK) else "wait4"


def arg_parser(benchmark: str, doc: str) -> argparse.ArgumentParser:
    """The parser of ``python -m benchmarks.bench_<benchmark>``, described by the first paragraph of ``doc``."""
    return argparse.ArgumentParser(prog=f"python -m benchmarks.bench_{benchmark}", description=doc.split("\n\n")[0])


def parse_args(parser: argparse.ArgumentParser, results: Path, argv: list[str] | None) -> argparse.Namespace:
    """Adds ``--timer`` and ``--out`` (the results JSON, ``results`` by default) and parses ``argv``.

    ``args.timer`` comes back resolved (see ``pick_timer``).
    """
    parser.add_argument("--timer", choices=TIMERS, default="auto")
    parser.add_argument("--out", default=str(results),
                        help=f"results JSON (default {results.relative_to(REPO).as_posix()})")
    args = parser.parse_args(argv)
    args.timer = pick_timer(args.timer)
    return args


def _proc_stat_cpu() -> list[int]:
    """The clock ticks of the first ``cpu`` line of /proc/stat (all cores)."""
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:]]


def cpu_busy() -> float:
    """Seconds of CPU time the whole machine has spent busy (all cores), from /proc/stat."""
    fields = _proc_stat_cpu()
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    guest = sum(fields[8:10]) if len(fields) > 9 else 0      # already counted in user/nice
    return (sum(fields) - idle - guest) / os.sysconf("SC_CLK_TCK")


def cpu_steal() -> float:
    """Seconds of CPU time the hypervisor has stolen from this machine (all cores)."""
    fields = _proc_stat_cpu()
    return (fields[7] if len(fields) > 7 else 0) / os.sysconf("SC_CLK_TCK")


def warm(path: Path) -> float:
    """Reads ``path`` once (into the page cache); returns the seconds it took."""
    started = time.perf_counter()
    buf = bytearray(16 << 20)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass
    return time.perf_counter() - started


def sync_and_warm(path: Path, drop: bool = False) -> float:
    """Flushes dirty pages (``sync``), empties the page cache if ``drop`` (and allowed), then
    warms ``path``; returns the seconds of the read."""
    os.sync()
    if drop:
        drop_caches()
    return warm(path)


def drop_caches() -> bool:
    """Empties the page cache (needs root); False where that is not allowed.

    Meant to start every run from the same page-cache state: one 2 GiB shuffle took
    5.3 s and 11.1 s back to back on the benchmark VM. It did not make runs steadier
    there (see benchmarks/README.md, Shuffle), so it is off unless asked for.
    """
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def clean_outputs(work: Path) -> None:
    """Deletes the outputs (``out*``) and interrupted corpuskit temporaries (``.out*``) in ``work``."""
    for pattern in ("out*", ".out*"):
        for p in work.glob(pattern):
            p.unlink()


def rotate(items: Sequence[T], round_index: int) -> list[T]:
    """``items`` started at position ``round_index`` (mod its length), so the order changes each round."""
    k = round_index % len(items)
    return [*items[k:], *items[:k]]


def read_meta(corpus: Path) -> dict[str, Any]:
    """The ``<corpus>.meta.json`` sidecar that make_corpus writes."""
    with open(f"{corpus}.meta.json") as f:
        return json.load(f)


def _run_text(cmd: list[str]) -> str:
    """The stripped stdout of ``cmd`` run in the repository, or ``""`` if it cannot start."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False).stdout.strip()
    except OSError:
        return ""


def _cpu_model() -> str:
    """The first ``model name`` of /proc/cpuinfo."""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return ""


def _mem_gib() -> float:
    """Total memory in GiB, from /proc/meminfo."""
    with open("/proc/meminfo") as f:
        return round(int(f.readline().split()[1]) / 2**20, 1)


def _source_sha256() -> str:
    """A short hash of corpuskit's Python sources (paths and bytes)."""
    source = hashlib.sha256()
    for path in sorted((REPO / "corpuskit").rglob("*.py")):
        source.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes())
    return source.hexdigest()[:16]


def machine(work: Path) -> dict[str, Any]:
    """The machine, the library versions and the corpuskit source measured; ``work``'s filesystem."""
    import numpy
    import pyarrow
    import zstandard

    import corpuskit

    return {
        "cpus": os.cpu_count(), "cpu_model": _cpu_model(), "mem_gib": _mem_gib(),
        "kernel": platform.release(), "python": platform.python_version(),
        "corpuskit": getattr(corpuskit, "__version__", "?"), "pyarrow": pyarrow.__version__,
        "zstandard": zstandard.__version__, "numpy": numpy.__version__,
        "git_commit": _run_text(["git", "rev-parse", "--short", "HEAD"]),
        "corpuskit_tree_changes": _run_text(["git", "status", "--porcelain", "--", "corpuskit"]).splitlines(),
        "corpuskit_source_sha256": _source_sha256(),
        "filesystem": _run_text(["df", "-hT", str(work)]).splitlines()[-1:],
        "free_page_reporting": _free_page_reporting(),
    }


def _free_page_reporting() -> bool:
    """Whether this (virtual) machine hands freed memory back to its host: writing into
    such pages again costs several times more than into pages just freed."""
    try:
        with open("/sys/module/page_reporting/parameters/reported_kib") as f:
            return int(f.read()) > 0
    except (OSError, ValueError):
        return False


# ---------------------------------------------------------------- one child

@dataclass
class Child:
    """What one child run cost: its wall time, its own usage, and the machine's CPU meanwhile."""

    wall: float              # seconds
    usage: dict[str, float]  # user, sys (s), peak_rss_kb and the counters of _TIME_FIELDS
    busy: float              # CPU seconds the whole machine was busy meanwhile
    steal: float             # CPU seconds stolen meanwhile

    @property
    def cpu(self) -> float:
        """User + system CPU seconds of the child."""
        return self.usage["user"] + self.usage["sys"]

    def times(self) -> dict[str, float]:
        """``wall``, ``cpu``, ``user``, ``sys`` (s) and ``peak_rss_mb``, rounded."""
        u = self.usage
        return {"wall": round(self.wall, 3), "cpu": round(self.cpu, 3), "user": round(u["user"], 3),
                "sys": round(u["sys"], 3), "peak_rss_mb": round(u["peak_rss_kb"] / 1024, 1)}

    def cpu_util(self) -> float | None:
        """The child's CPU seconds per wall second."""
        return round(self.cpu / self.wall, 2) if self.wall > 0 else None

    def load(self) -> dict[str, float | None]:
        """``other_load_cores`` (CPU of other processes, in cores) and ``steal_s``."""
        other = round(max(self.busy - self.cpu, 0.0) / self.wall, 2) if self.wall > 0 else None
        return {"other_load_cores": other, "steal_s": round(self.steal, 2)}

    def counters(self, names: Iterable[str]) -> dict[str, float | None]:
        """The named counters (``None`` where the timer does not give one)."""
        return {k: self.usage.get(k) for k in names}


def parse_gnu_time(text: str) -> dict[str, float]:
    """The fields of ``/usr/bin/time -v``'s report that ``_TIME_FIELDS`` names, under our names."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        key, _, value = line.strip().rpartition(": ")
        if key in _TIME_FIELDS:
            name, cast = _TIME_FIELDS[key]
            values[name] = cast(value)
    missing = [k for k in _TIME_REQUIRED if k not in values]
    if missing:
        raise KeyError(", ".join(missing))
    return values


def _rusage_fields(usage: Any) -> dict[str, float]:
    """``os.wait4``'s resource usage under the names ``parse_gnu_time`` gives."""
    return {"user": usage.ru_utime, "sys": usage.ru_stime, "peak_rss_kb": usage.ru_maxrss,
            "involuntary_switches": usage.ru_nivcsw, "voluntary_switches": usage.ru_nvcsw,
            "major_faults": usage.ru_majflt, "minor_faults": usage.ru_minflt,
            "fs_inputs": usage.ru_inblock, "fs_outputs": usage.ru_oublock}


def _spawn(argv: list[str], timer: str, report: str, **popen: Any) -> tuple[float, int, dict[str, float] | None]:
    """Runs ``argv`` to its end; its wall seconds, exit code and (wait4 only) resource usage."""
    started = time.perf_counter()
    if timer == "gnu-time":
        code = subprocess.call([GNU_TIME, "-v", "-o", report, *argv], **popen)
        return time.perf_counter() - started, code, None
    proc = subprocess.Popen(argv, **popen)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    return wall, code, _rusage_fields(usage)


def _read_report(argv: list[str], report: str) -> dict[str, float]:
    """``/usr/bin/time``'s report for ``argv``, parsed; a RuntimeError when it cannot be read."""
    with open(report) as f:
        text = f.read()
    try:
        return parse_gnu_time(text)
    except (KeyError, ValueError):
        raise RuntimeError(f"cannot read /usr/bin/time's report for {argv}:\n{text}") from None


def run_child(argv: list[str], timer: str, work: Path, *, stdin_path: Path | str | None = None,
              stdout_path: Path | str | None = None, env: dict[str, str] | None = None) -> Child:
    """Runs ``argv`` once in a fresh child, stdout to ``stdout_path`` (else /dev/null); a RuntimeError if it fails.

    Its stderr and the timer's report go to temporary files in ``work``.
    """
    with ExitStack() as files:
        stdin = files.enter_context(open(stdin_path, "rb")) if stdin_path else subprocess.DEVNULL
        stdout = files.enter_context(open(stdout_path, "wb")) if stdout_path else subprocess.DEVNULL
        err = files.enter_context(tempfile.TemporaryFile(dir=work))
        tf = files.enter_context(tempfile.NamedTemporaryFile("r", suffix=".time", dir=work))
        busy0, steal0 = cpu_busy(), cpu_steal()
        try:
            wall, code, usage = _spawn(argv, timer, tf.name, stdin=stdin, stdout=stdout, stderr=err, env=env)
        finally:
            busy, steal = cpu_busy() - busy0, cpu_steal() - steal0
        if code != 0:
            err.seek(0)
            stderr = err.read().decode(errors="replace")
            raise RuntimeError(f"{' '.join(argv)} failed ({code}):\n{stderr[-2000:]}")
        if usage is None:
            usage = _read_report(argv, tf.name)
    return Child(wall, usage, busy, steal)


# ---------------------------------------------------------------- summaries and results

def ratio(a: float, b: float) -> float:
    """``a / b`` to two decimals (infinite when ``b`` is 0)."""
    return round(a / b, 2) if b else float("inf")


def median_of(runs: list[dict], key: str, digits: int = 3) -> float:
    """The median of ``key`` over ``runs``, rounded."""
    return round(statistics.median(r[key] for r in runs), digits)


def wall_median(runs: list[dict]) -> float:
    """The median ``wall`` of ``runs``, not rounded."""
    return statistics.median(r["wall"] for r in runs)


def wall_summary(runs: list[dict]) -> dict[str, Any]:
    """``rounds`` and the median, best and worst ``wall`` of ``runs``."""
    walls = [r["wall"] for r in runs]
    return {"rounds": len(runs), "wall_median": round(wall_median(runs), 3),
            "wall_min": round(min(walls), 3), "wall_max": round(max(walls), 3)}


def mb_per_s_median(runs: list[dict], input_bytes: int) -> float:
    """Throughput at the median wall, in MB/s (decimal megabytes)."""
    return round(input_bytes / 1e6 / wall_median(runs), 1)


def print_report(header: str, summary: dict[str, dict[str, dict]], row: Callable[[str, str, dict], str],
                 claims: list[dict], claim_line: str) -> None:
    """On stdout, after a blank line: the table (``header``, a rule, ``row(input, tool, summary)`` for each
    summary), a blank line, then each claim as ``claim_line.format(**claim, VERDICT=its verdict in capitals)``."""
    print()
    print(header)
    print("-" * len(header))
    for input_, tools_ in summary.items():
        for tool, s in tools_.items():
            print(row(input_, tool, s))
    print()
    for c in claims:
        print(claim_line.format(**c, VERDICT=c["verdict"].upper()))


@dataclass
class Session:
    """One benchmark run: how it was called, when it started, the load and the machine at its start."""

    benchmark: str
    timer: str
    argv: list[str]
    started: float
    load_before: tuple[float, float, float]
    machine: dict[str, Any]

    @classmethod
    def begin(cls, benchmark: str, timer: str, argv: list[str] | None, work: Path) -> Session:
        """Notes the time and the load, then describes the machine (``work``'s filesystem)."""
        started, load_before = time.time(), os.getloadavg()
        args = list(argv) if argv is not None else sys.argv[1:]
        return cls(benchmark, timer, args, started, load_before, machine(work))

    def header(self) -> dict[str, Any]:
        """The fields every results JSON starts with: what ran, when, how long, where and the load around it."""
        return {
            "benchmark": self.benchmark,
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started)),
            "seconds": round(time.time() - self.started, 1), "timer": self.timer,
            "command": " ".join([f"python -m benchmarks.bench_{self.benchmark}", *self.argv]),
            "machine": self.machine, "loadavg_before": self.load_before, "loadavg_after": os.getloadavg(),
        }


def write_json(out: Path, result: dict[str, Any]) -> None:
    """Writes ``result`` to ``out`` (indented, with a final newline) and says so on stdout."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(f"\nwrote {out}")


# ---------------------------------------------------------------- memory of the process tree

def _descendants(root: int) -> list[int]:
    """The pids of every process below ``root`` (from /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _rss_kb(pid: int) -> int | None:
    """RSS of ``pid`` in kB from /proc/PID/statm (cheap); None if it is gone."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE_KB
    except (OSError, IndexError, ValueError):
        return None


def _pss_kb(pid: int) -> int | None:
    """PSS of ``pid`` in kB from /proc/PID/smaps_rollup (walks its page tables: ~6 ms for 200 MB)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


class TreeSampler(threading.Thread):
    """Samples the summed RSS (and, every ``pss_every`` samples, PSS) of every process below this one.

    Keeps the peaks until stopped. ``/usr/bin/time`` itself is left out (it is the timer,
    not the tool). PSS is read less often because /proc/PID/smaps_rollup costs CPU.
    """

    def __init__(self, every: float, pss_every: int = 5) -> None:
        super().__init__(daemon=True)
        self.every, self.pss_every = every, pss_every
        self.peak_rss_kb = self.peak_pss_kb = self.max_processes = self.samples = 0
        self.cpu_s = 0.0
        self._stop_event = threading.Event()
        self._me = os.getpid()

    def sample(self) -> None:
        """One sample of the tree."""
        started = time.thread_time()
        with_pss = self.samples % self.pss_every == 0
        rss = pss = n = 0
        for pid in _descendants(self._me):
            if _comm(pid) == "time":
                continue
            got = _rss_kb(pid)
            if got is None:
                continue
            rss, n = rss + got, n + 1
            if with_pss:
                pss += _pss_kb(pid) or 0
        self.peak_rss_kb, self.max_processes = max(self.peak_rss_kb, rss), max(self.max_processes, n)
        if with_pss:
            self.peak_pss_kb = max(self.peak_pss_kb, pss)
        self.samples += 1
        self.cpu_s += time.thread_time() - started

    def run(self) -> None:
        while not self._stop_event.wait(self.every):
            self.sample()

    def stop(self) -> dict:
        """Stops sampling; the peaks (MB), the largest process count, and what the sampling cost."""
        self._stop_event.set()
        self.join()
        return {"tree_rss_mb": round(self.peak_rss_kb / 1024, 1), "tree_pss_mb": round(self.peak_pss_kb / 1024, 1),
                "tree_max_processes": self.max_processes, "tree_samples": self.samples,
                "sampler_cpu_s": round(self.cpu_s, 3)}


def wait_quiet(max_wait: float, threshold: float = 0.25, window: float = 2.0) -> dict:
    """Waits (at most ``max_wait`` s) until the machine's busy CPU over ``window`` s is under ``threshold`` cores."""
    started = time.perf_counter()
    while True:
        busy0 = cpu_busy()
        time.sleep(window)
        load = (cpu_busy() - busy0) / window
        waited = time.perf_counter() - started
        if load < threshold or waited >= max_wait:
            return {"waited_s": round(waited, 1), "load_before_cores": round(load, 2), "quiet": load < threshold}
