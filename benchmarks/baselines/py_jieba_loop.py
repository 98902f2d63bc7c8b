"""Baseline: segment a text file line by line with jieba, the way a user would write it in plain Python.

    python py_jieba_loop.py INPUT OUTPUT

Each line (without its ``\\n``) becomes ``" ".join(jieba.lcut(line))``: accurate mode,
HMM on, jieba's default dictionary. Lines are split at ``\\n`` only, as corpuskit does.
jieba's "Building prefix dict ..." messages are silenced.
"""

import logging
import sys

import jieba


def main(src: str, dst: str) -> None:
    jieba.setLogLevel(logging.WARNING)
    with open(src, encoding="utf-8", newline="\n") as f, open(dst, "w", encoding="utf-8", newline="\n") as out:
        for line in f:
            out.write(" ".join(jieba.lcut(line.removesuffix("\n"))) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
