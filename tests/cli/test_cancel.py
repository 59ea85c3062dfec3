"""`mizual cancel`, and Ctrl-C during `mizual edit`, against a real server whose edits take half
a minute (the noop provider), so that they are still processing when cancelled."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from mizual.cli import edit_tokens
from tests.cli.test_client_commands import mizual, one_line_error
from tests.support import MizualServer, jpeg_bytes, running_server

ADMIN_TOKEN = "cancel-admin-token"
CANCELLED_MESSAGE = "This edit was cancelled, as asked; no result was made or kept."


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MizualServer]:
    env = {"EDIT_PROVIDER": "noop", "NOOP_EDIT_DELAY_SECONDS": "30", "ADMIN_TOKEN": ADMIN_TOKEN}
    with running_server(tmp_path_factory.mktemp("slow-server"), env) as instance:
        yield instance


class Output:
    """A child's stream, read as it comes (a question ends without a newline)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.text = ""
        self._stream = stream
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while chunk := os.read(self._stream.fileno(), 4096):
            self.text += chunk.decode(errors="replace")

    def wait_for(self, words: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while words not in self.text:
            assert time.monotonic() < deadline, f"{words!r} never came: {self.text!r}"
            time.sleep(0.05)
        return self.text


class RunningEdit:
    """`mizual edit` of a slow edit, in a child process, stopped while it follows the edit."""

    def __init__(self, server: MizualServer, folder: Path, *, stdin: int) -> None:
        photo = folder / "photo.jpg"
        photo.write_bytes(jpeg_bytes(64, 48))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mizual", "edit", str(photo), "flip it", "--server", server.url],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={k: v for k, v in os.environ.items() if k != "MIZUAL_SERVER"},
        )
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.stdout = Output(self.process.stdout)
        self.stderr = Output(self.process.stderr)
        submitted = self.stderr.wait_for(" submitted")
        self.edit_id = submitted.split("Edit ", 1)[1].split(" submitted")[0]
        # Following it: the processing stage's message has come.
        self.stderr.wait_for("%  ")

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)

    def finish(self, timeout: float = 30.0) -> int:
        returncode = self.process.wait(timeout)
        time.sleep(0.1)  # the readers' last chunks
        return returncode


def status_of(server: MizualServer, edit_id: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{server.url}/edit/{edit_id}", timeout=10).json()
    return body


def test_ctrl_c_on_a_terminal_asks_and_yes_cancels(
    slow_server: MizualServer, tmp_path: Path
) -> None:
    controller, terminal = os.openpty()
    try:
        edit = RunningEdit(slow_server, tmp_path, stdin=terminal)
        edit.interrupt()
        edit.stderr.wait_for(f"Cancel edit {edit.edit_id} on the server too? [y/N] ")
        os.write(controller, b"y\n")
        assert edit.finish() == 130, edit.stderr.text
    finally:
        os.close(controller)
        os.close(terminal)

    assert f"Edit {edit.edit_id}: cancelled" in edit.stdout.text, edit.stdout.text
    assert CANCELLED_MESSAGE in edit.stdout.text
    assert "Traceback" not in edit.stderr.text
    view = status_of(slow_server, edit.edit_id)
    assert view["status"] == "cancelled"
    assert view["edited_image_url"] is None
    assert not list(tmp_path.glob("photo.edited.*"))


def test_a_second_ctrl_c_at_the_question_is_no_and_cancel_later_needs_no_flag(
    slow_server: MizualServer, tmp_path: Path, state_dir: Path
) -> None:
    controller, terminal = os.openpty()
    try:
        edit = RunningEdit(slow_server, tmp_path, stdin=terminal)
        edit.interrupt()
        edit.stderr.wait_for("[y/N] ")
        edit.interrupt()
        assert edit.finish() == 130, edit.stderr.text
    finally:
        os.close(controller)
        os.close(terminal)
    hint = edit.stderr.text.strip().splitlines()[-1]
    assert f"mizual status {edit.edit_id}" in hint
    assert f"mizual cancel {edit.edit_id}" in hint
    assert "Traceback" not in edit.stderr.text
    assert status_of(slow_server, edit.edit_id)["is_complete"] is False

    # The token `mizual edit` kept, for the user alone.
    tokens = state_dir / "edit-tokens.json"
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    assert edit.edit_id in tokens.read_text()

    cancelled = mizual("cancel", edit.edit_id, "--server", slow_server.url)
    assert cancelled.returncode == 0, cancelled.stderr
    assert f"Edit {edit.edit_id}: cancelled" in cancelled.stdout
    assert CANCELLED_MESSAGE in cancelled.stdout
    assert "prompt:   flip it" in cancelled.stdout  # as `mizual status` shows it
    assert status_of(slow_server, edit.edit_id)["status"] == "cancelled"

    again = mizual("cancel", edit.edit_id, "--server", slow_server.url)
    one_line_error(again, f"edit {edit.edit_id} has already been cancelled")


def test_ctrl_c_without_a_terminal_asks_nothing_and_leaves_the_edit_running(
    slow_server: MizualServer, tmp_path: Path, state_dir: Path
) -> None:
    edit = RunningEdit(slow_server, tmp_path, stdin=subprocess.PIPE)
    edit.interrupt()
    assert edit.finish() == 130, edit.stderr.text
    assert "[y/N]" not in edit.stderr.text
    assert f"mizual cancel {edit.edit_id}" in edit.stderr.text.strip().splitlines()[-1]
    assert status_of(slow_server, edit.edit_id)["is_complete"] is False

    # Another user (no kept token) is told what to pass; a wrong token is refused in a line.
    (state_dir / "edit-tokens.json").unlink()
    unknown = mizual("cancel", edit.edit_id, "--server", slow_server.url)
    one_line_error(unknown, "no token is known", "--token", "edit_token")
    wrong = mizual("cancel", edit.edit_id, "--token", "not-the-token", "--server", slow_server.url)
    one_line_error(wrong, "does not allow cancelling")

    # --token: the server's ADMIN_TOKEN will do.
    as_json = mizual(
        "cancel", edit.edit_id, "--token", ADMIN_TOKEN, "--json", "--server", slow_server.url
    )
    assert as_json.returncode == 0, as_json.stderr
    view = json.loads(as_json.stdout)
    assert (view["status"], view["is_complete"], view["is_error"]) == ("cancelled", True, False)


def test_refusals_of_a_cancel_are_one_line(slow_server: MizualServer) -> None:
    one_line_error(
        mizual(
            "cancel",
            "00000000-0000-4000-8000-000000000000",
            "--token",
            "x",
            "--server",
            slow_server.url,
        ),
        "no edit 00000000-0000-4000-8000-000000000000 exists",
    )
    one_line_error(
        mizual("cancel", "nope", "--token", "x", "--server", slow_server.url),
        "not a valid edit id",
    )


def test_kept_tokens_are_bounded_and_per_server(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(edit_tokens, "MAX_TOKENS", 3)
    for number in range(5):
        edit_tokens.remember_token(server="http://a", edit_id=f"edit-{number}", token=f"t{number}")
    edit_tokens.remember_token(server="http://b", edit_id="edit-4", token="on-b")

    assert edit_tokens.known_token(server="http://a", edit_id="edit-1") is None  # the oldest
    assert edit_tokens.known_token(server="http://a", edit_id="EDIT-3") == "t3"
    assert edit_tokens.known_token(server="http://a", edit_id="edit-4") == "t4"
    assert edit_tokens.known_token(server="http://b", edit_id="edit-4") == "on-b"
    assert edit_tokens.known_token(server="http://b", edit_id="edit-3") is None
    assert not [path for path in state_dir.iterdir() if path.suffix == ".tmp"]

    # A damaged file is as good as none.
    (state_dir / "edit-tokens.json").write_text("{not json")
    assert edit_tokens.known_token(server="http://a", edit_id="edit-4") is None
