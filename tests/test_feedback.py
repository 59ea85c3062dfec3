"""Feedback through real HTTP: one rating per edit, text with a thumbs down, IPs anonymised.

`POST /feedback/` allows 5 requests a minute per client and server process, refused ones
included. Every test here sends at most 5 and starts a server of its own for them.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from mizual.feedback.service import anonymize_ip
from tests.support import UNKNOWN_ID, MizualServer, assert_error, edit_and_wait, jpeg_bytes

THANKS = "Thank you for your feedback!"


def completed_edit(client: httpx.Client) -> str:
    status = edit_and_wait(client, "make it a bit brighter", jpeg_bytes(64, 48))
    assert status["status"] == "completed", status
    return str(status["uuid"])


def send(
    client: httpx.Client, edit_id: str, rating: Any, text: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"edit_uuid": edit_id, "rating": rating}
    if text is not None:
        body["feedback_text"] = text
    return client.post("/feedback/", json=body)


def assert_stored(response: httpx.Response, edit_id: str, rating: int, text: str | None) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body["id"], int)
    assert body["edit_uuid"] == edit_id
    assert body["rating"] == rating
    assert body["feedback_text"] == text
    assert body["message"] == THANKS
    created = datetime.fromisoformat(body["created_at"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=1)


def stored_rows(server: MizualServer) -> list[dict[str, Any]]:
    with sqlite3.connect(server.data_dir / "mizual.db") as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT edit_uuid, rating, feedback_text, user_ip FROM edit_feedback ORDER BY id"
        ).fetchall()
    return [dict(row) for row in rows]


def test_thumbs_up_with_and_without_text_and_only_one_per_edit(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server()
    with server.client() as client:
        plain, commented = completed_edit(client), completed_edit(client)

        first = send(client, plain, 1)
        assert_stored(first, plain, 1, None)
        # Text is kept, with its runs of whitespace collapsed.
        with_text = send(client, commented, 1, "  Great   result,\n thanks! ")
        assert_stored(with_text, commented, 1, "Great result, thanks!")

        again = send(client, plain, 0, "changed my mind")
        assert_error(again, 409, "conflict", plain, "already given", "only one is kept")
        # The first rating stands.
        assert [(row["rating"], row["feedback_text"]) for row in stored_rows(server)] == [
            (1, None),
            (1, "Great result, thanks!"),
        ]


def test_thumbs_down_needs_text(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server()
    with server.client() as client:
        edit_id = completed_edit(client)
        for text in (None, "", "   \n\t  "):
            assert_error(
                send(client, edit_id, 0, text),
                422,
                "invalid_input",
                "feedback_text",
                "text is required with a thumbs down",
            )
        # None of the refusals was stored: the edit can still be rated.
        down = send(client, edit_id, 0, "The colours came out wrong")
        assert_stored(down, edit_id, 0, "The colours came out wrong")
        assert [row["rating"] for row in stored_rows(server)] == [0]


def test_feedback_text_is_at_most_2000_characters(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server()
    with server.client() as client:
        edit_id = completed_edit(client)
        too_long = send(client, edit_id, 0, "x" * 2001)
        assert_error(
            too_long, 422, "invalid_input", "feedback_text", "2001 characters", "at most 2000"
        )
        far_too_long = send(client, edit_id, 1, "y" * 25_000)
        assert_error(far_too_long, 422, "invalid_input", "feedback_text")
        assert stored_rows(server) == []

        longest = send(client, edit_id, 0, "z" * 2000)
        assert_stored(longest, edit_id, 0, "z" * 2000)


def test_rating_must_be_0_or_1(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server()
    with server.client() as client:
        edit_id = completed_edit(client)
        for rating in (2, -1, "1", True):
            response = send(client, edit_id, rating, "a comment")
            assert_error(response, 422, "invalid_input", "rating", "Input should be 0 or 1")
        assert stored_rows(server) == []
        # The edit itself was never the problem: a valid rating is taken.
        assert_stored(send(client, edit_id, 1), edit_id, 1, None)


def test_unknown_edit_is_404_and_malformed_id_is_422(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server()
    with server.client() as client:
        missing = send(client, UNKNOWN_ID, 1)
        assert_error(missing, 404, "not_found", f"no edit {UNKNOWN_ID} exists")
        missing_down = send(client, UNKNOWN_ID, 0, "never happened")
        assert_error(missing_down, 404, "not_found", UNKNOWN_ID)

        malformed = send(client, "not-a-uuid", 1)
        assert_error(
            malformed, 422, "invalid_input", "edit_uuid", "'not-a-uuid' is not a valid edit id"
        )
        assert stored_rows(server) == []


def test_stored_ip_is_anonymised(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server()
    with server.client() as client:
        edit_id = completed_edit(client)
        assert_stored(send(client, edit_id, 0, "too dark"), edit_id, 0, "too dark")

    rows = stored_rows(server)
    assert len(rows) == 1
    assert uuid.UUID(str(rows[0]["edit_uuid"])) == uuid.UUID(edit_id)
    assert (rows[0]["rating"], rows[0]["feedback_text"]) == (0, "too dark")
    assert rows[0]["user_ip"] == "127.0.0.0"  # the client was 127.0.0.1


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1", "127.0.0.0"),
        ("203.0.113.77", "203.0.113.0"),
        ("10.1.2.255", "10.1.2.0"),
        ("2001:db8:abcd:1234:5678:9abc:def0:1234", "2001:db8:abcd::"),
        ("2001:db8:abcd:ffff::1", "2001:db8:abcd::"),
        ("::1", "::"),
        ("::ffff:192.168.1.77", "192.168.1.0"),  # IPv4-mapped IPv6: anonymised as IPv4
        ("not an address", None),
        ("unknown", None),  # what the app records when it has no client address
        ("999.1.1.1", None),
        ("", None),
        (None, None),
    ],
)
def test_anonymize_ip(address: str | None, expected: str | None) -> None:
    assert anonymize_ip(address) == expected
