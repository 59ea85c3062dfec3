"""Debug endpoints exist only with ADMIN_TOKEN, and answer only to that bearer token."""

from __future__ import annotations

import httpx
import pytest

DEBUG_PATHS = ["/debug/db-schema", "/debug/cache-stats", "/debug/db-performance"]
ADMIN = {"Authorization": "Bearer test-admin-token"}


@pytest.mark.parametrize("path", DEBUG_PATHS)
def test_debug_needs_the_admin_token(client: httpx.Client, path: str) -> None:
    missing = client.get(path)
    assert missing.status_code == 401
    assert "Authorization: Bearer" in missing.json()["detail"]
    wrong = client.get(path, headers={"Authorization": "Bearer test-admin-tokeX"})
    assert wrong.status_code == 401
    basic = client.get(path, headers={"Authorization": "Basic test-admin-token"})
    assert basic.status_code == 401


def test_debug_endpoints_do_not_exist_without_a_token(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server()
    with server.client() as client:
        for path in DEBUG_PATHS:
            assert client.get(path).status_code == 404
            assert client.get(path, headers=ADMIN).status_code == 404


def test_debug_endpoints_are_rate_limited(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server({"ADMIN_TOKEN": "test-admin-token"})
    with server.client() as client:
        for _ in range(3):
            assert client.get("/debug/db-performance", headers=ADMIN).status_code == 200
        refused = client.get("/debug/db-performance", headers=ADMIN)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1


def test_version_and_health_reveal_no_secrets(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server({"ADMIN_TOKEN": "s3cret-admin", "BFL_API_KEY": "bfl-secret-key"})
    with server.client() as client:
        health = client.get("/health")
        assert health.json()["status"] == "ok"
        version = client.get("/version")
        assert version.status_code == 200
        assert version.json()["environment"] == "preview"
        assert version.json()["database"] == "sqlite"
        assert version.json()["storage"] == "local"
        for text in (version.text, health.text):
            assert "s3cret-admin" not in text
            assert "bfl-secret-key" not in text
    assert "s3cret-admin" not in server.log()
