"""Baseline: copy a text file line by line, the way a user would write it in plain Python.

    python py_cat_lines.py INPUT OUTPUT
"""

import sys


def main(src: str, dst: str) -> None:
    with open(src, "rb") as f, open(dst, "wb") as out:
        for line in f:
            out.write(line)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
