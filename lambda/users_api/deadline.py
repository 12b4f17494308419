"""The request's time budget: every dependency call, retry and backoff must fit inside it.

The function answers before its own timeout, so API Gateway never replaces the answer with a bare
5xx of its own. The budget is what Lambda says is left, minus a margin for building the answer and
flushing logs and metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MARGIN_SECONDS = 1.0
# A context without get_remaining_time_in_millis (a call from a script): the function's timeout.
FALLBACK_BUDGET_SECONDS = 10.0


@dataclass(frozen=True)
class Deadline:
    expires_at: float  # on ``clock``
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def from_context(
        cls,
        context: Any,
        *,
        margin: float = MARGIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> Deadline:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        budget = remaining() / 1000 if callable(remaining) else FALLBACK_BUDGET_SECONDS
        return cls(expires_at=clock() + budget - margin, clock=clock)

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(expires_at=clock() + seconds, clock=clock)

    def remaining(self) -> float:
        return max(0.0, self.expires_at - self.clock())

    def allows(self, seconds: float) -> bool:
        """Whether something that may take ``seconds`` still ends inside the budget."""
        return self.remaining() >= seconds
