"""A whole worker SIGKILLed while its edits wait for FLUX (the fake BFL, slow tasks), with a
second worker running: every edit completes, and BFL was sent exactly one task per edit, since
each task is paid for. A resumed edit must follow the task it had, not start another."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.fakes.bfl import create_app
from tests.fakes.runner import FakeServer
from tests.faults.conftest import Setup
from tests.faults.harness import PrivateRedis, Verdict, accepted, submit_all, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

TASK_SECONDS = 12  # each fake BFL task is Ready this long after its submission
# A lease (30 s) after its last renewal plus a reconcile interval (5 s), then the task's rest.
WITHIN = 90


@pytest.fixture
def bfl() -> Iterator[FakeServer]:
    with FakeServer(create_app()).start() as server:
        yield server


def sent(bfl: FakeServer) -> dict[str, int]:
    counts: dict[str, int] = httpx.get(f"{bfl.url}/_fake/submissions").json()["by_prompt"]
    return counts


def test_worker_killed_with_ten_flux_edits_in_flight_pays_one_task_each(
    private_redis: PrivateRedis,
    build: Callable[..., Setup],
    bfl: FakeServer,
    broker: dict[str, str],
) -> None:
    setup = build(
        private_redis,
        **broker,
        EDIT_PROVIDER="flux",
        BFL_API_KEY=f"slow-ready-{TASK_SECONDS}",
        BFL_API_URL=bfl.url,
        ENABLE_PROMPT_ENHANCEMENT="false",
        CELERY_CONCURRENCY="5",
    )
    api = setup.stack.api()
    doomed = setup.stack.worker()
    survivor = setup.stack.worker()
    setup.stack.wait_for_workers(2)
    verdict = Verdict("worker killed under flux")

    prompts = [f"make it look like an old photograph {n}" for n in range(10)]
    submissions = submit_all([api.url], prompts)
    edit_ids = accepted(submissions)
    assert len(edit_ids) == 10, [(s.code, s.body) for s in submissions]

    # All ten at BFL at once: five in each worker's pool.
    waited = wait_until(lambda: sum(sent(bfl).values()) >= 10, 45, "ten tasks at BFL")
    verdict.note(f"ten tasks at the fake BFL {waited:.1f}s after the submissions")
    # Killed once every task id is committed: a kill in the milliseconds between BFL's answer
    # and that commit leaves nothing to follow (BFL has no idempotency key and no task list),
    # a window docs/operations.md states.
    recorded = wait_until(
        lambda: len(setup.rows.query("SELECT 1 FROM edits WHERE provider_task IS NOT NULL")) >= 10,
        10,
        "ten task ids recorded",
    )
    verdict.note(f"ten task ids recorded {recorded:.2f}s after that")
    held = [e for e in edit_ids if f"edit {e}: attempt 1 started" in doomed.log()]
    doomed.kill()  # the worker and its pool processes
    killed_at = time.monotonic()
    verdict.note(f"the killed worker held {len(held)} edits, the other one {10 - len(held)}")
    verdict.check(bool(held), "the killed worker held no edit: it proved nothing")

    rows, took = setup.rows.settle(WITHIN)
    verdict.note(f"settled {time.monotonic() - killed_at:.1f}s after the kill")
    verdict.every_edit_completed(rows, edit_ids, within=WITHIN, took=took)
    by_prompt = sent(bfl)
    per_edit = {prompt: by_prompt.get(prompt, 0) for prompt in prompts}
    verdict.note(
        f"BFL submissions: {sum(by_prompt.values())} for 10 edits; per edit "
        f"{dict(Counter(per_edit.values()))} (count: edits)"
    )
    twice = {p: n for p, n in per_edit.items() if n != 1}
    verdict.check(not twice, f"edits not sent to BFL exactly once (paid twice): {twice}")
    verdict.check(
        set(by_prompt) <= set(prompts), f"BFL was sent prompts of no edit: {set(by_prompt)}"
    )
    attempts = {row["uuid"]: row["attempts"] for row in rows}
    verdict.note(
        f"attempts of the held edits: {sorted(attempts.get(e) for e in held)}, of the others: "
        f"{sorted(attempts.get(e) for e in edit_ids if e not in held)}"
    )
    verdict.processes_alive(setup.stack, killed=[doomed])
    verdict.assert_ok(
        setup.stack.log_lines("ERROR", "Traceback", "BFL task", "attempt 2", limit=30)
        + f"\nthe survivor's log: {survivor.log_path}"
    )
