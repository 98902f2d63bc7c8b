"""Outputs appear under their final name complete or not at all.

Data goes to a temporary name beside the target (same folder, so the rename is
atomic) and is renamed when complete; on any failure, Ctrl-C included, the
temporary is removed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from typing import Iterator

from corpuskit.errors import OutputError


def temp_name(final: str) -> str:
    """A hidden, unique name beside ``final``."""
    folder, name = os.path.split(os.path.abspath(final))
    return os.path.join(folder, f".{name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def refuse_existing(final: str, force: bool) -> None:
    """An existing output is kept unless the user said ``force``."""
    if os.path.lexists(final) and not force:
        raise OutputError(f"{final}: output exists (use --force / force=True to replace it)")


def check_folder(final: str) -> None:
    folder = os.path.dirname(os.path.abspath(final))
    if not os.path.isdir(folder):
        raise OutputError(f"{final}: folder {folder} does not exist")


@contextlib.contextmanager
def atomic_file(final: str, force: bool = False) -> Iterator[str]:
    """Yields a temporary path; renames it to ``final`` when the block ends cleanly."""
    refuse_existing(final, force)
    check_folder(final)
    tmp = temp_name(final)
    try:
        yield tmp
        if os.path.isdir(final):
            raise OutputError(f"{final}: is a folder; a file output cannot replace it")
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_dir(final: str, force: bool = False) -> Iterator[str]:
    """Yields a temporary folder; it takes the place of ``final`` when the block ends cleanly."""
    refuse_existing(final, force)
    check_folder(final)
    tmp = temp_name(final)
    os.mkdir(tmp)
    try:
        yield tmp
        if os.path.lexists(final):
            old = temp_name(final)
            os.rename(final, old)
            os.rename(tmp, final)
            _remove(old)
        else:
            os.rename(tmp, final)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
