"""Paging against DynamoDB's own Limit rule, which moto does not reproduce."""

from __future__ import annotations

from typing import Any

from users_api.deadline import Deadline
from users_api.repository import UserRepository
from users_api.retries import Attempts


def repository_over(table: Any) -> UserRepository:
    return UserRepository(table, table, Attempts(Deadline.after(60), attempt_seconds=3))


class LimitReachedTable:
    """A table that, like DynamoDB, returns a LastEvaluatedKey whenever Limit is reached,
    even when nothing is left to read."""

    def __init__(self, user_ids: list[str]) -> None:
        self.user_ids = user_ids

    def scan(self, *, Limit: int, ExclusiveStartKey: dict[str, str] | None = None, **_: Any):
        start = 0
        if ExclusiveStartKey is not None:
            start = self.user_ids.index(ExclusiveStartKey["UserId"]) + 1
        items = [{"UserId": user_id} for user_id in self.user_ids[start : start + Limit]]
        response: dict[str, Any] = {"Items": items}
        if len(items) == Limit:
            response["LastEvaluatedKey"] = {"UserId": items[-1]["UserId"]}
        return response


def test_a_full_last_page_carries_no_next_key() -> None:
    # Given two users and DynamoDB's Limit rule
    repository = repository_over(LimitReachedTable(["a", "b"]))
    # When a page of two is read
    page = repository.scan_users(limit=2, start_key=None)
    # Then both come back and no empty page is promised
    assert [item["UserId"] for item in page.items] == ["a", "b"]
    assert page.last_key is None


def test_following_the_next_key_reads_every_user_once() -> None:
    repository = repository_over(LimitReachedTable(["a", "b", "c", "d", "e"]))
    seen: list[str] = []
    key = None
    for _ in range(10):
        page = repository.scan_users(limit=2, start_key=key)
        seen += [item["UserId"] for item in page.items]
        key = page.last_key
        if key is None:
            break
    assert seen == ["a", "b", "c", "d", "e"]
