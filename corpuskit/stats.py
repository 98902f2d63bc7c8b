"""Counters every stage keeps, and what a run returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Counters:
    """What one stage saw: records in and out, dropped by reason, seconds of its own work.

    Counters of the same stage from several workers add up with ``+``.
    """

    name: str
    records_in: int = 0
    records_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    noted: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n

    def note(self, what: str, n: int = 1) -> None:
        """Counts records that went through but are worth a mention (e.g. text repaired)."""
        self.noted[what] = self.noted.get(what, 0) + n

    def __add__(self, other: "Counters") -> "Counters":
        dropped = dict(self.dropped)
        for reason, n in other.dropped.items():
            dropped[reason] = dropped.get(reason, 0) + n
        noted = dict(self.noted)
        for what, n in other.noted.items():
            noted[what] = noted.get(what, 0) + n
        return Counters(self.name, self.records_in + other.records_in,
                        self.records_out + other.records_out, dropped, self.seconds + other.seconds, noted)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["seconds"] = round(self.seconds, 3)
        return out

    def summary(self) -> str:
        text = f"{self.name}: {self.records_in:,} in, {self.records_out:,} out"
        if self.dropped:
            text += ", dropped " + ", ".join(f"{n:,} {why}" for why, n in sorted(self.dropped.items()))
        if self.noted:
            text += ", " + ", ".join(f"{n:,} {what}" for what, n in sorted(self.noted.items()))
        return text + f", {self.seconds:.2f}s"


@dataclass
class RunStats:
    """What ``Pipeline.run()`` did: records and bytes written, time, every stage's counters."""

    records: int
    bytes: int
    seconds: float
    stages: list[Counters]
    outputs: list[dict[str, Any]] = field(default_factory=list)
    manifest: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "bytes": self.bytes, "seconds": round(self.seconds, 3),
                "stages": [c.as_dict() for c in self.stages], "outputs": self.outputs,
                "manifest": self.manifest}

    def summary(self) -> str:
        rate = self.bytes / self.seconds / 1e6 if self.seconds else 0.0
        lines = [f"{self.records:,} records, {self.bytes:,} bytes in {self.seconds:.2f}s ({rate:.1f} MB/s)"]
        lines += ["  " + c.summary() for c in self.stages]
        return "\n".join(lines)
