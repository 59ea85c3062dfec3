"""The BFL poll schedule: fast where tasks become ready, slow elsewhere, slow after a 429; and the
FLUX client with its default schedule against the fake BFL, seeing results sooner than a fixed
0.5 s interval would."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from mizual.providers.editing import flux
from mizual.providers.editing.base import EditRequest
from mizual.providers.editing.pollschedule import PollSchedule
from mizual.settings import Settings
from tests.fakes.bfl import create_app
from tests.fakes.runner import FakeServer
from tests.support import jpeg_bytes


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def delays(schedule: PollSchedule, *, until: float) -> list[float]:
    """The waits between polls of one task that stays Pending for `until` seconds."""
    waits: list[float] = []
    elapsed, previous = 0.0, None
    while elapsed < until:
        previous = schedule.next_delay(elapsed=elapsed, previous=previous)
        waits.append(round(previous, 3))
        elapsed += previous
    return waits


def taught(schedule: PollSchedule, ready_after: list[float]) -> PollSchedule:
    for seconds in ready_after:
        schedule.learn(seen_after=seconds, last_delay=0.0)
    return schedule


def test_until_it_has_seen_tasks_it_starts_fast_and_backs_off_to_the_slow_interval() -> None:
    schedule = PollSchedule(fastest_seconds=0.1, slowest_seconds=0.5)
    assert schedule.window() is None
    assert delays(schedule, until=2.0) == [0.1, 0.15, 0.225, 0.338, 0.5, 0.5, 0.5]


def test_once_learned_it_polls_fast_only_where_tasks_became_ready() -> None:
    ready_after = [3.0] * 4 + [4.0] * 4
    schedule = taught(PollSchedule(fastest_seconds=0.1, slowest_seconds=0.5), ready_after)
    assert schedule.window() is not None
    start, end = schedule.window()  # type: ignore[misc]
    assert (start, end) == (2.5, 4.5)  # 10th and 90th percentile, one slow interval wider
    waits = delays(schedule, until=6.0)
    # Slow until the window, landing on its start; fast inside it; slow again after it.
    assert waits[:5] == [0.5, 0.5, 0.5, 0.5, 0.5]
    assert sum(waits[:5]) == 2.5
    fast = waits[5:].index(0.5)
    assert fast in (20, 21)  # 2.5 s to 4.5 s, give or take a float's rounding
    assert set(waits[5 : 5 + fast]) == {0.1}
    assert set(waits[5 + fast :]) == {0.5}


def test_a_rare_slow_task_does_not_widen_the_window() -> None:
    schedule = taught(PollSchedule(fastest_seconds=0.1, slowest_seconds=0.5), [3.0] * 9 + [9.0])
    assert schedule.window() == (2.5, 3.5)


def test_the_window_follows_the_latest_tasks() -> None:
    schedule = taught(PollSchedule(fastest_seconds=0.1, slowest_seconds=0.5), [3.0] * 64)
    taught(schedule, [10.0] * 64)  # BFL slowed down: only the last 64 tasks count
    assert schedule.window() == (9.5, 10.5)


def test_the_ready_time_is_estimated_between_the_last_two_polls() -> None:
    schedule = PollSchedule(fastest_seconds=0.1, slowest_seconds=0.5)
    for _ in range(8):
        schedule.learn(seen_after=3.5, last_delay=0.5)
    assert schedule.window() == (2.75, 3.75)


def test_after_a_429_on_a_poll_it_polls_slowly_for_a_minute() -> None:
    clock = Clock()
    schedule = taught(
        PollSchedule(fastest_seconds=0.1, slowest_seconds=0.5, clock=clock), [1.0] * 8
    )
    schedule.throttled()
    assert schedule.next_delay(elapsed=1.0, previous=0.5) == 0.5
    clock.now += 59
    assert schedule.next_delay(elapsed=1.0, previous=0.5) == 0.5
    clock.now += 2
    assert schedule.next_delay(elapsed=1.0, previous=0.5) == 0.1


def test_a_fastest_interval_not_below_the_slowest_is_a_fixed_interval() -> None:
    schedule = PollSchedule(fastest_seconds=0.5, slowest_seconds=0.5)
    assert delays(schedule, until=2.0) == [0.5] * 4
    schedule = PollSchedule(fastest_seconds=0.1, slowest_seconds=0.02)
    assert delays(schedule, until=0.1) == [0.02] * 5


@pytest.fixture
def bfl() -> Iterator[FakeServer]:
    with FakeServer(create_app()).start() as server:
        yield server


def default_client(bfl: FakeServer, key: str) -> flux.FluxEditingProvider:
    """The client as the settings a user gets build it, pointed at the fake."""
    defaults = Settings.model_fields
    return flux.FluxEditingProvider(
        flux.FluxConfig(
            api_key=key,
            api_url=bfl.url,
            poll_interval_seconds=defaults["bfl_poll_interval_seconds"].default,
            poll_fastest_seconds=defaults["bfl_poll_min_interval_seconds"].default,
        )
    )


def test_with_the_default_schedule_a_learned_worker_sees_results_sooner(bfl: FakeServer) -> None:
    key = "slow-ready-1.2"
    provider = default_client(bfl, key)
    request = EditRequest(image=jpeg_bytes(64, 48), prompt="flip it", enhanced_prompt=None)
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: provider.edit(request), range(8)))
        window = provider.schedule.window()
        assert window is not None
        assert window[0] < 1.2 < window[1]
        learned = [provider.edit(request).notes["bfl_task_id"] for _ in range(3)]
    finally:
        provider.close()
    tasks = httpx.get(f"{bfl.url}/_fake/tasks").json()
    for task_id in learned:
        task = tasks[task_id]
        # Polled every 0.1 s near 1.2 s: seen within a fraction of the 0.5 s a fixed schedule
        # could make it wait (polls at 0, 0.5, 1.0 would next see it at 1.5 s).
        assert task["seen_after"] - task["ready_after"] < 0.25, task
        assert task["polls"] >= 5, task


def test_a_429_on_a_poll_slows_the_worker_down(bfl: FakeServer) -> None:
    provider = default_client(bfl, "poll-rate-limited-once")
    try:
        for _ in range(8):
            provider.schedule.learn(seen_after=0.0, last_delay=0.0)
        outcome = provider.edit(
            EditRequest(image=jpeg_bytes(64, 48), prompt="flip it", enhanced_prompt=None)
        )
        assert outcome.notes["bfl_task_id"]
        assert provider.schedule.next_delay(elapsed=0.0, previous=None) == 0.5
    finally:
        provider.close()
