"""Redis as the shared cache and rate-limit store, and what happens when it is down."""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from tests.support import MizualServer, edit_and_wait, free_port, jpeg_bytes, submit

ADMIN = {"Authorization": "Bearer redis-admin"}


def test_status_is_written_through_to_redis(make_server, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    server = make_server({"REDIS_URL": redis_url, "ADMIN_TOKEN": "redis-admin"})
    with server.client() as client:
        status = edit_and_wait(client, "make it black and white", jpeg_bytes(64, 48))
        assert status["status"] == "completed"
        plain = redis.Redis.from_url(redis_url)
        entry = plain.get(f"c2:preview:status:{status['uuid']}")
        assert entry is not None
        run_id, version, payload = entry.split(b"|", 2)
        # Stamped with the server's run and the row's version (see kit/rediscache.py).
        assert run_id.decode() == plain.info("server")["run_id"]
        # Created at 0; the claim, then ai_processing, uploading_result and completed: the
        # stages with nothing to wait for ride on those writes.
        assert int(version) == 4
        cached = json.loads(payload)
        # The worker wrote the final state itself: the cache is never behind the database.
        assert cached["status"] == "completed"
        assert cached["edited_image_url"] == status["edited_image_url"]
        assert client.get(f"/edit/{status['uuid']}").json() == cached

        stats = client.get("/debug/cache-stats", headers=ADMIN).json()
        assert stats["backend"] == "redis"
        assert stats["keyspace_hits"] >= 1
        assert stats["environment"] == "preview"


def test_rate_limits_hold_across_api_processes(make_server, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    settings = {"REDIS_URL": redis_url, "RATE_LIMIT_STATUS_CHECKS_PER_MINUTE": "3"}
    first = make_server(settings)
    with first.client() as a:
        edit_id = submit(a, "flip it", jpeg_bytes(64, 48)).json()["edit_id"]
        assert a.get(f"/edit/{edit_id}").status_code == 200
        assert a.get(f"/edit/{edit_id}").status_code == 200
    # A second API process on the same data, as behind a load balancer.
    second = make_server(settings, data_dir=first.data_dir)
    with second.client() as b:
        assert b.get(f"/edit/{edit_id}").status_code == 200  # the third check of three
        refused = b.get(f"/edit/{edit_id}")
        assert refused.status_code == 429
        assert "3 status checks" in refused.json()["detail"]
        # Counted in Redis from the event loop (asyncio client): the same answer as in memory.
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["RateLimit-Limit"] == "3"


@pytest.mark.faults
def test_redis_down_degrades_to_the_database(make_server) -> None:  # type: ignore[no-untyped-def]
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    server = make_server({"REDIS_URL": dead_redis, "ADMIN_TOKEN": "redis-admin"})
    with server.client() as client:
        status = edit_and_wait(client, "make it black and white", jpeg_bytes(64, 48))
        assert status["status"] == "completed"
        assert client.get("/health").json()["status"] == "ok"
        stats = client.get("/debug/cache-stats", headers=ADMIN)
        assert stats.status_code == 200
        assert "not reachable" in stats.json()["error"]
    log = server.log()
    assert "answering from the database" in log
    assert "allowing the request" in log


def test_daily_limit_is_shared_by_api_processes(make_server, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    settings = {
        "REDIS_URL": redis_url,
        "RATE_LIMIT_DAILY_IMAGES": "2",
        "RATE_LIMIT_BURST_SECONDS": "0",
    }
    first = make_server(settings)
    second = make_server(settings, data_dir=first.data_dir)
    with first.client() as a, second.client() as b:
        assert submit(a, "flip it", jpeg_bytes(64, 48)).status_code == 200
        assert submit(b, "flip it", jpeg_bytes(64, 48)).status_code == 200
        for client in (a, b):
            refused = submit(client, "flip it", jpeg_bytes(64, 48))
            assert refused.status_code == 429
            assert "at most 2 edits a day" in refused.json()["detail"]


class _SilentServer:
    """Accepts TCP connections and never answers: Redis hung, or a firewall dropping packets."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.connections.append(self.sock.accept()[0])

    def close(self) -> None:
        for connection in self.connections:
            connection.close()
        self.sock.close()


@pytest.mark.faults
def test_a_hung_redis_slows_status_polls_but_does_not_stop_them(make_server) -> None:  # type: ignore[no-untyped-def]
    silent = _SilentServer()
    try:
        server = make_server({"REDIS_URL": f"redis://127.0.0.1:{silent.port}/0"})
        with server.client() as client:
            status = edit_and_wait(client, "flip it", jpeg_bytes(64, 48))
            assert status["status"] == "completed"
            # Each poll gives up on the cache and the rate limit after their timeouts (0.5 s)
            # and answers from the database.
            again = client.get(f"/edit/{status['uuid']}", timeout=10)
            assert again.status_code == 200
            assert again.json()["status"] == "completed"
    finally:
        silent.close()
    assert "answering from the database" in server.log()


def _parallel_submissions(servers: list[MizualServer], count: int) -> list[int]:
    """`count` valid submissions at once from one client, spread over the API processes."""
    clients = [server.client() for server in servers]
    try:
        with ThreadPoolExecutor(count) as pool:
            answers = list(
                pool.map(
                    lambda n: submit(clients[n % len(clients)], "flip it", jpeg_bytes(64, 48)),
                    range(count),
                )
            )
    finally:
        for client in clients:
            client.close()
    for answer in answers:
        assert answer.status_code in (200, 429), answer.text
    return sorted(answer.status_code for answer in answers)


def _stored_edits(server: MizualServer) -> int:
    with sqlite3.connect(server.data_dir / "mizual.db") as db:
        return int(db.execute("SELECT count(*) FROM edits").fetchone()[0])


def test_parallel_submissions_never_pass_the_daily_limit(make_server, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    settings = {
        "REDIS_URL": redis_url,
        "RATE_LIMIT_DAILY_IMAGES": "3",
        "RATE_LIMIT_BURST_SECONDS": "0",
    }
    first = make_server(settings)
    second = make_server(settings, data_dir=first.data_dir)
    assert _parallel_submissions([first, second], 12) == [200] * 3 + [429] * 9
    assert _stored_edits(first) == 3


def test_parallel_submissions_get_one_edit_per_burst_window(make_server, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    # The reference's defaults: 3 a day, one every 10 seconds.
    settings = {
        "REDIS_URL": redis_url,
        "RATE_LIMIT_DAILY_IMAGES": "3",
        "RATE_LIMIT_BURST_SECONDS": "10",
    }
    first = make_server(settings)
    second = make_server(settings, data_dir=first.data_dir)
    assert _parallel_submissions([first, second], 8) == [200] + [429] * 7
    assert _stored_edits(first) == 1
