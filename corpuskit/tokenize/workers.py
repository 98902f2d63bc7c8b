"""An ordered map over worker processes: results come back in input order, whatever the worker count.

Each worker is a fresh ``python`` started with ``subprocess`` that imports only
corpuskit, loads its state (a tokenizer) once, and then answers one item at a
time over its stdin and stdout. Unlike ``multiprocessing``'s spawn, nothing
re-runs the user's script, so no ``if __name__ == "__main__"`` guard is needed,
and it works from a notebook or a script piped to ``python -``; unlike fork, it
is safe while the reader and writer threads hold locks. Items go round-robin, so
worker ``i % n`` always gets item ``i``: the order of results needs no bookkeeping.
"""

from __future__ import annotations

import json
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
from collections import deque
from multiprocessing.connection import Connection
from typing import Any, Callable, Iterable, Iterator

from corpuskit.errors import CorpusError

_BOOT = ("import json, os, sys; sys.path[:] = json.loads(os.environ.pop('CORPUSKIT_WORKER_PATH')); "
         "from corpuskit.tokenize.workers import serve; serve()")
_IN_FLIGHT = 2


def ordered_map(work: Callable[[Any, Any], Any], setup: Callable[..., Any], setup_args: tuple,
                items: Iterable[Any], workers: int) -> Iterator[Any]:
    """``work(state, item)`` for every item, in order; ``state = setup(*setup_args)`` once per process.

    With one worker everything runs here. With more, at most two items per worker
    are in flight, so memory stays bounded on any input. An exception raised by
    ``work`` in a worker is raised here, in order.
    """
    if workers <= 1:
        state = setup(*setup_args)
        for item in items:
            yield work(state, item)
        return
    pool = [_Worker(setup, setup_args) for _ in range(workers)]
    pending: deque[_Worker] = deque()
    try:
        for index, item in enumerate(items):
            worker = pool[index % workers]
            worker.submit(work, item)
            pending.append(worker)
            if len(pending) >= _IN_FLIGHT * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for worker in pool:
            worker.stop(kill=bool(pending))


class _Worker:
    """One worker process, with a thread that feeds it so a full pipe never blocks the caller."""

    def __init__(self, setup: Callable[..., Any], setup_args: tuple) -> None:
        env = {**os.environ, "CORPUSKIT_WORKER_PATH": json.dumps(sys.path)}
        self.process = subprocess.Popen([sys.executable, "-c", _BOOT], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, env=env)
        self.to_worker = Connection(os.dup(self.process.stdin.fileno()), readable=False)
        self.from_worker = Connection(os.dup(self.process.stdout.fileno()), writable=False)
        self.process.stdin.close()
        self.process.stdout.close()
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.inbox.put((setup, setup_args))
        self.feeder = threading.Thread(target=self._feed, name="corpuskit-worker-feed", daemon=True)
        self.feeder.start()

    def submit(self, work: Callable[[Any, Any], Any], item: Any) -> None:
        self.inbox.put((work, item))

    def result(self) -> Any:
        try:
            ok, value = self.from_worker.recv()
        except (EOFError, OSError):
            raise CorpusError(f"a worker process died (exit status {self.process.wait()}; out of memory, "
                              "or killed); no output was left under its final name") from None
        if not ok:
            raise value
        return value

    def _feed(self) -> None:
        while True:
            message = self.inbox.get()
            try:
                self.to_worker.send(message)
            except (BrokenPipeError, OSError):
                return
            if message is None:
                return

    def stop(self, kill: bool = False) -> None:
        """Ends the worker: a goodbye when its work is done, a kill when the run stopped early."""
        self.inbox.put(None)
        if kill:
            self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.feeder.join()
        self.to_worker.close()
        self.from_worker.close()


def serve() -> None:
    """The worker's side: set up once, then answer ``(work, item)`` messages until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    inbox = Connection(os.dup(0), writable=False)
    outbox = Connection(os.dup(1), readable=False)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)
    setup, setup_args = inbox.recv()
    try:
        state, failed = setup(*setup_args), None
    except Exception as exc:
        state, failed = None, exc
    while True:
        try:
            message = inbox.recv()
        except EOFError:
            return
        if message is None:
            return
        work, item = message
        try:
            reply = (False, failed) if failed is not None else (True, work(state, item))
        except Exception as exc:
            reply = (False, exc)
        try:
            _send(outbox, reply)
        except BrokenPipeError:
            return


def _send(outbox: Connection, reply: tuple[bool, Any]) -> None:
    """Sends a reply; an exception that cannot be pickled travels as its text."""
    try:
        outbox.send(reply)
    except (pickle.PicklingError, TypeError, AttributeError):
        ok, error = reply
        if ok:
            raise
        outbox.send((False, CorpusError(f"{type(error).__name__}: {error}")))
