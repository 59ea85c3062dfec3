"""A server killed mid-edit loses nothing: the next start finishes every edit."""

from __future__ import annotations

import sqlite3

from tests.support import jpeg_bytes, submit, wait_for


def unfinished_in_database(db_path: str) -> list[tuple[str, str]]:
    with sqlite3.connect(db_path) as db:
        return db.execute(
            "SELECT status, processing_stage FROM edits WHERE status IN ('pending', 'processing')"
        ).fetchall()


def test_killed_server_finishes_its_edits_after_restart(make_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "recovery"
    settings = {"MAX_WORKERS": "1"}
    first = make_server(settings, data_dir=data_dir)
    big_photo = jpeg_bytes(3000, 2000)
    with first.client() as client:
        ids = [submit(client, "blur it a lot", big_photo).json()["edit_id"] for _ in range(4)]
    first.kill()

    left_behind = unfinished_in_database(str(data_dir / "mizual.db"))
    assert left_behind, "every edit finished before the kill; the test proved nothing"

    second = make_server(settings, data_dir=data_dir)
    with second.client() as client:
        for edit_id in ids:
            status = wait_for(client, edit_id, timeout=60)
            assert status["status"] == "completed", status
            assert status["edited_image_url"].startswith(second.url)
            assert client.get(status["edited_image_url"]).status_code == 200
    assert "re-queued" in second.log()
    assert unfinished_in_database(str(data_dir / "mizual.db")) == []
