"""corpuskit: prepare large training corpora as streaming stages over Arrow record batches.

    from corpuskit import read, write, filter
    (read("data/*.jsonl.zst", field="text") | filter(lambda r: len(r["text"]) > 20)
        | write("clean/", shards=8)).run()

Names load on first use, so ``corpuskit --help`` does not pay for Arrow.
"""

from __future__ import annotations

import importlib
from typing import Any

from corpuskit.version import __version__

_EXPORTS = {
    "CorpusError": "corpuskit.errors", "InputError": "corpuskit.errors", "OutputError": "corpuskit.errors",
    "read": "corpuskit.io.reader", "write": "corpuskit.io.writer", "count": "corpuskit.io.count",
    "Context": "corpuskit.pipeline", "Pipeline": "corpuskit.pipeline", "Stage": "corpuskit.pipeline",
    "filter": "corpuskit.stages", "map": "corpuskit.stages", "map_batches": "corpuskit.stages",
    "Counters": "corpuskit.stats", "RunStats": "corpuskit.stats",
    "shuffle": "corpuskit.shuffle", "fingerprint": "corpuskit.shuffle",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'corpuskit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
