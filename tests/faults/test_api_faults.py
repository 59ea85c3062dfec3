"""The API process under a burst of submissions: SIGKILLed in the middle of one (every edit it
committed must still complete: no ghost left pending for ever), and two API processes sharing
one daily limit (exactly that many accepted, however the submissions race)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.faults.conftest import Setup
from tests.faults.harness import (
    PrivateRedis,
    Submission,
    Verdict,
    accepted,
    submit_all,
    submit_one,
)
from tests.support import jpeg_bytes

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

WITHIN = 60
THREADS = 20
SUBMISSIONS_PER_THREAD = 4  # the kill comes in the second round, so at most 80 edits


def test_api_killed_during_a_burst_of_submissions_leaves_no_ghost(
    private_redis: PrivateRedis, build: Callable[..., Setup], broker: dict[str, str]
) -> None:
    setup = build(private_redis, CELERY_CONCURRENCY="4", NOOP_EDIT_DELAY_SECONDS="1", **broker)
    doomed = setup.stack.api()
    setup.stack.worker()
    setup.stack.wait_for_workers(1)
    verdict = Verdict("api killed mid-burst")
    image = jpeg_bytes(1600, 1200)  # large enough that a submission takes a while

    killed = threading.Event()
    submissions: list[Submission] = []  # appended to by every thread

    def keep_submitting(thread: int) -> None:
        """Submission after submission until the kill, so that a request is always in flight:
        a burst fired once can be answered in full within the moment the test takes to kill."""
        for n in range(SUBMISSIONS_PER_THREAD):
            if killed.is_set():
                return
            prompt = f"make it black and white {thread}.{n}"
            submissions.append(submit_one(doomed.url, prompt, image, timeout=30))

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(keep_submitting, n) for n in range(THREADS)]
        deadline = time.monotonic() + 60
        while sum(s.code == 200 for s in submissions) < THREADS + 2:
            assert time.monotonic() < deadline, [s.body for s in submissions]
            time.sleep(0.005)
        killed.set()  # no new submissions: only those in flight meet the kill
        doomed.kill()  # SIGKILL: no shutdown code runs
        killed_at = time.monotonic()
        for future in futures:
            future.result(timeout=60)

    codes = Counter(s.code for s in submissions)
    verdict.note(f"answers to the {len(submissions)} submissions (0: none): {dict(codes)}")
    verdict.check(codes[0] > 0, "every submission was answered: the kill came too late")
    acknowledged = accepted(submissions)
    committed = setup.rows.all()
    unacknowledged = {r["uuid"] for r in committed} - set(acknowledged)
    verdict.note(
        f"{len(committed)} edits committed before the kill, {len(acknowledged)} acknowledged "
        f"(200), {len(unacknowledged)} committed but never acknowledged; states at the kill: "
        f"{dict(Counter(r['status'] for r in committed))}, "
        f"{sum(r['dispatched_at'] is None for r in committed)} never dispatched"
    )
    verdict.check(
        not {s.code for s in submissions} - {0, 200},
        f"submissions answered other than 200 or not at all: {dict(codes)}",
    )

    rescuer = setup.stack.api()  # a new API process: its reconciler must find the rest
    verdict.note(f"new API answering {time.monotonic() - killed_at:.1f}s after the kill")
    rows, took = setup.rows.settle(WITHIN)
    verdict.every_edit_completed(rows, acknowledged, within=WITHIN, took=took)
    verdict.note(f"attempts: {dict(Counter(row['attempts'] for row in rows))}")
    verdict.processes_alive(setup.stack, killed=[doomed])
    verdict.assert_ok(
        setup.stack.log_lines("ERROR", "Traceback", "dispatching it again", limit=25)
        + f"\nrescuer answering at {rescuer.url}"
    )


def test_thirty_racing_submissions_over_two_apis_spend_a_daily_limit_of_five(
    private_redis: PrivateRedis, build: Callable[..., Setup]
) -> None:
    # The burst window stays off (RELAXED_LIMITS): only the daily limit is raced.
    setup = build(private_redis, RATE_LIMIT_DAILY_IMAGES="5", NOOP_EDIT_DELAY_SECONDS="0")
    first, second = setup.stack.api(), setup.stack.api()
    setup.stack.worker()
    verdict = Verdict("daily limit over two APIs")

    submissions = submit_all(
        [first.url, second.url], [f"make it black and white {n}" for n in range(30)], threads=30
    )
    codes = Counter(s.code for s in submissions)
    verdict.note(f"answers to 30 racing submissions: {dict(codes)}")
    edit_ids = accepted(submissions)
    verdict.check(len(edit_ids) == 5, f"{len(edit_ids)} accepted, not exactly 5")
    verdict.check(
        codes[429] == 25, f"{codes[429]} refused with 429, not 25; answers: {dict(codes)}"
    )
    refusals = [s for s in submissions if s.code == 429]
    verdict.check(all(s.headers.get("retry-after") for s in refusals), "a 429 without Retry-After")
    per_api = Counter(s.prompt for s in submissions if s.code == 200)
    verdict.note(f"accepted prompts: {sorted(per_api)}")

    setup.stack.wait_for_workers(1)
    rows, took = setup.rows.settle(WITHIN)
    verdict.check(len(rows) == 5, f"{len(rows)} edits in the database, not 5")
    verdict.every_edit_completed(rows, edit_ids, within=WITHIN, took=took)
    verdict.processes_alive(setup.stack)
    verdict.assert_ok(setup.stack.log_lines("ERROR", "Traceback", limit=15))
