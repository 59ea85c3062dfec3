"""Rate limits as the reference sets them, per client, with Retry-After and a readable message."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from mizual.errors import RateLimited
from mizual.kit.ratelimit import RateLimiter, Rule
from tests.support import data_url, jpeg_bytes, submit, wait_for

IMAGE = jpeg_bytes(64, 48)


def assert_refused(response: httpx.Response, *, words: str, max_wait: int) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["error"] == "rate_limited"
    assert words in body["detail"]
    assert "Try again in" in body["detail"]
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= max_wait
    assert response.headers["RateLimit-Remaining"] == "0"


def test_daily_image_limit_counts_only_accepted_edits(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server({"RATE_LIMIT_DAILY_IMAGES": "2", "RATE_LIMIT_BURST_SECONDS": "0"})
    with server.client() as client:
        rejected = submit(client, "make it brighter", b"not an image at all")
        assert rejected.status_code == 415  # a refused upload does not spend the allowance
        for _ in range(2):
            assert submit(client, "make it brighter", IMAGE).status_code == 200
        assert_refused(
            submit(client, "make it brighter", IMAGE),
            words="at most 2 edits a day",
            max_wait=24 * 3600,
        )


# The production profile's limits, as a user gets them (RATE_LIMIT_INVALID_EDITS_PER_MINUTE: 20).
REFERENCE_LIMITS = {
    "RATE_LIMIT_DAILY_IMAGES": "3",
    "RATE_LIMIT_BURST_SECONDS": "10",
    "RATE_LIMIT_INVALID_EDITS_PER_MINUTE": "20",
}


def test_invalid_requests_spend_neither_the_burst_window_nor_the_daily_images(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server({**REFERENCE_LIMITS, "MAX_UPLOAD_BYTES": "100000"})
    with server.client() as client:
        refusals = [
            submit(client, "make it brighter", b"not an image at all"),  # 415
            submit(client, "   ", IMAGE),  # 422: an empty prompt
            client.post("/edit-image/", json={"image": data_url(IMAGE)}),  # 422: no prompt
            client.post("/edit-image/", content=b"prompt=x"),  # 415: not JSON
            submit(client, "make it brighter", b"\xff" * 200_000),  # 413
            submit(client, "again", IMAGE, parent="00000000-0000-4000-8000-000000000000"),  # 404
        ]
        assert [r.status_code for r in refusals] == [415, 422, 422, 415, 413, 404]
        assert all("rate" not in r.json()["detail"] for r in refusals)

        # The first valid edit goes through: none of the above opened the 10 s window ...
        assert submit(client, "make it brighter", IMAGE).status_code == 200
        # ... and the reference's limits hold for valid requests.
        assert_refused(
            submit(client, "make it brighter", IMAGE),
            words="only one edit every 10 seconds",
            max_wait=10,
        )


def test_daily_images_are_spent_only_by_valid_requests(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server({**REFERENCE_LIMITS, "RATE_LIMIT_BURST_SECONDS": "0"})
    with server.client() as client:
        for _ in range(5):
            assert submit(client, "make it brighter", b"GIF89a nope").status_code == 415
        for _ in range(3):
            assert submit(client, "make it brighter", IMAGE).status_code == 200
        assert_refused(
            submit(client, "make it brighter", IMAGE), words="at most 3 edits a day", max_wait=86400
        )


def test_a_flood_of_invalid_requests_is_refused_before_its_bodies_are_read(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(REFERENCE_LIMITS)  # the default: 20 invalid requests a minute
    with server.client() as client:
        for _ in range(20):
            assert submit(client, "make it brighter", b"not an image").status_code == 415
        # Past the budget, even a valid request waits: the client is sending junk.
        refused = submit(client, "make it brighter", IMAGE)
        assert_refused(refused, words="at most 20 invalid edit requests a minute", max_wait=60)

    # The refusal comes before the body: a request that announces 10 MB and sends none of it is
    # answered at once.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(
            b"POST /edit-image/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\n\r\n{"
        )
        reply = raw.makefile("rb")
        status_line = reply.readline().decode()
        headers = dict(
            line.decode().strip().lower().split(": ", 1) for line in iter(reply.readline, b"\r\n")
        )
        body = json.loads(reply.read(int(headers["content-length"])))
    assert status_line.startswith("HTTP/1.1 429"), status_line
    assert "invalid edit requests" in body["detail"]


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_a_refund_gives_back_the_newest_request(store: str, request: pytest.FixtureRequest) -> None:
    uri = "memory://" if store == "memory" else request.getfixturevalue("redis_url")
    limiter = RateLimiter(uri)
    rule = Rule.of("edit_daily", "2/day", "at most 2 edits a day")
    limiter.hit(rule, "10.0.0.1")
    limiter.hit(rule, "10.0.0.1")
    with pytest.raises(RateLimited):
        limiter.hit(rule, "10.0.0.1")
    limiter.refund(rule, "10.0.0.1")
    limiter.hit(rule, "10.0.0.1")  # the refunded one, taken again
    with pytest.raises(RateLimited):
        limiter.hit(rule, "10.0.0.1")
    limiter.refund(rule, "10.0.0.2")  # nothing to give back: no effect, no error
    limiter.hit(rule, "10.0.0.2")


def test_burst_protection_allows_one_edit_per_window(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server({"RATE_LIMIT_DAILY_IMAGES": "100", "RATE_LIMIT_BURST_SECONDS": "30"})
    with server.client() as client:
        assert submit(client, "make it brighter", IMAGE).status_code == 200
        assert_refused(
            submit(client, "make it brighter", IMAGE),
            words="one edit every 30 seconds",
            max_wait=30,
        )


def test_burst_protection_off_when_window_is_zero(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server({"RATE_LIMIT_DAILY_IMAGES": "100", "RATE_LIMIT_BURST_SECONDS": "0"})
    with server.client() as client:
        ids = [submit(client, "flip it", IMAGE).json()["edit_id"] for _ in range(4)]
        assert all(wait_for(client, edit_id)["is_complete"] for edit_id in ids)


def test_status_checks_per_minute(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server({"RATE_LIMIT_STATUS_CHECKS_PER_MINUTE": "3"})
    with server.client() as client:
        edit_id = submit(client, "flip it", IMAGE).json()["edit_id"]
        for _ in range(3):
            assert client.get(f"/edit/{edit_id}").status_code == 200
        assert_refused(client.get(f"/edit/{edit_id}"), words="3 status checks", max_wait=60)
        # Other endpoints keep their own budgets.
        assert client.get(f"/chain/{edit_id}").status_code == 200


def test_chain_and_feedback_limits(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server()
    with server.client() as client:
        edit_id = submit(client, "flip it", IMAGE).json()["edit_id"]
        for _ in range(10):
            assert client.get(f"/chain/{edit_id}").status_code == 200
        assert_refused(client.get(f"/chain/{edit_id}"), words="10 chain look-ups", max_wait=60)

        unknown = "00000000-0000-4000-8000-000000000000"
        for _ in range(5):
            response = client.post("/feedback/", json={"edit_uuid": unknown, "rating": 1})
            assert response.status_code == 404
        assert_refused(
            client.post("/feedback/", json={"edit_uuid": edit_id, "rating": 1}),
            words="5 feedback messages",
            max_wait=60,
        )


def test_a_store_failing_while_refusing_still_refuses_with_a_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limiter = RateLimiter()
    rule = Rule.of("status", "1/minute", "at most 1 status check a minute")
    limiter.hit(rule, "10.0.0.1")

    def store_gone(*_args: object) -> None:
        raise ConnectionError("store gone")

    monkeypatch.setattr(limiter._strategy, "get_window_stats", store_gone)
    with pytest.raises(RateLimited) as refused:
        limiter.hit(rule, "10.0.0.1")
    assert refused.value.retry_after == 1
    assert "Try again in 1 second" in refused.value.message
