"""The Celery main process freezes what it has imported before its pool forks, so a pool
process's garbage collections leave those objects' pages shared instead of copying them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/<pid>/smaps_rollup"
)

# Imports the worker module as `mizual worker` does, sends `worker_init` (what Celery sends
# before it starts the pool) when asked, then forks a "pool process" that runs a full
# collection: how many MB of its memory that made private.
PROBE = """
import gc, json, os, sys
from pathlib import Path

import mizual.worker
from celery.signals import worker_init

if sys.argv[1] == "signal":
    worker_init.send(sender=None)

def private_dirty_mb():
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Private_Dirty:"):
            return int(line.split()[1]) / 1024

read, write = os.pipe()
child = os.fork()
if child == 0:
    before = private_dirty_mb()
    gc.collect()
    os.write(write, json.dumps(private_dirty_mb() - before).encode())
    os._exit(0)
os.waitpid(child, 0)
print(json.dumps({"copied_mb": json.loads(os.read(read, 64)), "frozen": gc.get_freeze_count()}))
"""

# Import-only: the worker module builds its settings and Celery app, and connects to nothing.
ENV = {
    "DATABASE_URL": "postgresql://mizual@127.0.0.1:1/mizual",
    "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
    "ENVIRONMENT": "preview",
}


def probe(mode: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **ENV},
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_pool_process_collecting_garbage_copies_little_of_the_main_process() -> None:
    unfrozen, frozen = probe("no-signal"), probe("signal")
    assert unfrozen["frozen"] == 0
    assert frozen["frozen"] > 10_000  # celery, kombu, pydantic, mizual: objects by the thousand
    # Without the freeze, the collection touches every object the child inherited.
    assert unfrozen["copied_mb"] > 3
    assert frozen["copied_mb"] < unfrozen["copied_mb"] / 3, (frozen, unfrozen)
