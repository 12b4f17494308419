"""Fuzzing from docs/openapi.yaml: generated requests, valid and mutated, against the deployed API.

Every answer must be a documented status with the documented headers and body, in the JSON
envelope, with nothing internal in it, and never a 5xx; mutated input must be refused with a
4xx. Seeded: the same FUZZ_SEED sends the same requests. FUZZ_EXAMPLES sets the number of
requests (at least); requests run one at a time (the function's concurrency is 5).
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import requests
from hypothesis import HealthCheck, Phase
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection

from e2e.api_client import Api
from e2e.least_privilege.callers import note
from e2e.openapi_check import CHECKS, assert_envelope, schema

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1000"))
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "20261125"))
TIMEOUT = 30
FUZZ_CHECKS = [not_a_server_error, *CHECKS, negative_data_rejection]
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE


@dataclass(frozen=True)
class Target:
    """One operation, generated valid or mutated, optionally aimed at an existing user."""

    label: str
    mode: GenerationMode
    existing_user: bool = False

    def __str__(self) -> str:
        suffix = ", existing user" if self.existing_user else ""
        return f"{self.label} ({self.mode.value}{suffix})"


# Operations with little to vary come first: the request budget they leave goes to the rest.
TARGETS = (
    Target("GET /", POSITIVE),
    Target("OPTIONS /users", POSITIVE),
    Target("OPTIONS /users/{userId}", POSITIVE),
    Target("DELETE /users/{userId}", POSITIVE, existing_user=True),
    Target("GET /users/{userId}", POSITIVE, existing_user=True),
    Target("GET /users/{userId}", POSITIVE),
    Target("GET /users/{userId}", NEGATIVE),
    Target("DELETE /users/{userId}", POSITIVE),
    Target("DELETE /users/{userId}", NEGATIVE),
    Target("GET /users", POSITIVE),
    Target("GET /users", NEGATIVE),
    Target("PUT /users/{userId}", POSITIVE),
    Target("PUT /users/{userId}", NEGATIVE),
    Target("PUT /users/{userId}", POSITIVE, existing_user=True),
    Target("PUT /users/{userId}", NEGATIVE, existing_user=True),
    Target("POST /users", POSITIVE),
    Target("POST /users", NEGATIVE),
)


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    per_target: Counter[str] = field(default_factory=Counter)

    def summary(self, seconds: float) -> str:
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.items()))
        targets = "\n".join(f"  {n:5d}  {target}" for target, n in self.per_target.items())
        return (
            f"\nFuzzing (seed {FUZZ_SEED}): {self.requests} requests in {seconds:.1f} s; "
            f"statuses {statuses}\n{targets}"
        )


@pytest.fixture
def session(api: Api) -> Iterator[requests.Session]:
    with requests.Session() as http:
        # Every request it sends is judged against the callers' policies at the end.
        http.hooks["response"].append(
            lambda response, **_: note(
                response.request.method or "", response.request.url or "", api.base_url
            )
        )
        yield http


def fuzz(target: Target, budget: int, seed: int, api: Api, http: requests.Session, tally: Tally):
    operation = schema().find_operation_by_label(target.label)
    assert operation is not None, f"{target.label} is not in the document"
    fixed: dict[str, Any] = {}
    if target.existing_user:
        fixed["path_parameters"] = {"userId": api.create_user()["UserId"]}
    strategy = operation.as_strategy(generation_mode=target.mode, **fixed)

    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=budget,
        database=None,  # the seed alone decides what is sent
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def send(case: Case[Any]) -> None:
        response = case.call(base_url=api.base_url, session=http, timeout=TIMEOUT)
        tally.requests += 1
        tally.statuses[response.status_code] += 1
        tally.per_target[str(target)] += 1
        headers = {name.title(): values[0] for name, values in response.headers.items()}
        assert_envelope(response.status_code, headers, response.content.decode("utf-8"))
        case.validate_response(response, checks=FUZZ_CHECKS)

    send()


def test_generated_requests_get_documented_answers_and_never_a_5xx(
    api: Api, session: requests.Session, subtests: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the document's operations, each generated valid and mutated
    tally = Tally()
    started = time.monotonic()
    # When at least FUZZ_EXAMPLES generated requests are sent, one at a time
    for index, target in enumerate(TARGETS):
        budget = math.ceil((FUZZ_EXAMPLES - tally.requests) / (len(TARGETS) - index))
        with subtests.test(msg=str(target)):
            fuzz(target, max(budget, 1), FUZZ_SEED + index, api, session, tally)
    with capsys.disabled():
        print(tally.summary(time.monotonic() - started))
    # Then every answer passed the checks (each failing operation is its own subtest failure)
    # and the run sent the requests it was asked for
    assert tally.requests >= FUZZ_EXAMPLES, tally.summary(time.monotonic() - started)
