"""corpuskit: prepare large training corpora as streaming stages over Arrow record batches.

    from corpuskit import read, write, filter
    (read("data/*.jsonl.zst", field="text") | filter(lambda r: len(r["text"]) > 20)
        | write("clean/", shards=8)).run()
"""

from corpuskit.errors import CorpusError, InputError, OutputError
from corpuskit.io.count import count
from corpuskit.io.reader import read
from corpuskit.io.writer import write
from corpuskit.pipeline import Context, Pipeline, Stage
from corpuskit.shuffle import fingerprint, shuffle
from corpuskit.split import SplitResult, split
from corpuskit.stages import filter, map, map_batches
from corpuskit.stats import Counters, RunStats
from corpuskit.tokenize import Vocab, build_vocab, load_vocab, tokenize
from corpuskit.version import __version__

__all__ = [
    "Context", "CorpusError", "Counters", "InputError", "OutputError", "Pipeline", "RunStats", "Stage",
    "Vocab", "__version__", "build_vocab", "count", "filter", "fingerprint", "load_vocab", "map", "map_batches",
    "read", "shuffle", "split", "SplitResult", "tokenize", "write",
]
