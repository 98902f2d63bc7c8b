"""The trie file: a versioned header, then flat arrays, each 64-byte aligned, memory-mapped on open.

    bytes 0-7    magic  b"CKTRIE\\r\\n" (a text-mode transfer or another format shows at once)
    bytes 8-11   format version (uint32, little endian)
    bytes 12-19  header length H (uint64)
    bytes 20-27  xxh64 of the header JSON
    bytes 28-..  header JSON (H bytes): metadata, and per array its dtype, offset, length, xxh64
    then the arrays at their offsets; the file ends where the last array ends.

Opening reads the header and maps the arrays without touching their pages, so it
costs the same at any size; ``verify()`` reads every byte and checks the digests.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from typing import Any

import numpy as np
import xxhash

from corpuskit.errors import CorpusError
from corpuskit.io.atomic import atomic_file

MAGIC = b"CKTRIE\r\n"
VERSION = 2
_FIXED = struct.Struct("<8sIQQ")
_ALIGN = 64


def save(path: str, arrays: dict[str, np.ndarray], meta: dict[str, Any], force: bool = False) -> int:
    """Writes the file atomically; returns its size in bytes."""
    directory, offset = {}, 0
    for name, values in arrays.items():
        values = np.ascontiguousarray(values)
        directory[name] = {"dtype": values.dtype.str, "length": int(values.size), "offset": offset,
                           "xxh64": xxhash.xxh64(values.data).hexdigest()}
        offset += _padded(values.nbytes)
    header = json.dumps({"meta": meta, "arrays": directory}, ensure_ascii=False, sort_keys=True).encode()
    start = _padded(_FIXED.size + len(header))
    with atomic_file(path, force) as tmp, open(tmp, "wb") as f:
        f.write(_FIXED.pack(MAGIC, VERSION, len(header), xxhash.xxh64_intdigest(header)))
        f.write(header)
        f.write(b"\0" * (start - _FIXED.size - len(header)))
        for name, values in arrays.items():
            data = np.ascontiguousarray(values).data
            f.write(data)
            f.write(b"\0" * (_padded(data.nbytes) - data.nbytes))
        size = f.tell()
    return size


def load(path: str) -> tuple[dict[str, np.ndarray], dict[str, Any], mmap.mmap | None]:
    """The arrays (read-only views of a memory map) and metadata of a trie file."""
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise CorpusError(f"{path}: cannot open the trie ({exc.strerror or exc})") from None
    with f:
        fixed = f.read(_FIXED.size)
        if len(fixed) < _FIXED.size or not fixed.startswith(MAGIC):
            raise CorpusError(f"{path}: not a corpuskit trie file (build one with 'corpuskit trie build')")
        _, version, header_len, header_hash = _FIXED.unpack(fixed)
        if version != VERSION:
            raise CorpusError(f"{path}: trie format version {version}; this corpuskit reads version {VERSION} "
                              "(build the trie again)")
        size = os.fstat(f.fileno()).st_size
        header = f.read(header_len) if header_len <= size else b""
        if len(header) < header_len or xxhash.xxh64_intdigest(header) != header_hash:
            raise CorpusError(f"{path}: the trie's header is truncated or damaged")
        info = json.loads(header)
        start = _padded(_FIXED.size + header_len)
        end = start + max((a["offset"] + _padded(np.dtype(a["dtype"]).itemsize * a["length"])
                           for a in info["arrays"].values()), default=0)
        if size < end:
            raise CorpusError(f"{path}: truncated: {size:,} bytes of the {end:,} its header describes")
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else None
    arrays = {}
    for name, a in info["arrays"].items():
        dtype = np.dtype(a["dtype"])
        arrays[name] = np.frombuffer(mapped, dtype=dtype, count=a["length"], offset=start + a["offset"]) \
            if a["length"] else np.zeros(0, dtype=dtype)
    meta = info["meta"]
    meta["_digests"] = {name: a["xxh64"] for name, a in info["arrays"].items()}
    return arrays, meta, mapped


def verify(path: str, arrays: dict[str, np.ndarray], digests: dict[str, str]) -> None:
    """Reads every array and checks it against the digest written with it."""
    for name, values in arrays.items():
        if xxhash.xxh64(np.ascontiguousarray(values).data).hexdigest() != digests[name]:
            raise CorpusError(f"{path}: array {name!r} does not match its checksum: the file is damaged")


def _padded(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN
