"""Baseline: segment a text file line by line with rjieba (jieba-rs), in plain Python.

    python py_rjieba_loop.py INPUT OUTPUT

Each line (without its ``\\n``) becomes ``" ".join(rjieba.cut(line))``: accurate mode,
HMM on (rjieba's default), rjieba's bundled dictionary. Lines are split at ``\\n`` only.
"""

import sys

import rjieba


def main(src: str, dst: str) -> None:
    with open(src, encoding="utf-8", newline="\n") as f, open(dst, "w", encoding="utf-8", newline="\n") as out:
        for line in f:
            out.write(" ".join(rjieba.cut(line.removesuffix("\n"))) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
