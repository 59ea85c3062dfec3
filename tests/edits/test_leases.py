"""Leases, fencing and the reconciler, on SQLite and PostgreSQL: the edit row, not the queue,
says what must run, and an attempt that was taken over writes nothing more."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import update

from mizual.edits.lease import LeaseLost, LeaseRenewer
from mizual.edits.pipeline import Pipeline
from mizual.edits.repository import EditRepository
from mizual.edits.service import MAX_ATTEMPTS, EditService
from mizual.kit.db.engine import build_engine
from mizual.kit.db.migrate import upgrade
from mizual.kit.db.tables import edits, utcnow
from mizual.kit.db.timing import OperationTimings
from mizual.providers.editing.base import EditingProvider, EditOutcome, EditRequest
from mizual.providers.editing.local import LocalEditingProvider
from mizual.providers.prompting.base import UnchangedPrompt
from mizual.runtime import Role, Runtime, build_runtime
from mizual.settings import load_settings
from tests.support import data_url, jpeg_bytes

LEASE = 30.0


@pytest.fixture
def runtime(database_options: dict[str, str], tmp_path: Path) -> Iterator[Runtime]:
    settings = load_settings(data_dir=tmp_path, environment="preview", **database_options)
    built = build_runtime(settings, role=Role.WORKER)
    upgrade(built.engine, schema=settings.database_schema)
    yield built
    built.close()


def new_edit(runtime: Runtime) -> UUID:
    record = runtime.edits.submit(
        prompt="make it black and white", image=data_url(jpeg_bytes(64, 48)), parent_edit_id=None
    )
    return record.uuid


def age(runtime: Runtime, edit_uuid: UUID, **columns: object) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(update(edits).where(edits.c.uuid == edit_uuid).values(**columns))


def test_a_live_lease_keeps_other_attempts_out_and_an_expired_one_lets_them_in(
    runtime: Runtime,
) -> None:
    repository = runtime.edits.repository
    edit_uuid = new_edit(runtime)
    first = repository.start_attempt(edit_uuid, lease_seconds=LEASE)
    assert first is not None
    assert first.attempts == 1
    assert first.lease_expires_at is not None
    assert first.lease_expires_at > utcnow()
    # A second delivery of the job while the first worker holds the edit: nothing to do.
    assert repository.start_attempt(edit_uuid, lease_seconds=LEASE) is None

    age(runtime, edit_uuid, lease_expires_at=utcnow() - timedelta(seconds=1))
    second = repository.start_attempt(edit_uuid, lease_seconds=LEASE)
    assert second is not None
    assert second.attempts == 2


def test_a_claim_shows_the_first_stage_to_a_poll_also_when_it_takes_an_edit_over(
    runtime: Runtime,
) -> None:
    edit_uuid = new_edit(runtime)
    runtime.edit_status.start_attempt(edit_uuid, lease_seconds=LEASE)
    view = runtime.edit_status.read(edit_uuid)
    assert (view["status"], view["processing_stage"]) == ("processing", "initialization")

    # The first attempt died in ai_processing; the next one begins again at the first stage.
    age(
        runtime,
        edit_uuid,
        processing_stage="ai_processing",
        lease_expires_at=utcnow() - timedelta(seconds=1),
    )
    assert runtime.edit_status.start_attempt(edit_uuid, lease_seconds=LEASE) is not None
    view = runtime.edit_status.read(edit_uuid)
    assert (view["status"], view["processing_stage"]) == ("processing", "initialization")


def test_the_old_attempt_is_fenced_off_once_another_took_over(runtime: Runtime) -> None:
    repository = runtime.edits.repository
    edit_uuid = new_edit(runtime)
    repository.start_attempt(edit_uuid, lease_seconds=LEASE)
    age(runtime, edit_uuid, lease_expires_at=utcnow() - timedelta(seconds=1))
    repository.start_attempt(edit_uuid, lease_seconds=LEASE)

    stale = runtime.edit_status.change(edit_uuid, attempt=1, processing_stage="completion")
    assert stale is None
    assert repository.renew_leases([(edit_uuid, 1)], lease_seconds=LEASE) == set()
    assert repository.renew_leases([(edit_uuid, 2)], lease_seconds=LEASE) == {edit_uuid}
    current = runtime.edit_status.change(edit_uuid, attempt=2, processing_stage="initialization")
    assert current is not None
    assert current.processing_stage == "initialization"
    assert runtime.edit_status.read(edit_uuid)["processing_stage"] == "initialization"


class TakenOverMidEdit(LocalEditingProvider):
    """Edits the photo; meanwhile, as if this worker had stalled past its lease, another
    worker takes the edit over."""

    def __init__(self, runtime: Runtime, edit_uuid: UUID) -> None:
        super().__init__()
        self.runtime = runtime
        self.edit_uuid = edit_uuid

    def edit(self, request: EditRequest) -> EditOutcome:
        age(self.runtime, self.edit_uuid, lease_expires_at=utcnow() - timedelta(seconds=1))
        taken = self.runtime.edit_status.start_attempt(self.edit_uuid, lease_seconds=LEASE)
        assert taken is not None
        assert taken.attempts == 2
        return super().edit(request)


def test_a_worker_taken_over_mid_edit_stores_no_result_and_no_final_state(
    runtime: Runtime,
) -> None:
    edit_uuid = new_edit(runtime)
    run_with(runtime, TakenOverMidEdit(runtime, edit_uuid), edit_uuid)

    record = runtime.edits.get(edit_uuid)
    assert (record.status, record.attempts) == ("processing", 2)  # the second attempt's to finish
    assert record.result_key is None
    assert record.finished_at is None
    assert runtime.edit_status.read(edit_uuid)["status"] == "processing"
    # The first attempt uploaded its result while its write of the upload's start went on
    # (and found the edit taken over): that result is deleted, not left behind in storage.
    assert stored_results(runtime) == []


def run_with(runtime: Runtime, editor: EditingProvider, edit_uuid: UUID) -> None:
    """One run of the edit by a pipeline of the runtime's with this editor."""
    pipeline = Pipeline(
        settings=runtime.settings,
        status=runtime.edit_status,
        storage=runtime.storage,
        editor=editor,
        enhancer=UnchangedPrompt("off in tests"),
        sleep=lambda _seconds: None,
    )
    try:
        pipeline.run(edit_uuid)
    finally:
        pipeline.close()


def stored_results(runtime: Runtime) -> list[str]:
    root = runtime.storage.root  # type: ignore[attr-defined]
    return sorted(str(path.relative_to(root)) for path in root.rglob("results/*") if path.is_file())


class PollingAfterATakeover:
    """A paid editor that submits a task, and finds the edit taken over by another worker
    before the task is recorded; then polls, asking before each poll whether to go on."""

    name = "polling"

    def __init__(self, runtime: Runtime, edit_uuid: UUID) -> None:
        self.runtime = runtime
        self.edit_uuid = edit_uuid
        self.polls = 0

    def edit(self, request: EditRequest) -> EditOutcome:
        age(self.runtime, self.edit_uuid, lease_expires_at=utcnow() - timedelta(seconds=1))
        assert self.runtime.edit_status.start_attempt(self.edit_uuid, lease_seconds=LEASE)
        request.record_task({"provider": self.name, "id": "task-of-attempt-1"})
        for _ in range(200):
            request.stop_if_cancelled()
            self.polls += 1
            time.sleep(0.01)
        raise AssertionError("the editor was never told that the edit was taken over")

    def close(self) -> None:
        pass


def test_a_task_record_that_finds_the_edit_taken_over_stops_the_polls(
    runtime: Runtime,
) -> None:
    edit_uuid = new_edit(runtime)
    editor = PollingAfterATakeover(runtime, edit_uuid)
    run_with(runtime, editor, edit_uuid)

    # The record is written while the polls go on; once it is found fenced off, the next
    # check stops them (within a few polls, not the 200 of a task never heard of again).
    assert editor.polls < 50
    record = runtime.edits.get(edit_uuid)
    assert (record.status, record.attempts, record.provider_task) == ("processing", 2, None)
    assert stored_results(runtime) == []


def test_leases_are_renewed_while_held_and_found_lost_once_taken_over(
    runtime: Runtime,
) -> None:
    repository = runtime.edits.repository
    kept, taken = new_edit(runtime), new_edit(runtime)
    started = {
        edit_uuid: repository.start_attempt(edit_uuid, lease_seconds=3)
        for edit_uuid in (kept, taken)
    }
    renewals: list[set[UUID]] = []

    def renew(held: list[tuple[UUID, int]]) -> set[UUID]:
        renewals.append(repository.renew_leases(held, lease_seconds=3))
        return renewals[-1]

    renewer = LeaseRenewer(renew=renew, lease_seconds=3)
    try:
        with renewer.hold(kept, attempt=1) as kept_lease, renewer.hold(taken, attempt=1) as lost:
            # The renewer's own thread renews every second; polled, not slept.
            deadline = utcnow() + timedelta(seconds=10)
            while not renewals:
                assert utcnow() < deadline, "no renewal"
                renewer._stopped.wait(0.05)
            assert renewals[0] == {kept, taken}
            # Another worker takes `taken` over (its lease expired meanwhile, say).
            age(runtime, taken, lease_expires_at=utcnow() - timedelta(seconds=1))
            assert repository.start_attempt(taken, lease_seconds=LEASE) is not None
            renewer.renew_now()
            assert not kept_lease.lost
            assert lost.lost
            with pytest.raises(LeaseLost):
                lost.check()
    finally:
        renewer.close()
    renewed = repository.get(kept)
    first = started[kept]
    assert renewed is not None
    assert first is not None
    assert renewed.lease_expires_at is not None
    assert first.lease_expires_at is not None
    assert renewed.lease_expires_at > first.lease_expires_at


def test_the_reconciler_hands_out_each_orphan_once_per_interval(runtime: Runtime) -> None:
    repository = runtime.edits.repository
    long_ago = utcnow() - timedelta(minutes=5)
    lost_job = new_edit(runtime)  # pending, its job lost with the broker
    dead_worker = new_edit(runtime)  # processing, its worker gone
    running = new_edit(runtime)  # processing under a live lease
    just_sent = new_edit(runtime)  # pending, its job sent a moment ago
    for edit_uuid in (lost_job, dead_worker, running):
        age(runtime, edit_uuid, dispatched_at=long_ago)
    repository.start_attempt(dead_worker, lease_seconds=LEASE)
    age(runtime, dead_worker, lease_expires_at=long_ago)
    repository.start_attempt(running, lease_seconds=LEASE)

    repository.mark_dispatched(just_sent)
    ghost = new_edit(runtime)  # committed, never queued: the API died in between
    age(runtime, ghost, created_at=utcnow() - timedelta(seconds=10))
    newborn = new_edit(runtime)  # committed a moment ago, being queued now

    cutoffs = {
        "dispatched_before": utcnow() - timedelta(seconds=30),
        "undispatched_before": utcnow() - timedelta(seconds=5),
    }
    claimed = repository.claim_orphans(**cutoffs)
    assert {orphan.uuid for orphan in claimed} == {lost_job, dead_worker, ghost}
    assert {orphan.uuid: orphan.status for orphan in claimed}[dead_worker] == "processing"
    assert repository.claim_orphans(**cutoffs) == []  # sent again: not yet due
    assert just_sent not in {orphan.uuid for orphan in claimed}
    assert newborn not in {orphan.uuid for orphan in claimed}


class RecordingQueue:
    def __init__(self) -> None:
        self.dispatched: list[UUID] = []

    def dispatch(self, edit_uuid: UUID) -> None:
        self.dispatched.append(edit_uuid)

    def stats(self) -> dict[str, int]:
        return {}

    def close(self) -> None:
        pass


def test_an_edit_that_keeps_losing_its_worker_is_failed_with_a_message(
    runtime: Runtime,
) -> None:
    edit_uuid = new_edit(runtime)
    lost_job = new_edit(runtime)
    long_ago = utcnow() - timedelta(minutes=5)
    age(runtime, lost_job, dispatched_at=long_ago)
    age(
        runtime,
        edit_uuid,
        status="processing",
        attempts=MAX_ATTEMPTS,
        processing_stage="ai_processing",
        dispatched_at=long_ago,
    )
    queue = RecordingQueue()
    service = EditService(
        settings=runtime.settings,
        repository=runtime.edits.repository,
        status=runtime.edit_status,
        storage=runtime.storage,
        queue=queue,
    )
    assert service.reconcile() == 2
    assert queue.dispatched == [lost_job]  # the other is given up on, not sent again
    status = runtime.edit_status.read(edit_uuid)
    assert (status["status"], status["error_stage"]) == ("failed", "ai_processing")
    assert status["is_complete"] is True
    assert f"started {MAX_ATTEMPTS} times" in status["message"]


def _claim(url: str, schema: str, cutoff_seconds: float) -> list[str]:
    settings = load_settings(database_url=url, database_schema=schema, database_pool_size="1")
    engine = build_engine(settings)
    try:
        repository = EditRepository(engine, OperationTimings())
        cutoff = utcnow() - timedelta(seconds=cutoff_seconds)
        claimed = repository.claim_orphans(dispatched_before=cutoff, undispatched_before=cutoff)
        return [str(orphan.uuid) for orphan in claimed]
    finally:
        engine.dispose()


def test_reconcilers_in_parallel_processes_claim_each_orphan_exactly_once(
    tmp_path: Path, postgres_url: str, postgres_schema: str
) -> None:
    settings = load_settings(
        data_dir=tmp_path, database_url=postgres_url, database_schema=postgres_schema
    )
    engine = build_engine(settings)
    upgrade(engine, schema=postgres_schema)
    repository = EditRepository(engine, OperationTimings())
    long_ago = utcnow() - timedelta(minutes=5)
    orphans = set()
    for _ in range(300):
        edit_uuid = uuid.uuid4()
        repository.create(
            values={
                "uuid": edit_uuid,
                "prompt": "flip it",
                "original_key": f"originals/{edit_uuid}.jpg",
                "original_image_url": f"/images/originals/{edit_uuid}.jpg",
            },
            parent_edit_uuid=None,
            chain_position=1,
        )
        orphans.add(str(edit_uuid))
    with engine.begin() as conn:
        conn.execute(update(edits).values(dispatched_at=long_ago))
    engine.dispose()

    # 8 processes, each claiming until nothing is left (100 a round).
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        rounds = [pool.apply_async(_claim, (postgres_url, postgres_schema, 30)) for _ in range(24)]
        claimed = [edit_id for result in rounds for edit_id in result.get(timeout=120)]
    assert sorted(claimed) == sorted(orphans)  # every orphan once: none twice, none missed
