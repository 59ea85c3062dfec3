"""Rate limits as the reference sets them, per client, with Retry-After and a readable message."""

from __future__ import annotations

import httpx
import pytest

from mizual.errors import RateLimited
from mizual.kit.ratelimit import RateLimiter, Rule
from tests.support import jpeg_bytes, submit, wait_for

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
