"""Embedded mode serves its local images itself, at /images/<key>, and nothing else there."""

from __future__ import annotations

import httpx


def test_image_route_refuses_path_traversal(server, client: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    assert (server.data_dir / "mizual.db").exists()
    for path in (
        "/images/../mizual.db",
        "/images/%2e%2e/mizual.db",
        "/images/preview/..%2f..%2fmizual.db",
        "/images/..%5cmizual.db",
        "/images//etc/passwd",
        "/images/preview/originals/does-not-exist.jpg",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"SQLite" not in response.content
