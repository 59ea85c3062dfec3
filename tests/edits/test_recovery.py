"""A server killed mid-edit loses nothing: the next start finishes every edit."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

import httpx
import psycopg
import pytest

from tests.fakes.bfl import create_app as create_bfl
from tests.fakes.runner import FakeServer
from tests.support import colourfulness, fetch_image, jpeg_bytes, submit, wait_for

UNFINISHED = "SELECT status FROM edits WHERE status IN ('pending', 'processing')"


@pytest.mark.faults
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_killed_server_finishes_its_edits_after_restart(  # type: ignore[no-untyped-def]
    request, make_server, tmp_path, backend: str
) -> None:
    data_dir = tmp_path / "recovery"
    settings = {"MAX_WORKERS": "1"}
    unfinished: Callable[[], list[tuple[str]]]
    if backend == "postgresql":
        url = request.getfixturevalue("postgres_url")
        schema = request.getfixturevalue("postgres_schema")
        settings |= {"DATABASE_URL": url, "DATABASE_SCHEMA": schema}

        def unfinished() -> list[tuple[str]]:
            with psycopg.connect(url, options=f"-c search_path={schema}") as conn:
                return conn.execute(UNFINISHED).fetchall()
    else:

        def unfinished() -> list[tuple[str]]:
            with sqlite3.connect(data_dir / "mizual.db") as db:
                return db.execute(UNFINISHED).fetchall()

    first = make_server(settings, data_dir=data_dir)
    big_photo = jpeg_bytes(3000, 2000)
    with first.client() as client:
        ids = [submit(client, "blur it a lot", big_photo).json()["edit_id"] for _ in range(4)]
    first.kill()
    assert unfinished(), "every edit finished before the kill; the test proved nothing"

    second = make_server(settings, data_dir=data_dir)
    with second.client() as client:
        for edit_id in ids:
            status = wait_for(client, edit_id, timeout=60)
            assert status["status"] == "completed", status
            assert status["edited_image_url"].startswith(second.url)
            assert client.get(status["edited_image_url"]).status_code == 200
    assert "re-queued" in second.log()
    assert unfinished() == []


@pytest.mark.faults
def test_a_server_killed_while_flux_works_pays_for_one_task(make_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Killed while the FLUX task is running: the next start follows that task instead of
    submitting the edit again (one paid task), and the result is the task's."""
    with FakeServer(create_bfl()).start() as bfl:
        settings = {
            "BFL_API_KEY": "slow-ready-4",
            "BFL_API_URL": bfl.url,
            "ENABLE_PROMPT_ENHANCEMENT": "false",
        }
        data_dir = tmp_path / "flux-recovery"
        first = make_server(settings, data_dir=data_dir)
        with first.client() as client:
            edit_id = submit(client, "make it black and white", jpeg_bytes(96, 64)).json()[
                "edit_id"
            ]
            deadline = time.monotonic() + 20
            while httpx.get(f"{bfl.url}/_fake/submissions").json()["total"] == 0:
                assert time.monotonic() < deadline, "the task was never submitted"
                time.sleep(0.05)
            time.sleep(0.3)  # polling it now
        first.kill()

        second = make_server(settings, data_dir=data_dir)
        with second.client() as client:
            status = wait_for(client, edit_id, timeout=60)
            assert status["status"] == "completed", status
            _, result = fetch_image(client, status["edited_image_url"])
        assert httpx.get(f"{bfl.url}/_fake/submissions").json()["total"] == 1
        assert colourfulness(result) < 1.0  # the fake's black and white
        assert (result.width, result.height) == (96, 64)
        assert "following it again" in second.log()
