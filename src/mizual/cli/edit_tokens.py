"""The edit tokens of the edits this user submitted, so `mizual cancel UUID` needs no flag.

They live in one JSON file in the user's state directory (`$MIZUAL_STATE_DIR`, else
`$XDG_STATE_HOME/mizual`, else `~/.local/state/mizual`), readable by the user alone, each
with the server's base URL (the same id on another server is another edit). Only the last
`MAX_TOKENS` are kept: an edit older than that has long finished, and a cancel of it could only
be refused anyway.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

MAX_TOKENS = 1000
FILE_NAME = "edit-tokens.json"


def state_dir() -> Path:
    override = os.environ.get("MIZUAL_STATE_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_STATE_HOME")
    # The XDG spec says a relative XDG_STATE_HOME is invalid and must be ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "state"
    return base / "mizual"


def _tokens_file() -> Path:
    return state_dir() / FILE_NAME


def _read_all() -> list[dict[str, str]]:
    """Every kept token, oldest first; a missing, unreadable or damaged file is as good as an
    empty one (the tokens are a convenience: `--token` still works)."""
    try:
        body = json.loads(_tokens_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    entries = body.get("edits") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        return []
    return [
        entry
        for entry in entries
        if isinstance(entry, dict)
        and all(isinstance(entry.get(key), str) for key in ("server", "edit_id", "token"))
    ]


def _write_all(entries: list[dict[str, str]]) -> None:
    """Written to a private temporary file renamed over the old one, so a reader (another
    `mizual edit` at the same moment) never sees half a file, nor anyone else a token."""
    folder = state_dir()
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".edit-tokens-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:  # mkstemp: mode 0600
            json.dump({"edits": entries}, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, folder / FILE_NAME)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def remember_token(*, server: str, edit_id: str, token: str) -> None:
    """Keep `token` for `edit_id` on `server`, dropping the oldest beyond `MAX_TOKENS`.

    Raises OSError when the file cannot be written: the caller warns, the edit goes on."""
    edit_id = edit_id.lower()
    with _locked():
        _add(server=server, edit_id=edit_id, token=token)


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One writer at a time: two `mizual edit` finishing together must not lose a token."""
    folder = state_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(folder / ".edit-tokens.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _add(*, server: str, edit_id: str, token: str) -> None:
    entries = [
        entry for entry in _read_all() if (entry["server"], entry["edit_id"]) != (server, edit_id)
    ]
    entries.append({"server": server, "edit_id": edit_id, "token": token})
    _write_all(entries[-MAX_TOKENS:])


def known_token(*, server: str, edit_id: str) -> str | None:
    edit_id = edit_id.lower()
    for entry in reversed(_read_all()):
        if entry["server"] == server and entry["edit_id"] == edit_id:
            return entry["token"]
    return None
