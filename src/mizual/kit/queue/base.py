"""How an edit reaches a worker. Jobs carry only the edit id; state lives in the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol
from uuid import UUID

JobHandler = Callable[[UUID], None]


class JobQueue(Protocol):
    def dispatch(self, edit_uuid: UUID) -> None:
        """Queue the edit; call only after its row is committed."""
        ...

    def stats(self) -> dict[str, int]: ...

    def close(self) -> None: ...
