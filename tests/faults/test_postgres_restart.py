"""PostgreSQL restarted under load: edits in flight, clients polling. With the recovery settings
at their defaults, every edit completes once it is back, and a poll meanwhile is answered, or
refused with 503 and Retry-After, never a 500."""

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
    stages_now,
    submit_all,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

DOWN_SECONDS = 6
WITHIN = 60


def test_postgres_restarted_with_ten_edits_in_flight_and_four_pollers(
    private_redis: PrivateRedis, build: Callable[..., Setup]
) -> None:
    setup = build(private_redis, CELERY_CONCURRENCY="5", NOOP_EDIT_DELAY_SECONDS="4")
    api = setup.stack.api()
    setup.stack.worker()
    setup.stack.wait_for_workers(1)
    verdict = Verdict("postgres restart")

    submissions = submit_all([api.url], [f"make it black and white {n}" for n in range(10)])
    edit_ids = accepted(submissions)
    assert len(edit_ids) == 10, [(s.code, s.body) for s in submissions]

    with Pollers(api.url, edit_ids, count=4) as pollers:
        wait_until(
            lambda: "ai_processing" in stages_now(api.url, edit_ids).values(),
            30,
            "an edit reaching ai_processing",
        )
        before = stages_now(api.url, edit_ids)
        verdict.note(f"stages when PostgreSQL stopped: {sorted(before.values())}")
        down_at, back_at = setup.postgres.restart(down_seconds=DOWN_SECONDS)
        verdict.note(f"PostgreSQL down {back_at - down_at:.1f}s")
        rows, took = setup.rows.settle(WITHIN)
        time.sleep(1)  # the final states polled a few more times
    observations = pollers.snapshot()

    verdict.processes_alive(setup.stack)
    verdict.every_edit_completed(rows, edit_ids, within=WITHIN, took=took)
    counts = verdict.polls_answered(observations)
    during = [o for o in observations if down_at <= o.began <= back_at]
    verdict.note(
        f"{len(during)} polls while it was down: "
        f"{sum(o.code == 200 for o in during)} answered 200, {counts.unavailable} 503s in all"
    )
    final_statuses(verdict, api.url, edit_ids)
    verdict.note(f"attempts: {sorted(row['attempts'] for row in rows)}")
    verdict.assert_ok(
        setup.stack.log_lines("ERROR", "Traceback", "OperationalError", "failed", limit=25)
    )
