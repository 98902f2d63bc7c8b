"""Fixtures shared by the tests."""

from __future__ import annotations

import tempfile
import threading
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
    running = [t.name for t in threading.enumerate() if t.name.startswith("corpuskit-")]
    assert running == [], running



def pytest_configure(config: pytest.Config) -> None:
    """An exception ignored in a finalizer (it would print a traceback to a user's terminal) fails the test."""
    config.addinivalue_line("filterwarnings", "error::pytest.PytestUnraisableExceptionWarning")
