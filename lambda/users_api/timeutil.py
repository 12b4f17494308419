"""The one clock and timestamp format of the API (ISO 8601, UTC, milliseconds, ``Z``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Timezone-aware current time (never the naive ``datetime.utcnow``)."""
    return datetime.now(UTC)


def iso_timestamp(moment: datetime) -> str:
    """``2026-11-25T10:00:00.123Z``."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
