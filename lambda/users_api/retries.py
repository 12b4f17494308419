"""Dependency calls retried inside the request's deadline, each failure classified by what it
says about a write: *refused* (nothing was applied) or *unconfirmed* (it may have been applied).

The SDK's own retries are off (see ``container.py``): a retry the function cannot see could neither
respect the deadline nor be told apart from the first attempt. Every write of the repository is
idempotent across attempts, so retrying an unconfirmed write is safe, and a retry that finds its
own earlier attempt committed reports success.

When the budget runs out, only refused attempts (or none at all) answer 503
``SERVICE_UNAVAILABLE``; a write with an unconfirmed attempt answers 504 ``DEPENDENCY_TIMEOUT``.
A read never has an unknown outcome: it answers 503.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from users_api.deadline import Deadline
from users_api.errors import DependencyTimeout, DependencyUnavailable
from users_api.faults import Outcome, outcome_of
from users_api.observability import logger

T = TypeVar("T")

MAX_ATTEMPTS = 4
FIRST_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 0.5

Settle = Callable[[ClientError, bool], T]


class Attempts:
    """Runs one logical call as attempts that each fit in what is left of the deadline."""

    def __init__(
        self,
        deadline: Deadline,
        *,
        attempt_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._deadline = deadline
        self._attempt_seconds = attempt_seconds
        self._sleep = sleep
        self._jitter = jitter

    def read(self, operation: str, send: Callable[[], T]) -> T:
        return self._run(operation, send, writes=False, settle=None)

    def write(self, operation: str, send: Callable[[], T], settle: Settle[T] | None = None) -> T:
        """``settle(error, earlier_attempt_unconfirmed)`` turns a failed condition into the answer:
        the result of an earlier attempt that committed, or the domain error."""
        return self._run(operation, send, writes=True, settle=settle)

    def another_fits(self) -> bool:
        """Whether one more attempt still ends inside the deadline."""
        return self._deadline.allows(self._attempt_seconds)

    def _run(
        self, operation: str, send: Callable[[], T], *, writes: bool, settle: Settle[T] | None
    ) -> T:
        unconfirmed = False
        last_error: BaseException | None = None
        backoff = FIRST_BACKOFF_SECONDS
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if not self._deadline.allows(self._attempt_seconds):
                break
            try:
                return send()
            except (ClientError, BotoCoreError) as exc:
                outcome = outcome_of(exc)
                if outcome is None:
                    if settle is not None and isinstance(exc, ClientError):
                        return settle(exc, unconfirmed)
                    raise
                unconfirmed = unconfirmed or (writes and outcome is Outcome.UNCONFIRMED)
                last_error = exc
                logger.info(
                    "Dependency call failed",
                    extra={
                        "operation": operation,
                        "attempt": attempt,
                        "error_type": type(exc).__name__,
                        "outcome": outcome.value,
                    },
                )
            if attempt == MAX_ATTEMPTS:
                break
            pause = backoff * (0.5 + self._jitter() / 2)
            if not self._deadline.allows(pause + self._attempt_seconds):
                break
            self._sleep(pause)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        if unconfirmed:
            raise DependencyTimeout(operation=operation) from last_error
        raise DependencyUnavailable() from last_error
