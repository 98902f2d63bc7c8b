"""Baseline: jieba's own parallel mode, ``jieba.enable_parallel(N)``, as jieba's README recommends.

    python jieba_parallel.py INPUT OUTPUT [PROCESSES]     # PROCESSES defaults to 2

The whole file is read into one string and given to ``jieba.cut`` (accurate mode, HMM
on), which in parallel mode splits it into lines and segments them with a
``multiprocessing.Pool`` of N forked processes. The tokens come back in order, with
each line's ``\\n`` as a token of its own; they are written joined by spaces, one line
per ``\\n`` token, so the output has the same form as the line-loop baseline's
(``py_jieba_loop.py``) and can be compared with it byte for byte.
"""

import logging
import sys

import jieba


def main(src: str, dst: str, processes: int = 2) -> None:
    jieba.setLogLevel(logging.WARNING)
    jieba.enable_parallel(processes)
    with open(src, encoding="utf-8", newline="\n") as f:
        text = f.read()
    with open(dst, "w", encoding="utf-8", newline="\n") as out:
        line: list[str] = []
        for token in jieba.cut(text):
            if token == "\n":
                out.write(" ".join(line) + "\n")
                line = []
            else:
                line.append(token)
        if line:
            out.write(" ".join(line))
    jieba.disable_parallel()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 2)
