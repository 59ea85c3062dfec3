"""The settings tests' clean slate: none of Mizual's variables from the environment running the
tests, and no .env file."""

from __future__ import annotations

import pytest


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    for name in list(os.environ):
        if name.startswith(
            (
                "RATE_LIMIT",
                "MAX_",
                "DATABASE",
                "ENVIRONMENT",
                "LOG_LEVEL",
                "STORAGE",
                "UNSUPPORTED",
                "ADMIN",
                "PORT",
                "HOST",
                "LLM_",
                "GEMINI_",
                "GOOGLE_",
                "FLUX_",
                "BFL_",
                "EDIT_PROVIDER",
            )
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env file
