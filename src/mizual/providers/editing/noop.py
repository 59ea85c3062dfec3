"""`EDIT_PROVIDER=noop`: returns the image unchanged, after NOOP_EDIT_DELAY_SECONDS.

Meant for benchmarks (an instant provider isolates Mizual's own overhead) and for tests that
need an edit to stay in `ai_processing` for a while, such as killing the worker that holds it.
"""

from __future__ import annotations

import time

from mizual.kit import imaging
from mizual.providers.editing.base import EditOutcome, EditRequest

_CHECK_EVERY_SECONDS = 0.25


class NoopEditingProvider:
    name = "noop"

    def __init__(self, *, delay_seconds: float = 0.0) -> None:
        self.delay_seconds = delay_seconds

    def edit(self, request: EditRequest) -> EditOutcome:
        # Waited in short steps, asking whether the edit was cancelled, as a provider that
        # polls asks before each poll.
        deadline = time.monotonic() + self.delay_seconds
        while (left := deadline - time.monotonic()) > 0:
            request.stop_if_cancelled()
            time.sleep(min(left, _CHECK_EVERY_SECONDS))
        return EditOutcome(image=imaging.load(request.image), notes={"noop": True})

    def close(self) -> None:
        return None
