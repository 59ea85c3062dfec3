"""Large buffers handed back to the system when they are freed.

glibc serves a block of 128 KiB or more with a mapping of its own, returned to the system on
free, but each such free raises that threshold to the freed size (up to 32 MiB). After one large
upload (a 15 MB photo is a 20 MB body, its text and its bytes), the next ones are carved from
the heap, which keeps them: an API process that took three 50 MP photos stayed 70-100 MB above
its size before them (bench/RESULTS.md, issue 21). A fixed threshold of 1 MiB stops the rise;
blocks below it (every status poll's, every 1 MP photo's) are served as before.

glibc also gives each thread that allocates its own arena (up to 8 per core), and an arena keeps
what it once held. An API process checks uploads in a pool of up to 40 threads: 80 uploads of
1 MP, 16 at a time, took it to 154-155 MB with an arena per thread and to 134-138 MB with two
(bench/RESULTS.md, issue 21).
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

logger = logging.getLogger(__name__)

LARGE_BLOCK_BYTES = 1 << 20
API_ARENAS = 2
_M_MMAP_THRESHOLD = -3  # glibc's malloc.h
_M_ARENA_MAX = -8
# glibc's own variables: an operator who sets one has chosen, and it is left alone.
_OPERATOR_SETTING = "MALLOC_MMAP_THRESHOLD_"
_OPERATOR_ARENAS = "MALLOC_ARENA_MAX"


def return_large_blocks_to_the_system() -> bool:
    """Fix the C allocator's mapping threshold at LARGE_BLOCK_BYTES. True if it took the
    setting; False where it has none (musl, macOS) or where the operator set one."""
    return _set(_M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES, operator_setting=_OPERATOR_SETTING)


def share_arenas(count: int = API_ARENAS) -> bool:
    """No new allocator arena once `count` exist: threads that start later share them (an
    arena made before stays), so call it before the threads start. For a process whose threads
    only check uploads: threads that edit images in parallel had better keep an arena each, so
    that they do not wait on one another's allocations."""
    return _set(_M_ARENA_MAX, count, operator_setting=_OPERATOR_ARENAS)


def _set(parameter: int, value: int, *, operator_setting: str) -> bool:
    """glibc's mallopt(parameter, value); False where there is no glibc or the operator chose."""
    if not sys.platform.startswith("linux") or operator_setting in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    taken = bool(mallopt(parameter, value))
    if not taken:
        logger.debug("the C library did not take mallopt(%d, %d)", parameter, value)
    return taken
