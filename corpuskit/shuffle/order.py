"""The permutation that sorts random keys, on every core.

Keys are uniform, so their top bits split them into buckets of nearly equal size:
a radix pass (numpy's stable sort of 16-bit values) groups the buckets, and the
buckets are sorted in threads (numpy releases the GIL while sorting). Equal keys
keep their input order, so the result equals one stable sort of all keys.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

PARALLEL_FROM = 1 << 18
TASKS_PER_WORKER = 8


def sorted_order(keys: np.ndarray, workers: int = 1) -> np.ndarray:
    """Indices that sort ``keys`` (uint64), stable."""
    if workers <= 1 or len(keys) < PARALLEL_FROM:
        return np.argsort(keys, kind="stable")
    top = (keys >> np.uint64(48)).astype(np.uint16)
    order = np.argsort(top, kind="stable")
    cuts = np.searchsorted(top[order], np.linspace(0, 1 << 16, workers * TASKS_PER_WORKER + 1)[1:-1])
    bounds = [0, *cuts.tolist(), len(keys)]
    grouped = keys[order]

    def sort_range(lo: int, hi: int) -> None:
        order[lo:hi] = order[lo:hi][np.argsort(grouped[lo:hi], kind="stable")]

    with ThreadPoolExecutor(workers, thread_name_prefix="corpuskit-sort") as pool:
        for future in [pool.submit(sort_range, lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]:
            future.result()
    return order
