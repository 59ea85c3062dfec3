from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import MizualServer, running_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MizualServer]:
    """One shared embedded server with relaxed rate limits and an admin token."""
    with running_server(
        tmp_path_factory.mktemp("shared-server"), env={"ADMIN_TOKEN": "test-admin-token"}
    ) as instance:
        yield instance


@pytest.fixture
def client(server: MizualServer) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    """Start extra servers with their own settings; all are stopped after the test."""
    started: list[MizualServer] = []

    def start(env: dict[str, str] | None = None, data_dir: Path | None = None) -> MizualServer:
        instance = MizualServer(data_dir or tmp_path / f"server{len(started)}", env).start()
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.stop()
