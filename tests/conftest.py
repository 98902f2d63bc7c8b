"""Fixtures shared by the tests."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def fresh(tmp_path: Path):
    """A new empty folder under ``tmp_path`` on every call (one per hypothesis example)."""

    def make() -> Path:
        return Path(tempfile.mkdtemp(dir=tmp_path))

    return make



def pytest_configure(config: pytest.Config) -> None:
    """An exception ignored in a finalizer (it would print a traceback to a user's terminal) fails the test."""
    config.addinivalue_line("filterwarnings", "error::pytest.PytestUnraisableExceptionWarning")
