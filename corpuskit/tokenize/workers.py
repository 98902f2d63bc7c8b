"""An ordered map over worker processes: results come back in input order, whatever the worker count.

Workers are started with ``spawn`` (never ``fork``: the reader and writer threads
may hold locks), each loads its tokenizer once, and ignores Ctrl-C so only the
main process reports it. A script that sets ``workers > 1`` needs the usual
``if __name__ == "__main__":`` guard, as with any ``multiprocessing`` code.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator

from corpuskit.errors import CorpusError

_state: Any = None


def ordered_map(work: Callable[[Any, Any], Any], setup: Callable[..., Any], setup_args: tuple,
                items: Iterable[Any], workers: int) -> Iterator[Any]:
    """``work(state, item)`` for every item, in order; ``state = setup(*setup_args)`` once per process.

    With one worker everything runs here; with more, at most two items per worker
    are in flight, so memory stays bounded on any input.
    """
    if workers <= 1:
        state = setup(*setup_args)
        for item in items:
            yield work(state, item)
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start, initargs=(setup, setup_args))
    pending: deque[Future] = deque()
    try:
        for item in items:
            pending.append(pool.submit(_call, work, item))
            if len(pending) >= 2 * workers:
                yield _result(pending.popleft())
        while pending:
            yield _result(pending.popleft())
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _start(setup: Callable[..., Any], setup_args: tuple) -> None:
    global _state
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _state = setup(*setup_args)


def _call(work: Callable[[Any, Any], Any], item: Any) -> Any:
    return work(_state, item)


def _result(future: Future) -> Any:
    try:
        return future.result()
    except BrokenProcessPool:
        raise CorpusError("a worker process died (out of memory, or killed); no output was written") from None
