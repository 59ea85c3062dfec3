from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where `mizual edit` keeps edit tokens, for this test alone (the commands run as child
    processes, which inherit it), never the user's own ~/.local/state."""
    folder = tmp_path / "state"
    monkeypatch.setenv("MIZUAL_STATE_DIR", str(folder))
    return folder
