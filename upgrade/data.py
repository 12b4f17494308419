"""Users written through an earlier release's API, and what each read back as before the upgrade:
the upgrade suite compares the working tree's answers with these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from e2e.api_client import Api, new_user


@dataclass
class StoredUser:
    body: dict[str, Any]  # the `data` of a GET
    etag: str


@dataclass
class KeyedCreate:
    key: str
    request: dict[str, Any]
    user_id: str


@dataclass
class WrittenData:
    users: dict[str, StoredUser] = field(default_factory=dict)  # every user that is still there
    kept_key: KeyedCreate | None = None  # its user is still there
    deleted_key: KeyedCreate | None = None  # its user was deleted


def write_data(api: Api) -> WrittenData:
    """Plain and keyed creates, an update with If-Match and a delete, as a client would."""
    data = WrittenData()
    plain = [_create(api, new_user()) for _ in range(3)]
    data.kept_key = _keyed_create(api, "upgrade-kept")
    data.deleted_key = _keyed_create(api, "upgrade-deleted")

    updated = api.request(
        "PUT",
        f"/users/{plain[0]}",
        json={"name": "Renamed Before The Upgrade"},
        headers={"If-Match": _read(api, plain[0]).etag},
    )
    assert updated.status_code == 200, updated.text
    deleted = api.request("DELETE", f"/users/{data.deleted_key.user_id}")
    assert deleted.status_code in (200, 204), deleted.text

    for user_id in [*plain, data.kept_key.user_id]:
        data.users[user_id] = _read(api, user_id)
    return data


def _create(api: Api, body: dict[str, Any], headers: dict[str, str] | None = None) -> str:
    response = api.request("POST", "/users", json=body, headers=headers or {})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["UserId"])


def _keyed_create(api: Api, key: str) -> KeyedCreate:
    request = new_user()
    return KeyedCreate(key, request, _create(api, request, {"Idempotency-Key": key}))


def _read(api: Api, user_id: str) -> StoredUser:
    response = api.request("GET", f"/users/{user_id}")
    assert response.status_code == 200, response.text
    return StoredUser(body=response.json()["data"], etag=response.headers["ETag"])
