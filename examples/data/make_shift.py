"""Builds the domain-shift pair for the split example and tests from fortunes.jsonl.

Five sources, two languages; train and test hold disjoint records in very different
proportions (train mostly English, test mostly Chinese poems and proverbs), so a random
validation split is far from the test set's mix. Deterministic: standard library only,
records picked by a seeded shuffle of each source.

    python examples/data/make_shift.py        # writes shift-train.jsonl and shift-test.jsonl here
"""

import json
import random
from pathlib import Path

HERE = Path(__file__).parent
# source: (train records, test records)
PLAN = {"science": (460, 160), "linux": (270, 60), "food": (155, 40), "chinese": (150, 320), "tang300": (60, 200)}


def main() -> None:
    by_source: dict[str, list[dict]] = {}
    with open(HERE / "fortunes.jsonl", encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            by_source.setdefault(record["source"], []).append(record)
    rng = random.Random(6)
    train, test = [], []
    for source, (n_train, n_test) in PLAN.items():
        records = by_source[source][:]
        rng.shuffle(records)
        test += records[:n_test]
        train += records[n_test:n_test + n_train]
    rng.shuffle(train)
    rng.shuffle(test)
    for name, records in (("shift-train.jsonl", train), ("shift-test.jsonl", test)):
        with open(HERE / name, "w", encoding="utf-8", newline="\n") as f:
            for record in records:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
