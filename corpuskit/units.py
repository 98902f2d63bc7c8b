"""Sizes as people write them: 256M, 4G, 1.5GB."""

from __future__ import annotations

import re

from corpuskit.errors import CorpusError

_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str | int) -> int:
    """Bytes in ``text`` (binary units: ``1K`` is 1024); an int passes through."""
    if isinstance(text, int):
        if text < 0:
            raise CorpusError(f"size must not be negative: {text}")
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", str(text), re.IGNORECASE)
    if not match:
        raise CorpusError(f"cannot read {text!r} as a size (examples: 512M, 4G, 1.5G)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def format_size(n: float) -> str:
    """``n`` bytes, short: 1.5G, 300M, 12K."""
    for unit in ("T", "G", "M", "K"):
        if abs(n) >= _UNITS[unit]:
            return f"{n / _UNITS[unit]:.1f}{unit}"
    return f"{int(n)}B"
