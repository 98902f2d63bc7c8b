"""Time ``corpuskit split`` (adversarial validation) on 1 GiB of JSONL, its scoring pass, and a Python baseline.

    python -m benchmarks.bench_split                        # 1G train, 20M test (~12 min here)
    python -m benchmarks.bench_split --size 50M             # a quick look (~4 min: fitting does not shrink)
    python -m benchmarks.bench_split --only score-ck,score-base
    python -m benchmarks.bench_split --phases               # split's steps: time and peak RSS (~6 min)

The data (made once, cached under ``benchmarks/work/split/``, git-ignored): records
``{"text": ...}`` whose texts are the lines of ``make_corpus.py``'s generator (55%
English, 35% Chinese, 10% Chinese with English terms; heavy-tailed lengths). The
*training* file keeps every English line and one in five of the others (about 86%
English by records); the *test* file comes from another seed and keeps every Chinese
and mixed line and one English line in ten (about 89% Chinese): a domain shift a
discriminator can see. ``--size`` is the training file's size (binary units, 1G = 1 GiB),
``--test-size`` the test file's (default 20M).

Measurements, each one fresh child under ``/usr/bin/time -v`` (``measure.py``), after
``sync`` and a read of both inputs (page cache warm):

* ``ck-split``: ``corpuskit split TRAIN --test TEST -o OUT --valid-size 5000 --field text
  --mem 2G --seed 1 -q`` (default ``--sample 100000``): wall, CPU, peak RSS, records/s and
  MB/s over the training set. Its ``report.json`` (AUCs, effective sample size, the
  sample size used) is kept, and the outputs are checked: train + valid lines = training
  records - distinct drawn + draws. The lengths of the validation texts are compared
  with the test set's (mean, median, share of 1 KB or more).
* ``ck-split-mem1G``: the same with ``--mem 1G --sample 20000``: is peak RSS under 1 GiB?
* ``score-ck``: one Python child that fits the discriminator as ``split`` does (sampling,
  held-out test share, featurizer and ``discriminator.fit``) on ``--score-sample`` training
  records (default 20,000: the scoring pass costs the same whatever the fit), times a
  read-only pass over the training set, then times ``Records.score`` over all of it:
  reading, featurizing and scoring every record (the sampled ones take their
  out-of-fold score) into a flat file, which is split's second pass. The featurizer's
  and the models' calls are timed on the way (tokens, matrix, predict; the rest is
  reading and bookkeeping).
* ``score-base``: what a user would write instead: ``for line in f: json.loads(line)``,
  batches of 8,192 texts, scikit-learn's ``HashingVectorizer`` (2^20 columns, unigrams and
  bigrams of the same tokens: lower-cased ASCII letter/digit runs and single other
  characters, L2 norm) and the mean ``predict_proba`` of 5 out-of-fold
  ``LogisticRegression`` models (liblinear, ``C=4``, balanced classes: corpuskit's
  settings), fitted on the first ``--score-sample`` training and test records; scores
  written as float64. The timed part is the scoring pass only, as for ``score-ck``; the
  two score files are then compared (Pearson and Spearman correlation of D).

``--phases`` (a separate run, ``results/split-phases.json``): ``split()`` in one child per
``--mem`` setting, its steps timed (wall and CPU) and its RSS sampled every 50 ms and
attributed to the step running: where the whole run's time and memory go.

``score-ck``, ``score-base`` and ``--phases`` run this file again as a child (``--child``). The code
measured is a copy of ``corpuskit/`` taken when the run starts (``work/split/snapshot``,
imported through ``PYTHONPATH``): the split code is still changing on this branch.

Results: a table on stdout and ``benchmarks/results/split.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks import measure as m
from benchmarks.make_corpus import generate_chunks, parse_size, pools, size_label
from benchmarks.measure import HERE, REPO

WORK = HERE / "work" / "split"
RESULTS = HERE / "results" / "split.json"
COUNTERS = ("involuntary_switches", "voluntary_switches", "major_faults", "minor_faults", "fs_inputs", "fs_outputs")

DATA_VERSION = 1
# share of each language's lines kept: the training set is mostly English, the test set mostly Chinese
KEEP = {"train": {b"en": 1.0, b"zh": 0.2, b"mixed": 0.2}, "test": {b"en": 0.1, b"zh": 1.0, b"mixed": 1.0}}
TEST_SEED_OFFSET = 1           # the test file's generator seed is the training file's + 1: no shared lines

VALID_SIZE = 5000
BATCH = 8192                   # the baseline's records per batch
MEM_BIG, MEM_SMALL, SAMPLE_SMALL = "2G", "1G", 20_000

TABLE_HEADER = (f"{'tool':<44} {'wall':>8} {'CPU':>8} {'user':>8} {'sys':>7} {'peak RSS':>9} {'records/s':>10} "
                f"{'MB/s':>6} {'scoring pass':>13} {'other':>6}")
CLAIM_LINE = "- {claim}: {measured} (target {target}): {VERDICT}"

_TAIL = re.compile(rb'", "meta": \{"source": "[a-z]+", "lang": "([a-z]+)", "score": [0-9.]+\}\}$')
_HEAD = b'"text": "'


# ---------------------------------------------------------------- data

def _records(seed: int, keep: dict[bytes, float]):
    """Endless ``{"text": ...}\\n`` records: make_corpus's JSONL lines of ``seed``, each kept with its language's share."""
    rng = np.random.default_rng([seed, 2])
    for data, _ in generate_chunks(seed, "jsonl"):
        lines = data.tobytes().split(b"\n")[:-1]
        draws = rng.random(len(lines))
        for line, u in zip(lines, draws.tolist()):
            tail = _TAIL.search(line)
            if u < keep[tail.group(1)]:
                yield b'{"text": "' + line[line.index(_HEAD) + len(_HEAD):tail.start()] + b'"}\n', tail.group(1)


def _describe(role: str, size: int, seed: int) -> dict:
    return {"version": DATA_VERSION, "role": role, "size": size, "seed": seed,
            "keep": {k.decode(): v for k, v in KEEP[role].items()}, "pools": pools().fingerprint}


def ensure_data(role: str, size: int, seed: int) -> tuple[Path, dict]:
    """The ``role`` ("train" or "test") file of at most ``size`` bytes, made if missing or stale; and its sidecar."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"{role}-{size_label(size)}-seed{seed}.jsonl"
    want = _describe(role, size, seed)
    try:
        have = json.loads(Path(f"{path}.meta.json").read_text())
        if all(have.get(k) == v for k, v in want.items()) and path.stat().st_size == have["bytes"]:
            return path, have
    except (OSError, ValueError, KeyError):
        pass
    print(f"making {path.relative_to(REPO)} ({size_label(size)}) ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    written = records = 0
    langs: dict[str, int] = {}
    try:
        with open(tmp, "wb") as f:
            for record, lang in _records(seed, KEEP[role]):
                if written + len(record) > size:
                    break
                f.write(record)
                written += len(record)
                records += 1
                langs[lang.decode()] = langs.get(lang.decode(), 0) + 1
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    info = {**want, "path": str(path.relative_to(REPO)), "bytes": written, "records": records, "langs": langs,
            "seconds": round(time.perf_counter() - started, 1)}
    Path(f"{path}.meta.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"  {written:,} bytes, {records:,} records {langs} in {info['seconds']} s", file=sys.stderr, flush=True)
    return path, info


# ---------------------------------------------------------------- the code measured

def snapshot() -> Path:
    """A copy of ``corpuskit/`` in WORK, imported by every child (``PYTHONPATH``) instead of the working tree."""
    target = WORK / "snapshot"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(REPO / "corpuskit", target / "corpuskit", ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _split_sha(root: Path) -> str:
    """A short hash of ``corpuskit/split/*.py`` under ``root`` (paths and bytes)."""
    digest = hashlib.sha256()
    for path in sorted((root / "corpuskit" / "split").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _env(snap: Path | None) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in (snap, REPO) if p is not None)}


def imported_from(snap: Path | None) -> str:
    """Where a child's ``import corpuskit`` comes from (run from WORK, so the working tree is not on its path)."""
    out = subprocess.run([sys.executable, "-c", "import corpuskit; print(corpuskit.__file__)"], cwd=WORK,
                         env=_env(snap), capture_output=True, text=True, check=True).stdout.strip()
    return str(Path(out).parent)


# ---------------------------------------------------------------- the children that time scoring

def _timed(times: dict, key: str, fn):
    """``fn`` that adds its seconds to ``times[key]``."""
    def wrapper(*a, **k):
        started = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            times[key] = times.get(key, 0.0) + time.perf_counter() - started
    return wrapper


def child_score_corpuskit(args: argparse.Namespace) -> dict:
    """Fits the discriminator as ``split`` does, then times a read-only pass and ``Records.score`` over the training set."""
    import importlib

    import corpuskit
    from corpuskit.split import discriminator
    from corpuskit.split.features import Featurizer
    from corpuskit.split.records import Records
    from corpuskit.split.scores import Scores

    ck_split = importlib.import_module("corpuskit.split")   # the package: corpuskit.split is also the function
    out: dict = {"corpuskit": str(Path(corpuskit.__file__).parent)}
    started = time.perf_counter()
    featurizer = Featurizer(None, 2, 1 << 20, args.seed)
    records = Records([args.train], None, "text", False)
    _, sample_index, sample_texts = records.sample(args.sample, args.seed, ck_split._sample_budget(args.mem))
    test_texts = Records([args.test], None, "text", False).sample(args.sample, 0)[2]
    test_texts, _ = ck_split._hold_out(test_texts, 0.3, args.seed)
    disc = discriminator.fit(featurizer.matrix(sample_texts), featurizer.matrix(test_texts), 5, args.seed,
                             discriminator.text_groups(sample_texts, test_texts))
    out.update(fit_s=round(time.perf_counter() - started, 2), sample_records=len(sample_index),
               fit_test_records=len(test_texts), auc_train_vs_test=round(disc.auc, 4))
    del sample_texts, test_texts

    started = time.perf_counter()
    n = nbytes = 0
    for _, values in records.texts():
        n += len(values)
        nbytes += values.nbytes
    out["read_only_pass_s"] = round(time.perf_counter() - started, 2)

    # the scoring pass: Records.score itself, with the featurizer's and the models' calls timed on the way
    times: dict[str, float] = {}

    class TimedFeaturizer(Featurizer):
        tokens = _timed(times, "tokens", Featurizer.tokens)
        from_tokens = _timed(times, "matrix", Featurizer.from_tokens)

    timed = TimedFeaturizer(None, 2, 1 << 20, args.seed)
    disc.score = _timed(times, "predict", disc.score)
    scores = Scores(args.scores)
    started = time.perf_counter()
    records.score(disc, timed, sample_index, scores)
    seconds = time.perf_counter() - started
    times = {k: round(v, 2) for k, v in times.items()}
    times["other"] = round(seconds - sum(times.values()), 2)
    out.update(score_s=round(seconds, 2), score_steps_s=times, records=scores.records, text_bytes=nbytes,
               featurized_records=scores.records - len(sample_index))
    return out


BASELINE_TOKENS = r"[a-z0-9]+|[^\sa-z0-9]"   # after lower-casing: ASCII letter/digit runs, any other non-space char


def child_score_baseline(args: argparse.Namespace) -> dict:
    """The Python a user would write: json.loads per line, HashingVectorizer and LogisticRegression per batch."""
    import json as json_

    import sklearn
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    out: dict = {"sklearn": sklearn.__version__}
    started = time.perf_counter()
    vectorizer = HashingVectorizer(n_features=1 << 20, ngram_range=(1, 2), token_pattern=BASELINE_TOKENS,
                                   lowercase=True, alternate_sign=False, norm="l2", dtype=np.float32)
    train_texts = []
    with open(args.train, encoding="utf-8") as f:
        for line in f:
            train_texts.append(json_.loads(line)["text"])
            if len(train_texts) == args.sample:
                break
    test_texts = []
    with open(args.test, encoding="utf-8") as f:   # as split, at most ``sample`` test records
        for line in f:
            test_texts.append(json_.loads(line)["text"])
            if len(test_texts) == args.sample:
                break
    import scipy.sparse as sp

    features = sp.vstack([vectorizer.transform(train_texts), vectorizer.transform(test_texts)]).tocsr()
    labels = np.r_[np.zeros(len(train_texts), np.int8), np.ones(len(test_texts), np.int8)]
    models = []
    for fitted, _ in StratifiedKFold(5, shuffle=True, random_state=args.seed).split(features, labels):
        models.append(LogisticRegression(C=4.0, class_weight="balanced", max_iter=1000, solver="liblinear")
                      .fit(features[fitted], labels[fitted]))
    out.update(fit_s=round(time.perf_counter() - started, 2), sample_records=len(train_texts),
               fit_test_records=len(test_texts))
    del features, train_texts, test_texts

    times = {"read_json": 0.0, "vectorize": 0.0, "predict": 0.0, "write": 0.0}
    n = 0
    started = time.perf_counter()
    with open(args.train, encoding="utf-8") as f, open(args.scores, "wb") as sink:
        batch: list[str] = []
        clock = time.perf_counter()

        def flush() -> None:
            nonlocal clock
            now = time.perf_counter()
            times["read_json"] += now - clock
            x = vectorizer.transform(batch)
            t1 = time.perf_counter()
            d = np.mean([model.predict_proba(x)[:, 1] for model in models], axis=0)
            t2 = time.perf_counter()
            sink.write(d.astype(np.float64).tobytes())
            clock = time.perf_counter()
            times["vectorize"] += t1 - now
            times["predict"] += t2 - t1
            times["write"] += clock - t2

        for line in f:
            batch.append(json_.loads(line)["text"])
            if len(batch) == BATCH:
                flush()
                n += len(batch)
                batch = []
        if batch:
            flush()
            n += len(batch)
        times["read_json"] += time.perf_counter() - clock
    seconds = time.perf_counter() - started
    out.update(score_s=round(seconds, 2), score_steps_s={k: round(v, 2) for k, v in times.items()}, records=n,
               featurized_records=n)
    return out


PHASE_RESULTS = HERE / "results" / "split-phases.json"


def child_phases(args: argparse.Namespace) -> dict:
    """``split(...)`` in this process with its steps timed and the RSS sampled every 50 ms, per step.

    Each step is the outermost call of one of the functions below (a call inside another
    step counts for that step); the RSS samples are attributed to the step running then.
    """
    import importlib
    import resource
    import threading

    import corpuskit
    from corpuskit.split.features import Featurizer
    from corpuskit.split.records import Records
    from corpuskit.split.scores import Scores

    ck_split = importlib.import_module("corpuskit.split")
    page = os.sysconf("SC_PAGE_SIZE")
    current = ["imports"]
    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}
    peak: dict[str, int] = {}

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page

    def cpu_now() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def sample() -> None:
        while True:
            step = current[0]
            peak[step] = max(peak.get(step, 0), rss())
            time.sleep(0.05)

    def step(name: str, fn):
        def wrapper(*a, **k):
            if current[0] != "between steps":
                return fn(*a, **k)
            current[0] = name
            started, cpu0 = time.perf_counter(), cpu_now()
            try:
                return fn(*a, **k)
            finally:
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started
                cpu[name] = cpu.get(name, 0.0) + cpu_now() - cpu0
                peak[name] = max(peak.get(name, 0), rss())
                current[0] = "between steps"
        return wrapper

    for cls, names in ((Records, ("sample", "score", "write", "texts_of", "hash_split")),
                       (Featurizer, ("tokens", "matrix", "from_tokens")), (Scores, ("summary", "write_parquet", "all"))):
        for name in names:
            setattr(cls, name, step(f"{cls.__name__}.{name}", getattr(cls, name)))
    ck_split.discriminator.fit = step("discriminator.fit (the weights' discriminator)", ck_split.discriminator.fit)
    ck_split.draw.weighted = step("draw.weighted", ck_split.draw.weighted)
    ck_split._judge = step("_judge (two check discriminators)", ck_split._judge)
    ck_split._top_features = step("_top_features", ck_split._top_features)
    ck_split._write_report = step("_write_report", ck_split._write_report)
    threading.Thread(target=sample, daemon=True).start()
    out_dir = WORK / "out-phases"
    shutil.rmtree(out_dir, ignore_errors=True)
    current[0] = "between steps"
    started = time.perf_counter()
    try:
        result = ck_split.split(args.train, test=args.test, out=str(out_dir), field="text", valid_size=VALID_SIZE,
                                sample=args.sample, mem=args.mem, seed=args.seed)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    total = time.perf_counter() - started
    order = sorted(set(seconds) | set(peak), key=lambda k: -seconds.get(k, 0.0))
    return {"corpuskit": str(Path(corpuskit.__file__).parent), "mem": args.mem, "sample": args.sample,
            "sample_records": result.report.get("sample_records"), "total_s": round(total, 1),
            "steps": {k: {"s": round(seconds.get(k, 0.0), 1), "cpu_s": round(cpu.get(k, 0.0), 1),
                          "peak_rss_mb": round(peak.get(k, 0) / 2**20)} for k in order}}


def child_main(argv: list[str]) -> None:
    """``--child score-ck|score-base``: one scoring measurement; its figures as JSON on stdout."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=["score-ck", "score-base", "phases"])
    parser.add_argument("--snapshot")
    for name in ("--train", "--test", "--scores", "--mem"):
        parser.add_argument(name)
    parser.add_argument("--sample", type=int)
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    if args.snapshot:
        sys.path.insert(0, args.snapshot)   # before the repository root, which running this file put first
    child = {"score-ck": child_score_corpuskit, "score-base": child_score_baseline, "phases": child_phases}
    result = child[args.child](args)
    print(json.dumps(result))


# ---------------------------------------------------------------- one measurement

def _count_lines(path: Path) -> int:
    count = 0
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(16 << 20)
        while n := f.readinto(buf):
            count += int(np.count_nonzero(np.frombuffer(buf, np.uint8, n) == 10))
    return count


def length_stats(path: Path) -> dict:
    """UTF-8 bytes of the texts of a JSONL file: mean, median, and the share of records of 1,000 bytes or more."""
    with open(path, encoding="utf-8") as f:
        lengths = np.array([len(json.loads(line)["text"].encode()) for line in f])
    return {"records": len(lengths), "mean_bytes": round(float(lengths.mean()), 1),
            "median_bytes": float(np.median(lengths)), "share_ge_1kb": round(float(np.mean(lengths >= 1000)), 4)}


def run(key: str, argv: list[str], data: dict, args: argparse.Namespace, snap: Path | None,
        stdout: Path | None = None) -> dict:
    """Syncs and warms both inputs, waits for quiet if asked, then runs ``argv`` in a fresh child and measures it."""

    os.sync()
    warm_s = sum(m.warm(REPO / data[role]["path"]) for role in ("train", "test"))
    quiet = m.wait_quiet(args.wait_quiet) if args.wait_quiet > 0 else None
    child = m.run_child(argv, args.timer, WORK, stdout_path=stdout, env=_env(snap))
    result = {"key": key, "argv": argv, **child.times(), "cpu_util": child.cpu_util(), **child.load(),
              **child.counters(COUNTERS), "warm_read_s": round(warm_s, 2), "wait_quiet": quiet}
    train = data["train"]
    result["records_per_s"] = round(train["records"] / child.wall)
    result["mb_per_s"] = round(train["bytes"] / 1e6 / child.wall, 2)
    return result


def measure_split(key: str, mem: str, sample: int | None, data: dict, args: argparse.Namespace,
                  snap: Path | None) -> dict:
    """``corpuskit split`` on the training and test files; its report, and a check of its outputs."""
    out = WORK / f"out-{key}"
    shutil.rmtree(out, ignore_errors=True)
    argv = [m.corpuskit_bin(), "split", str(REPO / data["train"]["path"]), "--test", str(REPO / data["test"]["path"]),
            "-o", str(out), "--valid-size", str(VALID_SIZE), "--field", "text"]
    argv += (["--sample", str(sample)] if sample is not None else []) + ["--mem", mem, "--seed", str(args.seed), "-q"]
    result = run(key, argv, data, args, snap)
    try:
        report = json.loads((out / "report.json").read_text())
        lines = {name: _count_lines(out / f"{name}.jsonl") for name in ("train", "valid")}
        result["mem"] = mem
        result["report"] = {k: report.get(k) for k in (
            "train_records", "test_records", "test_held_out", "sample_records", "auc_train_vs_test",
            "auc_valid_vs_test", "auc_random_vs_test", "effective_sample_size", "valid_draws", "valid_unique",
            "train_kept", "method_used", "seconds")}
        result["report"]["top_features"] = {side: [f["ngram"] for f in feats[:8]]
                                            for side, feats in report.get("top_features", {}).items()}
        result["output_lines"] = lines
        result["valid_lengths"] = length_stats(out / "valid.jsonl")   # against the test set's, in "data"
        result["output_bytes"] = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
        result["output_ok"] = (report["train_records"] == data["train"]["records"]
                               and lines["train"] == report["train_kept"] and lines["valid"] == report["valid_draws"]
                               and report["valid_draws"] == VALID_SIZE)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    if not result["output_ok"]:
        raise RuntimeError(f"{key}: the outputs do not add up: {result}")
    return result


def measure_score(key: str, data: dict, args: argparse.Namespace, snap: Path | None) -> dict:
    """One scoring child (``score-ck`` or ``score-base``); its phases come back on its stdout."""
    scores = WORK / f"scores-{key}.f64"
    report = WORK / f"child-{key}.json"
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", key,
            "--train", str(REPO / data["train"]["path"]), "--test", str(REPO / data["test"]["path"]),
            "--scores", str(scores), "--sample", str(args.score_sample), "--mem", MEM_BIG, "--seed", str(args.seed)]
    if snap is not None:
        argv += ["--snapshot", str(snap)]
    result = run(key, argv, data, args, snap, stdout=report)
    phases = json.loads(report.read_text())
    report.unlink()
    result.update(phases)
    result["score_records_per_s"] = round(phases["records"] / phases["score_s"])
    result["score_mb_per_s"] = round(data["train"]["bytes"] / 1e6 / phases["score_s"], 2)
    if phases["records"] != data["train"]["records"]:
        raise RuntimeError(f"{key} scored {phases['records']:,} records, not {data['train']['records']:,}")
    return result


def compare_scores(n: int) -> dict | None:
    """Pearson and Spearman correlation of corpuskit's and the baseline's D over the training set (then deletes them)."""
    paths = [WORK / f"scores-{k}.f64" for k in ("score-ck", "score-base")]
    try:
        if not all(p.exists() for p in paths):
            return None
        a, b = (np.fromfile(p, dtype=np.float64) for p in paths)
        if len(a) != n or len(b) != n:
            return {"error": f"lengths {len(a)}, {len(b)}, expected {n}"}
        ranks = [np.argsort(np.argsort(x, kind="stable"), kind="stable").astype(np.float64) for x in (a, b)]
        return {"pearson": round(float(np.corrcoef(a, b)[0, 1]), 4),
                "spearman": round(float(np.corrcoef(*ranks)[0, 1]), 4),
                "mean_d": {"corpuskit": round(float(a.mean()), 4), "baseline": round(float(b.mean()), 4)}}
    finally:
        for p in paths:
            p.unlink(missing_ok=True)


# ---------------------------------------------------------------- summary

def _say(r: dict) -> None:
    waited = f" (waited {r['wait_quiet']['waited_s']}s for quiet)" if r.get("wait_quiet") else ""
    extra = ""
    if "score_s" in r:
        extra = f"  scoring pass {r['score_s']:.1f}s = {r['score_records_per_s']:,} records/s"
    print(f"{r['key']:<16} wall {r['wall']:8.2f}s  cpu {r['cpu']:8.2f}s  peak {r['peak_rss_mb']:7.0f} MB  "
          f"other load {r['other_load_cores']:.2f}{waited}{extra}", flush=True)


def table_row(_: str, key: str, r: dict) -> str:
    """records/s and MB/s over the whole child; for the scoring children, the scoring pass's records/s too."""
    scoring = f"{r['score_records_per_s']:,}/s" if "score_records_per_s" in r else "-"
    return (f"{r['name']:<44} {r['wall']:>7.1f}s {r['cpu']:>7.1f}s {r['user']:>7.1f}s {r['sys']:>6.1f}s "
            f"{r['peak_rss_mb']:>7.0f}MB {r['records_per_s']:>10,} {r['mb_per_s']:>6.2f} {scoring:>13} "
            f"{r['other_load_cores']:>5.2f}c")


NAMES = {"ck-split": f"corpuskit split --mem {MEM_BIG} (whole run)",
         "ck-split-mem1G": f"corpuskit split --mem {MEM_SMALL} --sample {SAMPLE_SMALL:,}",
         "score-ck": "scoring child: corpuskit (fit + pass)",
         "score-base": "scoring child: json.loads + HashingVectorizer"}


def claims(runs: dict[str, dict]) -> list[dict]:
    out = []
    for key in ("ck-split", "ck-split-mem1G"):
        r = runs.get(key)
        if r:
            limit = parse_size(r["mem"]) / 2**20
            under = r["peak_rss_mb"] < limit
            out.append({"claim": f"{NAMES[key]}: peak RSS under --mem", "measured": f"{r['peak_rss_mb']:.0f} MiB "
                        f"of {limit:.0f} MiB ({r['peak_rss_mb'] / limit:.2f})", "target": "< --mem",
                        "holds": under, "verdict": "holds" if under else "fails"})
    ck, base = runs.get("score-ck"), runs.get("score-base")
    if ck and base:
        ratio = m.ratio(ck["score_records_per_s"], base["score_records_per_s"])
        out.append({"claim": "scoring records/s, corpuskit / Python baseline", "measured":
                    f"{ck['score_records_per_s']:,} / {base['score_records_per_s']:,} = {ratio}",
                    "target": "report", "holds": None, "verdict": "reported", "ratio": ratio})
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = m.arg_parser("split", __doc__)
    parser.add_argument("--size", default="1G", help="training file size (default 1G = 1 GiB)")
    parser.add_argument("--test-size", default="20M", help="test file size (default 20M = 20 MiB)")
    parser.add_argument("--seed", type=int, default=1, help="corpuskit's --seed (default 1); data seeds are fixed")
    parser.add_argument("--only", default="", help="comma-separated keys (default all): " + ", ".join(NAMES))
    parser.add_argument("--score-sample", type=int, default=SAMPLE_SMALL,
                        help=f"training records the scoring children fit on (default {SAMPLE_SMALL:,}; the scoring "
                             "pass costs the same whatever the fit)")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="before each measurement, wait up to this long for the machine's load to drop under "
                             "0.25 cores (default 0: don't wait)")
    parser.add_argument("--no-snapshot", action="store_true", help="measure the working tree, not a copy of it")
    parser.add_argument("--phases", action="store_true",
                        help="instead: time split's steps and their peak RSS, in-process, at --mem 2G (default sample) "
                             f"and --mem 1G --sample {SAMPLE_SMALL:,}; writes {PHASE_RESULTS.relative_to(REPO)}")
    args = m.parse_args(parser, RESULTS, argv)
    if args.phases and Path(args.out) == RESULTS:
        args.out = str(PHASE_RESULTS)
    return args


def main_phases(args: argparse.Namespace, argv: list[str] | None, data: dict, snap: Path | None,
                measured: str) -> None:
    """``--phases``: one instrumented child per --mem setting; a table of the steps and the results JSON."""
    session = m.Session.begin("split", args.timer, argv, WORK)
    runs = {}
    for key, mem, sample in (("ck-split", MEM_BIG, 100_000), ("ck-split-mem1G", MEM_SMALL, SAMPLE_SMALL)):
        report = WORK / f"child-phases-{key}.json"
        argv_ = [sys.executable, str(Path(__file__).resolve()), "--child", "phases",
                 "--train", str(REPO / data["train"]["path"]), "--test", str(REPO / data["test"]["path"]),
                 "--sample", str(sample), "--mem", mem, "--seed", str(args.seed)]
        if snap is not None:
            argv_ += ["--snapshot", str(snap)]
        r = run(key, argv_, data, args, snap, stdout=report)
        r.update(json.loads(report.read_text()))
        report.unlink()
        runs[key] = r
        print(f"\n{key}: --mem {mem}, sample {r['sample_records']:,}: {r['total_s']} s in split(), "
              f"child peak RSS {r['peak_rss_mb']:.0f} MB")
        print(f"  {'step':<48} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12}")
        for name, st in r["steps"].items():
            print(f"  {name:<48} {st['s']:>8.1f} {st['cpu_s']:>8.1f} {st['peak_rss_mb']:>12}")
    result = session.header()
    result.update({"data": data, "corpuskit_measured": measured, "split_sources_sha256": _split_sha(snap or REPO),
                   "runs": runs})
    m.write_json(Path(args.out), result)


def main(argv: list[str] | None = None) -> None:
    """Runs the benchmark; prints the table and the claims and writes the results JSON."""
    if argv is None and "--child" in sys.argv:
        child_main(sys.argv[1:])
        return
    args = parse_args(argv)
    wanted = [k.strip() for k in args.only.split(",") if k.strip()] or list(NAMES)
    unknown = [k for k in wanted if k not in NAMES]
    if unknown:
        raise SystemExit(f"unknown key(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    WORK.mkdir(parents=True, exist_ok=True)
    _, train = ensure_data("train", parse_size(args.size), 0)
    test_path, test = ensure_data("test", parse_size(args.test_size), TEST_SEED_OFFSET)
    data = {"train": train, "test": {**test, "lengths": length_stats(test_path)}}
    snap = None if args.no_snapshot else snapshot()
    measured = imported_from(snap)
    if args.phases:
        main_phases(args, argv, data, snap, measured)
        return
    session = m.Session.begin("split", args.timer, argv, WORK)
    print(f"train {train['path']}: {train['bytes']:,} bytes, {train['records']:,} records {train['langs']}\n"
          f"test  {test['path']}: {test['bytes']:,} bytes, {test['records']:,} records {test['langs']}\n"
          f"corpuskit measured: {measured}", flush=True)

    runs: dict[str, dict] = {}
    for key in wanted:
        if key == "ck-split":
            r = measure_split(key, MEM_BIG, None, data, args, snap)
        elif key == "ck-split-mem1G":
            r = measure_split(key, MEM_SMALL, SAMPLE_SMALL, data, args, snap)
        else:
            r = measure_score(key, data, args, snap)
        r["name"] = NAMES[key]
        runs[key] = r
        _say(r)
    agreement = compare_scores(train["records"])

    verdicts = claims(runs)
    m.print_report(TABLE_HEADER, {"": runs}, table_row, verdicts, CLAIM_LINE)
    for key in ("score-ck", "score-base"):
        r = runs.get(key)
        if r:
            steps = ", ".join(f"{k} {v:.1f}s" for k, v in r["score_steps_s"].items())
            print(f"{key}: fit {r['fit_s']:.1f}s on {r['sample_records']:,} + {r['fit_test_records']:,}; scoring pass "
                  f"{r['score_s']:.1f}s = {r['score_records_per_s']:,} records/s, {r['score_mb_per_s']} MB/s ({steps})"
                  + (f"; read-only pass {r['read_only_pass_s']:.1f}s" if "read_only_pass_s" in r else ""))
    if agreement:
        print(f"D of corpuskit vs the baseline over the training set: {agreement}")
    for key in ("ck-split", "ck-split-mem1G"):
        r = runs.get(key)
        if r:
            rep, v, t = r["report"], r["valid_lengths"], data["test"]["lengths"]
            print(f"{key}: sample {rep['sample_records']:,}, AUC train/test {rep['auc_train_vs_test']}, valid/test "
                  f"{rep['auc_valid_vs_test']}, random/test {rep['auc_random_vs_test']}, ESS {rep['effective_sample_size']:,}"
                  f"; valid texts mean {v['mean_bytes']:.0f} B, {v['share_ge_1kb']:.1%} >= 1 KB "
                  f"(test: {t['mean_bytes']:.0f} B, {t['share_ge_1kb']:.1%})")

    result = session.header()
    result.update({
        "data": data, "corpuskit_measured": measured,
        "split_sources_sha256": _split_sha(snap or REPO), "working_tree_split_sha256_at_end": _split_sha(REPO),
        "settings": {"valid_size": VALID_SIZE, "mem": MEM_BIG, "mem_small": MEM_SMALL, "sample_small": SAMPLE_SMALL,
                     "score_sample": args.score_sample, "baseline_batch": BATCH, "baseline_tokens": BASELINE_TOKENS,
                     "seed": args.seed, "wait_quiet_s": args.wait_quiet},
        "claims": verdicts, "score_agreement": agreement, "runs": runs,
    })
    m.write_json(Path(args.out), result)


if __name__ == "__main__":
    main()
