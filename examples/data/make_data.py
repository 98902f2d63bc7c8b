#!/usr/bin/env python3
"""Regenerate the example data in this folder from Debian's fortune packages.

    apt-get install -y fortunes fortunes-min fortunes-zh
    python examples/data/make_data.py

Writes, beside this script:

    fortunes-en.txt   one English fortune per line
    fortunes-zh.txt   one Chinese fortune per line
    fortunes.jsonl    {"id", "lang", "source", "text"} for both, English first

A fortune is the text between two lines holding only ``%``. Its lines are joined
with one space (runs of spaces and tabs become one space), terminal colour codes
are removed and backspace overstrikes (``_\\bx``) are resolved. Line i of
fortunes-<lang>.txt is the text of the i-th record of that language in
fortunes.jsonl. The output depends only on the package versions (checked below),
so running this again gives the same bytes. Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys

FORTUNES = "/usr/share/games/fortunes"
HERE = os.path.dirname(os.path.abspath(__file__))

# (language, Debian package, fortune file, keep every n-th fortune)
SOURCES = [
    ("en", "fortunes-min", "fortunes", 1),
    ("en", "fortunes-min", "literature", 1),
    ("en", "fortunes-min", "riddles", 1),
    ("en", "fortunes", "education", 1),
    ("en", "fortunes", "food", 1),
    ("en", "fortunes", "linux", 1),
    ("en", "fortunes", "science", 1),
    ("en", "fortunes", "wisdom", 1),
    ("zh", "fortunes-zh", "tang300", 1),
    ("zh", "fortunes-zh", "song100", 1),
    ("zh", "fortunes-zh", "chinese", 8),   # 2 MB in all: every 8th fortune
]

# The versions the committed files were made from.
VERSIONS = {"fortunes-min": "1:1.99.1-7.3", "fortunes": "1:1.99.1-7.3", "fortunes-zh": "2.98"}

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
OVERSTRIKE = re.compile(r"[^\x08]\x08")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def installed_version(package: str) -> str | None:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                             capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def clean(fortune: str) -> str:
    """One line of text: colours removed, overstrikes resolved, whitespace collapsed."""
    text = ANSI.sub("", fortune)
    while True:
        resolved = OVERSTRIKE.sub("", text)
        if resolved == text:
            break
        text = resolved
    text = CONTROL.sub(" ", text)
    return " ".join(text.split())


def fortunes(name: str) -> list[str]:
    """The fortunes of one file, cleaned, empty ones left out."""
    with open(os.path.join(FORTUNES, name), encoding="utf-8") as f:
        body = f.read()
    chunks = re.split(r"^%[ \t]*$", body, flags=re.MULTILINE)
    return [text for text in (clean(c) for c in chunks) if text]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=HERE, help="folder to write to (default: beside this script)")
    args = parser.parse_args()

    for package, expected in VERSIONS.items():
        found = installed_version(package)
        if found is None:
            print(f"make_data: {package} is not installed "
                  "(apt-get install -y fortunes fortunes-min fortunes-zh)", file=sys.stderr)
            return 1
        if found != expected:
            print(f"make_data: warning: {package} is {found}, the committed files came from "
                  f"{expected}; the output may differ", file=sys.stderr)

    records = []
    for lang, package, name, every in SOURCES:
        texts = fortunes(name)[::every]
        records += [{"lang": lang, "source": name, "text": t} for t in texts]
        print(f"{lang} {name:<12} {len(texts):>5} fortunes  ({package})", file=sys.stderr)
    records = [{"id": i, **r} for i, r in enumerate(records)]

    outputs = {
        "fortunes-en.txt": "".join(r["text"] + "\n" for r in records if r["lang"] == "en"),
        "fortunes-zh.txt": "".join(r["text"] + "\n" for r in records if r["lang"] == "zh"),
        "fortunes.jsonl": "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
    }
    for name, text in outputs.items():
        data = text.encode("utf-8")
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
        print(f"{name:<16} {text.count(chr(10)):>6} lines {len(data):>9} bytes  "
              f"sha256 {hashlib.sha256(data).hexdigest()[:16]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
