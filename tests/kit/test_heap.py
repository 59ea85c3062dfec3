"""Large freed buffers leave the process: an API that took a big upload does not stay big."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the mmap threshold is glibc's (Linux)"
)

# A 24 MB buffer freed, then a 16 MB one freed (an upload's body, then its image's bytes):
# what the process still holds afterwards, in MB.
_RETAINED = """
from pathlib import Path

def rss_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

before = rss_mb()
body = b"\\x01" * (24 << 20)
del body
image = b"\\x02" * (16 << 20)
del image
print(rss_mb() - before)
"""


def run_python(script: str, **env: str) -> str:
    """The last line a fresh interpreter prints, with only `env` (and PATH) in its environment:
    glibc reads MALLOC_* at start-up, so nothing of this process's own may leak in."""
    return fresh_interpreter(script, **env).stdout.strip().splitlines()[-1]


def fresh_interpreter(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def retained_mb(setup: str) -> float:
    return float(run_python(textwrap.dedent(setup) + _RETAINED))


def test_without_the_setting_glibc_keeps_a_freed_buffer() -> None:
    """The behaviour this module exists for (if it changes, the setting may be obsolete)."""
    assert retained_mb("") > 12


def test_a_runtime_process_gives_freed_buffers_back(tmp_path: Path) -> None:
    setup = f"""
    from mizual.runtime import Role, build_runtime
    from mizual.settings import load_settings
    build_runtime(load_settings(data_dir={str(tmp_path)!r}), role=Role.API)
    """
    assert retained_mb(setup) < 4


def test_an_operators_own_threshold_is_left_alone() -> None:
    script = (
        "from mizual.kit.heap import return_large_blocks_to_the_system as setting\nprint(setting())"
    )
    for env, taken in (({}, "True"), ({"MALLOC_MMAP_THRESHOLD_": "65536"}, "False")):
        assert run_python(script, **env) == taken, env


# Eight threads allocate at once; then glibc's malloc_stats() prints one "Arena N:" line per
# arena to stderr. `setup` runs first.
_ARENAS = """
import ctypes
import threading

together = threading.Barrier(8)

def allocate():
    together.wait()
    held = [bytearray(4096) for _ in range(200)]
    together.wait()

threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
ctypes.CDLL(None).malloc_stats()
"""


def arenas(setup: str, **env: str) -> int:
    done = fresh_interpreter(textwrap.dedent(setup) + _ARENAS, **env)
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


def app_built(tmp_path: Path, role: str) -> str:
    """The setup of a process that built its app as `mizual serve` or `mizual api` does."""
    return f"""
    from mizual.app import create_app
    from mizual.runtime import Role
    from mizual.settings import load_settings
    create_app(load_settings(data_dir={str(tmp_path)!r}), role=Role.{role})
    """


def test_without_the_setting_threads_allocate_in_arenas_of_their_own() -> None:
    """What share_arenas exists for (if glibc stops doing this, it may be obsolete)."""
    assert arenas("") > 4


def test_the_distributed_api_keeps_its_threads_to_two_arenas(tmp_path: Path) -> None:
    """The default a user gets: `mizual api` builds its app with Role.API."""
    assert arenas(app_built(tmp_path, "API")) == 2


def test_embedded_mode_leaves_its_editing_threads_an_arena_each(tmp_path: Path) -> None:
    assert arenas(app_built(tmp_path, "EMBEDDED")) > 4


def test_an_operators_own_arena_count_is_left_alone(tmp_path: Path) -> None:
    assert arenas(app_built(tmp_path, "API"), MALLOC_ARENA_MAX="4") == 4
