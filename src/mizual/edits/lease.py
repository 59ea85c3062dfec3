"""A worker's claim on the edit it runs: renewed in the background while the attempt runs.

The claim is the row's `lease_expires_at`, taken by `start_attempt` and renewed every third of
EDIT_LEASE_SECONDS. A worker that dies (process killed, machine gone) stops renewing; once the
lease has expired the reconciler hands the edit to another worker, whose attempt number then
fences the old one off: every write of a worker names its attempt, and a write of an attempt
that no longer runs the edit changes nothing (`LeaseLost`).

One thread per process renews every lease the process holds, in one statement: holding a lease
costs an attempt two dictionary operations, not a thread of its own (starting and joining one
per edit cost milliseconds of GIL hand-offs while the API was busy).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from uuid import UUID

logger = logging.getLogger(__name__)

# Given the (edit, attempt) pairs held, renews them and returns the edits still held.
Renew = Callable[[list[tuple[UUID, int]]], set[UUID]]


class LeaseLost(Exception):
    """Another attempt runs the edit now: this one must stop without writing anything."""


class Lease:
    def __init__(self, edit_uuid: UUID, attempt: int) -> None:
        self.edit_uuid = edit_uuid
        self.attempt = attempt
        self.lost = False

    def check(self) -> None:
        if self.lost:
            raise LeaseLost(f"edit {self.edit_uuid}: attempt {self.attempt} was taken over")


class LeaseRenewer:
    def __init__(self, *, renew: Renew, lease_seconds: float) -> None:
        self._renew = renew
        self._every = lease_seconds / 3
        self._held: dict[UUID, Lease] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def hold(self, edit_uuid: UUID, *, attempt: int) -> Iterator[Lease]:
        """Renewed until the block ends."""
        lease = Lease(edit_uuid, attempt)
        with self._lock:
            self._held[edit_uuid] = lease
            if self._thread is None:  # started in the process that runs edits (after a fork)
                self._thread = threading.Thread(target=self._keep, name="leases", daemon=True)
                self._thread.start()
        try:
            yield lease
        finally:
            with self._lock:
                if self._held.get(edit_uuid) is lease:
                    del self._held[edit_uuid]

    def renew_now(self) -> None:
        with self._lock:
            leases = list(self._held.values())
        if not leases:
            return
        still_held = self._renew([(lease.edit_uuid, lease.attempt) for lease in leases])
        for lease in leases:
            if lease.edit_uuid not in still_held:
                lease.lost = True

    def close(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _keep(self) -> None:
        while not self._stopped.wait(self._every):
            try:
                self.renew_now()
            except Exception as exc:  # the database is down, say: the next round tries again
                logger.warning("could not renew the leases of running edits: %r", exc)
