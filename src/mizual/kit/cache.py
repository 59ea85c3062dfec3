"""A small key/value cache with TTLs. Embedded mode keeps it in the process.

Callers write through it after every database change they make, and fill it from a read, so
a reader that loaded a row just before a writer changed it cannot put the older state back over
the newer one (see `edits.status`): `add` never overwrites, and `put_versioned` never replaces
a newer version of the same value.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Protocol


class Cache(Protocol):
    def get(self, key: str) -> Any | None: ...

    async def aget(self, key: str) -> Any | None:
        """`get` for the event loop: the same answer, without holding a thread meanwhile."""
        ...

    def get_many(self, keys: list[str]) -> list[Any | None]: ...

    def set(self, key: str, value: Any, *, ttl_seconds: int) -> None: ...

    def add(self, key: str, value: Any, *, ttl_seconds: int) -> bool:
        """Set only if the key is absent; True when it was set."""
        ...

    def put_versioned(
        self, key: str, value: Any, *, version: int, ttl_seconds: int, fill: bool
    ) -> bool:
        """Store `value` as `version` of the key, unless the entry already holds that version
        or a newer one. `fill`: a reader's fill, which also leaves an unversioned entry (a
        marker that a change is being written) in place. True when it was stored."""
        ...

    def delete(self, key: str) -> None: ...

    def stats(self) -> dict[str, Any]: ...

    def close(self) -> None: ...

    async def aclose(self) -> None:
        """Close what `aget` opened; on the event loop it ran on."""
        ...


class MemoryCache:
    def __init__(self, *, max_entries: int = 10_000) -> None:
        # key -> (expires at, value, version or None)
        self._entries: OrderedDict[str, tuple[float, Any, int | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_entries = max_entries
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Any | None:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= now:
                if entry is not None:
                    del self._entries[key]
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    async def aget(self, key: str) -> Any | None:
        return self.get(key)  # a dictionary look-up: no need to leave the loop

    def get_many(self, keys: list[str]) -> list[Any | None]:
        return [self.get(key) for key in keys]

    def set(self, key: str, value: Any, *, ttl_seconds: int) -> None:
        with self._lock:
            self._store(key, value, ttl_seconds)

    def add(self, key: str, value: Any, *, ttl_seconds: int) -> bool:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > time.monotonic():
                return False
            self._store(key, value, ttl_seconds)
            return True

    def put_versioned(
        self, key: str, value: Any, *, version: int, ttl_seconds: int, fill: bool
    ) -> bool:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > time.monotonic():
                held = entry[2]
                if (held is None and fill) or (held is not None and held >= version):
                    return False
            self._store(key, value, ttl_seconds, version=version)
            return True

    def _store(self, key: str, value: Any, ttl_seconds: int, *, version: int | None = None) -> None:
        self._entries[key] = (time.monotonic() + ttl_seconds, value, version)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def delete(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            lookups = self.hits + self.misses
            return {
                "backend": "memory",
                "entries": len(self._entries),
                "max_entries": self._max_entries,
                "keyspace_hits": self.hits,
                "keyspace_misses": self.misses,
                "hit_rate": round(self.hits / lookups, 4) if lookups else None,
            }

    def close(self) -> None:
        with self._lock:
            self._entries.clear()

    async def aclose(self) -> None:
        pass
