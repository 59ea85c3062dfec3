"""`mizual purge --older-than AGE`, run as the real command against an embedded data folder
(the SQLite database and images of `mizual serve`)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import MizualServer, edit_and_wait, jpeg_bytes


def purge(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mizual", "purge", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_purge_removes_the_images_of_old_edits_and_they_answer_expired(tmp_path: Path) -> None:
    server = MizualServer(tmp_path).start()
    try:
        with server.client() as client:
            parent = edit_and_wait(client, "make it black and white", jpeg_bytes(64, 48))
            child = edit_and_wait(client, "make it brighter", parent=parent["uuid"])
    finally:
        server.stop()
    images = tmp_path / "images"
    assert len([path for path in images.rglob("*") if path.is_file()]) == 3

    # Nothing is that old yet.
    kept = purge("--older-than", "1d", env=server.env)
    assert kept.returncode == 0, kept.stderr
    assert "removed the images of 0 edit(s) older than 1d (0 object(s) deleted)" in kept.stdout
    time.sleep(1.1)
    dry = purge("--older-than", "1s", "--dry-run", env=server.env)
    assert dry.returncode == 0, dry.stderr
    assert "would remove the images of 2 edit(s) older than 1s" in dry.stdout
    assert len([path for path in images.rglob("*") if path.is_file()]) == 3

    # The parent's original and result, the child's result (its original is the parent's).
    done = purge("--older-than", "1s", env=server.env)
    assert done.returncode == 0, done.stderr
    assert "removed the images of 2 edit(s) older than 1s (3 object(s) deleted)" in done.stdout
    assert [path for path in images.rglob("*") if path.is_file()] == []

    server = MizualServer(tmp_path).start()
    try:
        with server.client() as client:
            for edit in (parent, child):
                view = client.get(f"/edit/{edit['uuid']}").json()
                assert view["status"] == "expired", view
                assert "by the server's operator (edits older than 1 second)" in view["message"]
                assert (view["edited_image_url"], view["original_image_url"]) == (None, None)
                assert view["prompt"] == edit["prompt"]
                # On this server's port: the same path serves nothing.
                path = httpx.URL(edit["edited_image_url"]).path
                assert client.get(path).status_code == 404
    finally:
        server.stop()
    again = purge("--older-than", "1s", env=server.env)
    assert "removed the images of 0 edit(s)" in again.stdout


@pytest.mark.parametrize("age", ["7", "7w", "-1d", "d"])
def test_purge_refuses_an_age_without_a_unit(tmp_path: Path, age: str) -> None:
    env = MizualServer(tmp_path).env
    result = purge("--older-than", age, env=env)
    assert result.returncode == 2
    assert "not an age" in result.stderr
