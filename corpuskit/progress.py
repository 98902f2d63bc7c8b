"""Progress bars on stderr: shown on a terminal, hidden in logs, forced either way by the user."""

from __future__ import annotations

import sys

from tqdm import tqdm


def wanted(progress: bool | None) -> bool:
    """Show bars when asked, or by default when stderr is a terminal."""
    if progress is None:
        return sys.stderr.isatty()
    return progress


def bar(progress: bool | None, total: int | None, desc: str, unit: str = "B") -> tqdm:
    """A bar over ``total`` units (bytes scale to kB, MB...), disabled unless ``wanted``."""
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, unit_divisor=1000,
                disable=not wanted(progress), file=sys.stderr, dynamic_ncols=True,
                mininterval=0.2, smoothing=0.1)
