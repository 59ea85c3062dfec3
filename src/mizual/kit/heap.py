"""Large buffers handed back to the system when they are freed.

glibc serves a block of 128 KiB or more with a mapping of its own, returned to the system on
free, but each such free raises that threshold to the freed size (up to 32 MiB). After one large
upload (a 15 MB photo is a 20 MB body, its text and its bytes), the next ones are carved from
the heap, which keeps them: an API process that took three 50 MP photos stayed 70-100 MB above
its size before them (bench/RESULTS.md, issue 21). A fixed threshold of 1 MiB stops the rise;
blocks below it (every status poll's, every 1 MP photo's) are served as before.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

logger = logging.getLogger(__name__)

LARGE_BLOCK_BYTES = 1 << 20
_M_MMAP_THRESHOLD = -3  # glibc's malloc.h
# glibc's own variable: an operator who sets it has chosen, and it is left alone.
_OPERATOR_SETTING = "MALLOC_MMAP_THRESHOLD_"


def return_large_blocks_to_the_system() -> bool:
    """Fix the C allocator's mapping threshold at LARGE_BLOCK_BYTES. True if it took the
    setting; False where it has none (musl, macOS) or where the operator set one."""
    if not sys.platform.startswith("linux") or _OPERATOR_SETTING in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    taken = bool(mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES))
    if not taken:
        logger.debug("the C library did not take a fixed mmap threshold")
    return taken
