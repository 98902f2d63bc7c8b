"""Errors a user can act on: each names the file, the line and what is wrong."""

from __future__ import annotations

from typing import Callable, Union


class CorpusError(Exception):
    """A failure caused by the input, the arguments or the environment, not by a bug.

    The CLI prints these as one line and exits non-zero; anything else is a bug and
    gets a traceback under ``--debug``.
    """


class InputError(CorpusError):
    """A record or file that cannot be read, located as precisely as we know."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None,
                 snippet: bytes | str | None = None) -> None:
        self.path = path
        self.line = line
        self.reason = message
        self.snippet = snippet
        where = path or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        text = f"{where}: {message}"
        if snippet is not None:
            text += f": {_preview(snippet)}"
        super().__init__(text)

    def __reduce__(self) -> tuple:
        return type(self), (self.reason, self.path, self.line, self.snippet)


class OutputError(CorpusError):
    """An output that cannot be written (exists, is an input, disk full)."""


def _preview(snippet: bytes | str, limit: int = 60) -> str:
    if isinstance(snippet, bytes):
        snippet = snippet.decode("utf-8", errors="replace")
    snippet = snippet.rstrip("\r\n")
    if len(snippet) > limit:
        snippet = snippet[:limit] + "..."
    return repr(snippet)


OnError = Union[str, Callable[[CorpusError], None]]
"""What to do with a bad record: ``"raise"``, ``"skip"`` (counted), or a callable.

A callable gets the error; returning skips the record, raising stops the run.
"""


def check_policy(policy: OnError) -> OnError:
    """``policy`` if it is one of the three kinds, else a clear error."""
    if policy in ("raise", "skip") or callable(policy):
        return policy
    raise CorpusError(f"on_error must be 'raise', 'skip' or a callable, not {policy!r}")


def handle(policy: OnError, error: CorpusError) -> None:
    """Apply ``policy`` to ``error``: re-raise it, or return so the record is skipped."""
    if policy == "raise":
        raise error
    if callable(policy):
        policy(error)
