"""Feedback through real HTTP: only for a completed edit, one rating per edit, text with a
thumbs down, IPs anonymised; and reading it back with `GET /feedback/{edit_uuid}`.

`POST /feedback/` allows 5 requests a minute per client, refused ones included, and
`GET /feedback/{edit_uuid}` 10; every test here is a client of its own and stays within both.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.contract.conftest import Stack
from tests.support import UNKNOWN_ID, assert_error, edit_and_wait, jpeg_bytes

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
    # The reference's answer: success, message, feedback_id; and ours: the stored feedback.
    assert body["success"] is True
    assert isinstance(body["id"], int)
    assert body["feedback_id"] == body["id"]
    assert body["edit_uuid"] == edit_id
    assert body["rating"] == rating
    assert body["feedback_text"] == text
    assert body["message"] == THANKS
    created = datetime.fromisoformat(body["created_at"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=1)


def stored_rows(stack: Stack, *edit_ids: str) -> list[dict[str, Any]]:
    """The stored feedback for these edits (the database is shared by the whole suite)."""
    wanted = {uuid.UUID(edit_id) for edit_id in edit_ids}
    rows = stack.rows(
        "SELECT id, edit_uuid, rating, feedback_text, user_ip FROM edit_feedback ORDER BY id"
    )
    return [row for row in rows if uuid.UUID(str(row["edit_uuid"])) in wanted]


def test_thumbs_up_with_and_without_text_and_only_one_per_edit(
    stack: Stack, client: httpx.Client
) -> None:
    plain, commented = completed_edit(client), completed_edit(client)

    first = send(client, plain, 1)
    assert_stored(first, plain, 1, None)
    # Text is kept, with its runs of whitespace collapsed.
    with_text = send(client, commented, 1, "  Great   result,\n thanks! ")
    assert_stored(with_text, commented, 1, "Great result, thanks!")

    again = send(client, plain, 0, "changed my mind")
    assert_error(again, 409, "conflict", plain, "already given", "only one is kept")
    # The first rating stands.
    assert [
        (row["rating"], row["feedback_text"]) for row in stored_rows(stack, plain, commented)
    ] == [
        (1, None),
        (1, "Great result, thanks!"),
    ]


def test_thumbs_down_needs_text(stack: Stack, client: httpx.Client) -> None:
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
    assert [row["rating"] for row in stored_rows(stack, edit_id)] == [0]


def test_feedback_text_is_at_most_2000_characters(stack: Stack, client: httpx.Client) -> None:
    edit_id = completed_edit(client)
    too_long = send(client, edit_id, 0, "x" * 2001)
    assert_error(too_long, 422, "invalid_input", "feedback_text", "2001 characters", "at most 2000")
    far_too_long = send(client, edit_id, 1, "y" * 25_000)
    assert_error(far_too_long, 422, "invalid_input", "feedback_text")
    assert stored_rows(stack, edit_id) == []

    longest = send(client, edit_id, 0, "z" * 2000)
    assert_stored(longest, edit_id, 0, "z" * 2000)


def test_rating_must_be_0_or_1(stack: Stack, client: httpx.Client) -> None:
    edit_id = completed_edit(client)
    for rating in (2, -1, "1", True):
        response = send(client, edit_id, rating, "a comment")
        assert_error(response, 422, "invalid_input", "rating", "Input should be 0 or 1")
    assert stored_rows(stack, edit_id) == []
    # The edit itself was never the problem: a valid rating is taken.
    assert_stored(send(client, edit_id, 1), edit_id, 1, None)


def test_unknown_edit_is_404_and_malformed_id_is_422(stack: Stack, client: httpx.Client) -> None:
    missing = send(client, UNKNOWN_ID, 1)
    assert_error(missing, 404, "not_found", f"no edit {UNKNOWN_ID} exists")
    missing_down = send(client, UNKNOWN_ID, 0, "never happened")
    assert_error(missing_down, 404, "not_found", UNKNOWN_ID)

    malformed = send(client, "not-a-uuid", 1)
    assert_error(
        malformed, 422, "invalid_input", "edit_uuid", "'not-a-uuid' is not a valid edit id"
    )
    assert stored_rows(stack, UNKNOWN_ID) == []


def test_stored_ip_is_anonymised(stack: Stack) -> None:
    # The client's own address, as the trusted proxy in front of the API reports it.
    with stack.client("203.0.113.77") as client:
        edit_id = completed_edit(client)
        assert_stored(send(client, edit_id, 0, "too dark"), edit_id, 0, "too dark")
    rows = stored_rows(stack, edit_id)
    assert len(rows) == 1
    assert uuid.UUID(str(rows[0]["edit_uuid"])) == uuid.UUID(edit_id)
    assert (rows[0]["rating"], rows[0]["feedback_text"]) == (0, "too dark")
    assert str(rows[0]["user_ip"]) == "203.0.113.0"


def test_feedback_id_is_the_stored_row(stack: Stack, client: httpx.Client) -> None:
    edit_id = completed_edit(client)
    response = send(client, edit_id, 1, "nice")
    assert_stored(response, edit_id, 1, "nice")
    assert [row["id"] for row in stored_rows(stack, edit_id)] == [response.json()["feedback_id"]]


def test_a_failed_edit_cannot_be_rated(stack: Stack, client: httpx.Client) -> None:
    failed = edit_and_wait(client, "add a pirate hat", jpeg_bytes(64, 48))
    assert failed["status"] == "failed", failed
    for rating, text in ((1, None), (0, "it failed")):
        assert_error(
            send(client, failed["uuid"], rating, text),
            400,
            "not_ready",
            "You can rate an edit once it has finished successfully",
            "it failed",
        )
    assert stored_rows(stack, failed["uuid"]) == []


def test_feedback_can_be_read_back(client: httpx.Client) -> None:
    edit_id = completed_edit(client)
    none_yet = client.get(f"/feedback/{edit_id}")
    assert_error(none_yet, 404, "not_found", f"edit {edit_id} has no feedback yet")

    given = send(client, edit_id, 0, "  too   dark ").json()
    read = client.get(f"/feedback/{edit_id}")
    assert read.status_code == 200, read.text
    assert read.json() == {
        "id": given["feedback_id"],
        "edit_uuid": edit_id,
        "rating": 0,
        "feedback_text": "too dark",
        "user_ip": None,  # the anonymised address stays in the database
        "created_at": given["created_at"],
    }

    assert_error(client.get(f"/feedback/{UNKNOWN_ID}"), 404, "not_found", f"no edit {UNKNOWN_ID}")
    assert_error(client.get("/feedback/not-a-uuid"), 422, "invalid_input", "not a valid edit id")


def test_read_back_feedback_is_cached_for_five_minutes(stack: Stack, client: httpx.Client) -> None:
    edit_id = completed_edit(client)
    assert_stored(send(client, edit_id, 1, "cached"), edit_id, 1, "cached")
    # Gone from the database behind the API's back: the cached answer still stands, as the
    # reference's 300 s cache would give it.
    stack.rows(
        "DELETE FROM edit_feedback WHERE edit_uuid = ? RETURNING id", stack_uuid(stack, edit_id)
    )
    read = client.get(f"/feedback/{edit_id}")
    assert read.status_code == 200, read.text
    assert read.json()["feedback_text"] == "cached"


def test_feedback_lookups_are_limited_to_10_a_minute(client: httpx.Client) -> None:
    edit_id = completed_edit(client)
    for _ in range(10):
        assert client.get(f"/feedback/{edit_id}").status_code == 404
    refused = client.get(f"/feedback/{edit_id}")
    assert_error(refused, 429, "rate_limited", "at most 10 feedback look-ups a minute")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_parallel_ratings_of_one_edit_keep_exactly_one(stack: Stack, client: httpx.Client) -> None:
    edit_id = completed_edit(client)
    clients = [stack.client() for _ in range(8)]  # each with a budget of its own
    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            answers = list(
                pool.map(
                    lambda c: send(c, edit_id, 0, f"from {c.headers['x-forwarded-for']}"), clients
                )
            )
    finally:
        for each in clients:
            each.close()
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [409] * 7, [answer.text for answer in answers]
    winner = next(answer.json() for answer in answers if answer.status_code == 200)
    rows = stored_rows(stack, edit_id)
    assert [(row["id"], row["feedback_text"]) for row in rows] == [
        (winner["feedback_id"], winner["feedback_text"])
    ]
    assert client.get(f"/feedback/{edit_id}").json()["feedback_text"] == winner["feedback_text"]


def stack_uuid(stack: Stack, edit_id: str) -> Any:
    """The edit id as the stack's database compares it (SQLite keeps UUIDs as 32 hex digits)."""
    return uuid.UUID(edit_id).hex if stack.mode == "embedded" else edit_id
