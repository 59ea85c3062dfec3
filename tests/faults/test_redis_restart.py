"""Redis (the broker and the cache) restarted under edits in flight: without persistence the
queue and every cached status are lost, and the reconciler must bring every edit to completion;
with an AOF the old cached statuses come back, and no poll may show an edit less far along
than a poll before it did."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.faults.conftest import Setup
from tests.faults.harness import (
    Pollers,
    PrivateRedis,
    Verdict,
    accepted,
    final_statuses,
    regressions,
    stages_now,
    submit_all,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

WITHIN = 60


def test_redis_restarted_without_persistence_under_ten_edits(
    private_redis: PrivateRedis, build: Callable[..., Setup]
) -> None:
    setup = build(private_redis, CELERY_CONCURRENCY="3", NOOP_EDIT_DELAY_SECONDS="3")
    api = setup.stack.api()
    setup.stack.worker()
    setup.stack.wait_for_workers(1)
    verdict = Verdict("redis restart, no persistence")

    submissions = submit_all([api.url], [f"make it black and white {n}" for n in range(10)])
    edit_ids = accepted(submissions)
    assert len(edit_ids) == 10, [(s.code, s.body) for s in submissions]

    with Pollers(api.url, edit_ids, count=2, pause=0.2) as pollers:
        wait_until(
            lambda: "ai_processing" in stages_now(api.url, edit_ids).values(),
            30,
            "an edit reaching ai_processing",
        )
        before = stages_now(api.url, edit_ids)
        queued = [e for e, stage in before.items() if stage == "pending"]
        verdict.note(f"stages when Redis stopped: {sorted(before.values())}")
        verdict.check(bool(queued), "no edit was queued when Redis stopped: it proved nothing")
        down_at, back_at = private_redis.restart(down_seconds=2)  # SHUTDOWN NOSAVE: all lost
        verdict.note(f"Redis down {back_at - down_at:.1f}s; its keys: {private_redis.keys()}")
        rows, took = setup.rows.settle(WITHIN)
    observations = pollers.snapshot()

    verdict.processes_alive(setup.stack)
    verdict.every_edit_completed(rows, edit_ids, within=WITHIN, took=took)
    verdict.polls_answered(observations)
    final_statuses(verdict, api.url, edit_ids)
    verdict.note(f"attempts: {sorted(row['attempts'] for row in rows)}")
    verdict.assert_ok(
        setup.stack.log_lines("ERROR", "Traceback", "dispatching it again", "failed", limit=25)
    )


def test_redis_restarted_with_its_aof_shows_no_status_going_backwards(
    aof_redis: PrivateRedis, build: Callable[..., Setup]
) -> None:
    setup = build(aof_redis, CELERY_CONCURRENCY="5", NOOP_EDIT_DELAY_SECONDS="3")
    api = setup.stack.api()
    setup.stack.worker()
    setup.stack.wait_for_workers(1)
    verdict = Verdict("redis restart, AOF")

    submissions = submit_all([api.url], [f"make it black and white {n}" for n in range(10)])
    edit_ids = accepted(submissions)
    assert len(edit_ids) == 10, [(s.code, s.body) for s in submissions]

    t0 = time.monotonic()
    with Pollers(api.url, edit_ids, count=4, pause=0.05) as pollers:
        wait_until(
            lambda: "ai_processing" in stages_now(api.url, edit_ids).values(),
            30,
            "an edit reaching ai_processing",
        )
        verdict.note(f"stages when Redis stopped: {sorted(stages_now(api.url, edit_ids).values())}")
        # A graceful SHUTDOWN flushes the AOF: Redis comes back with the cached statuses it had,
        # while the edits went on without it.
        down_at, back_at = aof_redis.restart(down_seconds=5)
        verdict.note(
            f"Redis down {down_at - t0:.1f}s to {back_at - t0:.1f}s; "
            f"keys after the restart: {aof_redis.keys()}"
        )
        rows, took = setup.rows.settle(WITHIN)
        # Keep polling the final states while restored status entries (30 s TTL) could last.
        time.sleep(max(3.0, back_at + 12 - time.monotonic()))
    observations = pollers.snapshot()

    verdict.processes_alive(setup.stack)
    verdict.every_edit_completed(rows, edit_ids, within=WITHIN, took=took)
    verdict.polls_answered(observations)
    final_statuses(verdict, api.url, edit_ids)
    backwards = regressions(observations, t0)
    edits_hit = {line.split(":")[0] for line in backwards}
    verdict.note(
        f"{len(observations)} polls, {len(backwards)} went backwards, in {len(edits_hit)} edits"
    )
    verdict.check(
        not backwards,
        f"{len(backwards)} polls showed an edit less far along than an earlier poll, e.g. "
        + "; ".join(backwards[:4]),
    )
    after_completion = [line for line in backwards if "after completed/" in line]
    verdict.check(
        not after_completion,
        f"{len(after_completion)} polls showed a completed edit unfinished again, e.g. "
        + "; ".join(after_completion[:2]),
    )
    verdict.assert_ok(setup.stack.log_lines("ERROR", "Traceback", limit=15))
