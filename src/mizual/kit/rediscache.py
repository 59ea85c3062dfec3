"""The cache in Redis, shared by every API process and worker.

Redis trouble never fails a request: reads count as misses and writes are skipped, with a
warning in the log, and callers fall back to the database.

Nothing from before a Redis restart is ever served. Every entry is stamped with the `run_id` of
the server it was written to (by the server itself, in the one script every write runs), and an
entry stamped with another run is a miss to a reader (which learns the run on each new
connection, so a connection to a restarted server knows it before its first read): a server
restored from its append-only file, or failed over to a replica, may hold values older than
what the database says, written before writes were lost during the outage. Versioned entries
(`put_versioned`) are compared and replaced inside Redis by one script, so a write never
replaces a newer version, whichever process wrote it.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import redis
import redis.asyncio

from mizual.kit.throttle import ThrottledWarning

logger = logging.getLogger(__name__)

# Entries are `<run_id>|<version>|<json>` (version empty when unversioned), under keys of their
# own, so that processes of an older release, which stored bare JSON, never read them.
_KEY_PREFIX = "c2:"
_RUN_ID = re.compile(rb"run_id:([0-9a-f]+)")

# KEYS[1]; ARGV: version ("" for none), json, ttl seconds, mode, channel ("" for none). The server
# stamps the entry with its own run_id (a process's idea of it may be a run behind, just when it
# matters). Mode "always": stored. "newer": unless the entry of this run holds this version or a
# newer one. "fill": the same, and never over an unversioned entry of this run (the marker that a
# change is being written), nor, for an unversioned value, over any entry of this run (`add`).
# A channel: the json is then published on it, stored or not, after the entry (`put_and_publish`).
_PUT = """
local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
local current = redis.call('GET', KEYS[1])
local stored = 1
if current and ARGV[4] ~= 'always' then
  local held_run, held_version = string.match(current, '^([^|]*)|([^|]*)|')
  if held_run == run_id then
    if held_version == '' or ARGV[1] == '' then
      if ARGV[4] == 'fill' then stored = 0 end
    elseif tonumber(held_version) >= tonumber(ARGV[1]) then
      stored = 0
    end
  end
end
if stored == 1 then
  redis.call('SET', KEYS[1], run_id .. '|' .. ARGV[1] .. '|' .. ARGV[2], 'EX', ARGV[3])
end
if ARGV[5] ~= '' then
  redis.call('PUBLISH', ARGV[5], ARGV[2])
end
return stored
"""


def _dump(value: Any) -> str:
    # As Starlette's JSONResponse renders it (UTF-8, no spaces): a cached status is sent to a
    # poll as it is stored (`edits.polls`), byte for byte what the route would send.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _run_id(info: Any) -> str:
    match = _RUN_ID.search(info if isinstance(info, bytes) else str(info).encode())
    return match.group(1).decode() if match else ""


class RedisCache:
    def __init__(self, url: str, *, timeout_seconds: float = 0.5) -> None:
        options: dict[str, Any] = {
            "socket_timeout": timeout_seconds,
            "socket_connect_timeout": timeout_seconds,
            "health_check_interval": 30,
        }
        # The run_id of the server this process's connections reach (see the module's text).
        self._server_run = ""
        self._url = url
        self._client = redis.Redis.from_url(url, redis_connect_func=self._on_connect, **options)
        # For `aget`: connects at its first use, so only on the event loop of an API process.
        self._async_client = redis.asyncio.Redis.from_url(
            url, redis_connect_func=self._on_async_connect, **options
        )
        self._put = self._client.register_script(_PUT)
        self._redis_down = ThrottledWarning(logger)

    # Connections learn which server run they reach ---------------------------------------------

    def _on_connect(self, connection: Any) -> None:
        connection.on_connect()
        connection.send_command("INFO", "server", check_health=False)
        self._server_run = _run_id(connection.read_response())

    async def _on_async_connect(self, connection: Any) -> None:
        await connection.on_connect()
        await connection.send_command("INFO", "server", check_health=False)
        self._server_run = _run_id(await connection.read_response())

    def _load(self, raw: bytes | str | None) -> Any | None:
        """The value of an entry of this server run; None for a miss or an older run's entry."""
        payload = self.payload(raw)
        return None if payload is None else json.loads(payload)

    def payload(self, raw: bytes | str | None, *, server_run: str | None = None) -> bytes | None:
        """The JSON text of an entry as Redis holds it, if it is of this server run (else None,
        a miss): what a caller that sends the value on as it is reads instead of the value.
        `server_run`: the run the connection that read it reaches, when not this client's."""
        if raw is None:
            return None
        if isinstance(raw, str):  # not with this client's options: it answers bytes
            raw = raw.encode()
        run_id, _, rest = raw.partition(b"|")
        _, _, payload = rest.partition(b"|")
        expected = self._server_run if server_run is None else server_run
        if not run_id or run_id.decode(errors="replace") != expected:
            return None
        return payload

    @property
    def url(self) -> str:
        return self._url

    @property
    def async_client(self) -> redis.asyncio.Redis:
        """The event loop's client, for a script that reads an entry in the same round trip as
        other work (`kit.limitedread`); its entries are read with `payload`."""
        return self._async_client

    def store_key(self, key: str) -> str:
        """The Redis key the entry `key` lives under."""
        return _KEY_PREFIX + key

    # Reading -----------------------------------------------------------------------------------

    def get(self, key: str) -> Any | None:
        try:
            raw = self._client.get(_KEY_PREFIX + key)
        except redis.RedisError as exc:
            self._warn("read", exc)
            return None
        return self._load(raw)

    async def aget(self, key: str) -> Any | None:
        try:
            raw = await self._async_client.get(_KEY_PREFIX + key)
        except redis.RedisError as exc:
            self._warn("read", exc)
            return None
        return self._load(raw)

    def get_many(self, keys: list[str]) -> list[Any | None]:
        if not keys:
            return []
        try:
            raws = self._client.mget([_KEY_PREFIX + key for key in keys])
        except redis.RedisError as exc:
            self._warn("read", exc)
            return [None] * len(keys)
        return [self._load(raw) for raw in raws]

    # Writing -----------------------------------------------------------------------------------

    def set(self, key: str, value: Any, *, ttl_seconds: int) -> None:
        self._run_put(key, value, version="", ttl_seconds=ttl_seconds, mode="always")

    def add(self, key: str, value: Any, *, ttl_seconds: int) -> bool:
        return self._run_put(key, value, version="", ttl_seconds=ttl_seconds, mode="fill")

    def put_versioned(
        self, key: str, value: Any, *, version: int, ttl_seconds: int, fill: bool
    ) -> bool:
        mode = "fill" if fill else "newer"
        return self._run_put(key, value, version=str(version), ttl_seconds=ttl_seconds, mode=mode)

    def put_and_publish(
        self, key: str, value: Any, *, version: int, ttl_seconds: int, channel: str
    ) -> bool:
        """`put_versioned` (not a fill), then the value published on the Redis channel, stored
        or not: one round trip and one encoding for both, in this order (a subscriber that
        reads the entry on a message finds at least that version)."""
        return self._run_put(
            key, value, version=str(version), ttl_seconds=ttl_seconds, mode="newer", channel=channel
        )

    def _run_put(
        self, key: str, value: Any, *, version: str, ttl_seconds: int, mode: str, channel: str = ""
    ) -> bool:
        try:
            stored = self._put(
                keys=[_KEY_PREFIX + key],
                args=[version, _dump(value), ttl_seconds, mode, channel],
            )
        except redis.RedisError as exc:
            self._warn("write", exc)
            return False
        return bool(stored)

    def delete(self, key: str) -> None:
        try:
            self._client.delete(_KEY_PREFIX + key)
        except redis.RedisError as exc:
            self._warn("delete", exc)

    # Operating ---------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        try:
            info = self._client.info()
        except redis.RedisError as exc:
            return {"backend": "redis", "error": f"Redis is not reachable ({type(exc).__name__})"}
        hits, misses = info.get("keyspace_hits", 0), info.get("keyspace_misses", 0)
        return {
            "backend": "redis",
            "connected_clients": info.get("connected_clients", 0),
            "used_memory_human": info.get("used_memory_human", "0B"),
            "keyspace_hits": hits,
            "keyspace_misses": misses,
            "hit_rate": round(hits / (hits + misses), 4) if hits + misses else None,
            "errors_seen_by_this_process": self.errors,
        }

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        await self._async_client.aclose()

    @property
    def errors(self) -> int:
        return self._redis_down.occurrences

    def _warn(self, action: str, exc: redis.RedisError) -> None:
        self._redis_down.warn(
            "cache %s failed, answering from the database: %s", action, type(exc).__name__
        )
