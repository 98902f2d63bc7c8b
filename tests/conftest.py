"""Fixtures shared by the tests."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import pytest


@pytest.fixture
def fresh(tmp_path: Path):
    """A new empty folder under ``tmp_path`` on every call (one per hypothesis example)."""

    def make() -> Path:
        return Path(tempfile.mkdtemp(dir=tmp_path))

    return make


@pytest.fixture(autouse=True)
def no_threads_left():
    """No test leaves a corpuskit thread running, even one that failed on purpose: a thread
    outliving its run is stopped later by the garbage collector, in whatever thread that
    happens to run, where joining it can deadlock."""
    yield
    ours = [t for t in threading.enumerate() if t.name.startswith("corpuskit-")]
    deadline = time.monotonic() + 2  # a read-ahead that reached the end is allowed to finish
    for thread in ours:
        thread.join(max(0.0, deadline - time.monotonic()))
    running = [t.name for t in ours if t.is_alive()]
    assert running == [], running



def pytest_configure(config: pytest.Config) -> None:
    """An exception ignored in a finalizer (it would print a traceback to a user's terminal) fails the test."""
    config.addinivalue_line("filterwarnings", "error::pytest.PytestUnraisableExceptionWarning")
