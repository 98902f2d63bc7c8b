"""Overlap reading, computing and writing: Arrow, zstd and file I/O release the GIL."""

from __future__ import annotations

import contextlib
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO, Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
_DONE = object()


@contextlib.contextmanager
def closing(*iterators: Iterable) -> Iterator[None]:
    """Closes the generators among ``iterators`` when the block ends, the last given first.

    A generator that owns threads (a prefetch, a pool of gather workers) left
    suspended by an error must stop here, in the thread that ran it. Left to the
    garbage collector, it is closed in whichever thread happens to collect it,
    where joining its own threads fails or blocks that thread for good.
    """
    try:
        yield
    finally:
        for iterator in reversed(iterators):
            close = getattr(iterator, "close", None)
            if close is not None:
                close()


def prefetch(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yields ``items`` while a thread computes up to ``depth`` ahead; errors arrive in order."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(slots, (item, None), stop):
                    return
            _put(slots, (_DONE, None), stop)
        except BaseException as exc:  # handed to the consumer, raised there
            _put(slots, (_DONE, exc), stop)

    thread = threading.Thread(target=produce, name="corpuskit-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        thread.join()
        close = getattr(items, "close", None)
        if close is not None:
            close()


def _put(slots: queue.Queue, entry: tuple, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            slots.put(entry, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


class WriteBehind:
    """Writes buffers to a stream from a thread, so the caller prepares the next one meanwhile."""

    def __init__(self, stream: BinaryIO, depth: int = 3) -> None:
        self._stream = stream
        self._slots: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="corpuskit-write", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            data = self._slots.get()
            if data is _DONE:
                return
            if self._error is None:
                try:
                    self._stream.write(data)
                except BaseException as exc:
                    self._error = exc

    def write(self, data) -> None:
        if self._error is not None:
            raise self._error
        self._slots.put(data)

    def close(self) -> None:
        """Waits for every buffer to be written; raises the first write error."""
        self._slots.put(_DONE)
        self._thread.join()
        if self._error is not None:
            raise self._error


def ordered_map(fn: Callable[[T], object], items: Iterable[T], workers: int) -> Iterator:
    """``fn`` over ``items`` in ``workers`` threads, results in order, at most ``workers`` ahead."""
    with ThreadPoolExecutor(workers, thread_name_prefix="corpuskit-map") as pool:
        window = []
        for item in items:
            window.append(pool.submit(fn, item))
            if len(window) > workers:
                yield window.pop(0).result()
        for future in window:
            yield future.result()
