"""Which files an argument names, and what format and compression each one has."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Iterable

from corpuskit.errors import InputError

FORMATS = ("text", "jsonl", "parquet")
COMPRESSIONS = ("zst", "gz")
STDIO = "-"

_FORMAT_BY_EXT = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
_COMPRESSION_BY_EXT = {".zst": "zst", ".zstd": "zst", ".gz": "gz"}
_EXT_BY_FORMAT = {"text": ".txt", "jsonl": ".jsonl", "parquet": ".parquet"}
_EXT_BY_COMPRESSION = {"zst": ".zst", "gz": ".gz"}


@dataclass(frozen=True)
class FileSpec:
    """One input or output file: its path and how its bytes are laid out."""

    path: str
    format: str
    compression: str | None

    @property
    def is_stdio(self) -> bool:
        return self.path == STDIO


def common_format(specs: Iterable[FileSpec]) -> str:
    """The inputs' one format, or JSONL when they mix: the format that holds any record."""
    formats = {s.format for s in specs}
    return formats.pop() if len(formats) == 1 else "jsonl"


def format_from_name(path: str) -> str | None:
    """The format a file name announces, or None when its extension says nothing."""
    root, ext = os.path.splitext(path.lower())
    if ext in _COMPRESSION_BY_EXT:
        ext = os.path.splitext(root)[1]
    if ext == ".txt":
        return "text"
    return _FORMAT_BY_EXT.get(ext)


def detect(path: str, format: str | None = None, compression: str | None = None) -> FileSpec:
    """Format and compression of ``path`` from its extension unless given.

    ``compression=""`` forces none. Unknown extensions are text lines.
    """
    root, ext = os.path.splitext(path.lower())
    found_compression = _COMPRESSION_BY_EXT.get(ext)
    if found_compression:
        ext = os.path.splitext(root)[1]
    if compression is None:
        compression = found_compression
    elif compression in ("", "none"):
        compression = None
    if compression is not None and compression not in COMPRESSIONS:
        raise InputError(f"unknown compression {compression!r} (choose from {', '.join(COMPRESSIONS)})", path)
    format = format or _FORMAT_BY_EXT.get(ext, "text")
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r} (choose from {', '.join(FORMATS)})", path)
    if format == "parquet" and compression is not None and found_compression:
        raise InputError("Parquet files compress internally; name them .parquet, not .parquet"
                         + _EXT_BY_COMPRESSION[compression], path)
    return FileSpec(path, format, compression)


def extension(format: str, compression: str | None) -> str:
    """The file name ending that ``detect`` maps back to ``format`` and ``compression``."""
    ext = _EXT_BY_FORMAT[format]
    if compression and format != "parquet":
        ext += _EXT_BY_COMPRESSION[compression]
    return ext


def expand(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[str]:
    """Files named by paths, globs and folders, in a stable order.

    Arguments keep the order given; a glob's matches and a folder's files are
    sorted by path. Folders are read recursively, skipping names that start with
    ``.`` or ``_`` and the ``manifest.json`` a sharded writer leaves.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[str] = []
    for raw in paths:
        path = os.fspath(raw)
        if path == STDIO:
            files.append(path)
        elif os.path.isdir(path):
            found = _folder_files(path)
            if not found:
                raise InputError("folder holds no data files", path)
            files.extend(found)
        elif os.path.exists(path):
            files.append(path)
        elif glob.has_magic(path):
            matches = sorted(p for p in glob.glob(path, recursive=True) if os.path.isfile(p))
            if not matches:
                raise InputError("no file matches this pattern", path)
            files.extend(matches)
        else:
            raise InputError("no such file", path)
    if not files:
        raise InputError("no input files given")
    return files


def _folder_files(folder: str) -> list[str]:
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        for name in names:
            if name.startswith((".", "_")) or name == "manifest.json":
                continue
            found.append(os.path.join(root, name))
    return sorted(found)


def size_of(path: str) -> int | None:
    """Bytes on disk, or None for stdin and other streams."""
    if path == STDIO:
        return None
    try:
        return os.path.getsize(path)
    except OSError:
        return None
