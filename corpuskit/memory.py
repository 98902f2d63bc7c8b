"""Keep resident memory close to what is live, so a --mem bound means something.

glibc keeps freed blocks in per-thread arenas and, after the first large free,
serves even large blocks from them; Arrow's default pool (mimalloc) also keeps
freed pages. Both let the resident size drift far above the live data on long
runs. Memory-bounded commands call :func:`bound_allocations` once: large blocks
then come from (and return to) the OS directly, at the cost of page faults.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import pyarrow as pa

M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 20


def bound_allocations() -> None:
    """Large allocations map and unmap memory directly (glibc and Arrow alike)."""
    name = ctypes.util.find_library("c")
    if name:
        try:
            ctypes.CDLL(name).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        except (OSError, AttributeError):
            pass
    pa.set_memory_pool(pa.system_memory_pool())
