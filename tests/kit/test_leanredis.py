"""The pipelined Redis connection of the status poll: replies reach the command that asked, in
order, many at once; the URL's database and credentials are used; errors, a late reply and a
lost connection fail only what they must, and the next command connects again. Against real
Redis, and a fake server where Redis cannot be made to misbehave."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis
import uvloop
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mizual.kit.leanredis import PipelinedRedis, encode
from tests.support import free_port


@pytest.fixture(autouse=True, params=["uvloop", "asyncio"])
def event_loop_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test on uvloop, the loop uvicorn serves the API with, and on asyncio's own: their
    transports differ (uvloop's is no subclass of asyncio.Transport)."""
    policy = asyncio.get_event_loop_policy()
    if request.param == "uvloop":
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        yield str(request.param)
    finally:
        asyncio.set_event_loop_policy(policy)


def run(coroutine: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(coroutine())  # type: ignore[arg-type]


def test_many_commands_at_once_each_get_their_own_reply(redis_url: str) -> None:
    values = {f"key-{n}": f"value-{n}-" + "x" * (n * 37 % 5000) for n in range(300)}
    redis.Redis.from_url(redis_url).mset(values)

    async def main() -> list[Any]:
        client = PipelinedRedis(redis_url)
        try:
            return await asyncio.gather(*(client.call("GET", key) for key in values))
        finally:
            await client.aclose()

    assert run(main) == [value.encode() for value in values.values()]


class CountingWrites:
    """A transport that counts the writes made through it."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


def test_the_commands_of_one_turn_of_the_loop_go_out_in_one_write(redis_url: str) -> None:
    """Each poll's command was written on its own: a system call per poll, and a read per poll
    for Redis (19 % of the API's loop in a py-spy profile of 100 pollers)."""

    async def main() -> tuple[list[Any], list[bytes]]:
        client = PipelinedRedis(redis_url)
        try:
            await client.call("SET", "turn", "v")
            protocol: Any = client._protocol
            counting = CountingWrites(protocol._transport)
            protocol._transport = counting
            answers = await asyncio.gather(*(client.call("GET", "turn") for _ in range(20)))
            later = await client.call("GET", "turn")  # a turn of its own: written on its own
            return [*answers, later], counting.writes
        finally:
            await client.aclose()

    answers, writes = run(main)
    assert answers == [b"v"] * 21
    assert writes == [encode("GET", "turn") * 20, encode("GET", "turn")]


def test_the_loop_is_the_one_asked_for(event_loop_kind: str) -> None:
    async def kind() -> str:
        return type(asyncio.get_running_loop()).__module__.split(".")[0]

    assert run(kind) == event_loop_kind


def test_it_reads_the_urls_database_and_learns_the_servers_run(redis_url: str) -> None:
    plain = redis.Redis.from_url(redis_url)
    plain.set("only-here", "yes")
    run_id = plain.info("server")["run_id"]

    async def main() -> tuple[Any, str]:
        client = PipelinedRedis(redis_url)
        try:
            return await client.call("GET", "only-here"), client.server_run
        finally:
            await client.aclose()

    assert run(main) == (b"yes", run_id)
    assert redis_url.rsplit("/", 1)[1] != "0"  # the fixture's database, not the default one


@pytest.fixture
def user_url(redis_url: str) -> Iterator[str]:
    """A Redis user with a password (an ACL user, removed afterwards)."""
    name, password = f"mizual-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = redis.Redis.from_url(redis_url)
    admin.acl_setuser(name, enabled=True, passwords=[f"+{password}"], keys="*", commands=["+@all"])
    host, database = redis_url.removeprefix("redis://").rsplit("/", 1)
    yield f"redis://{name}:{password}@{host}/{database}"
    admin.acl_deluser(name)


def test_it_authenticates_with_the_urls_credentials(user_url: str) -> None:
    async def main() -> tuple[Any, Any]:
        client = PipelinedRedis(user_url)
        wrong = PipelinedRedis(user_url.replace("@", "x@", 1))
        try:
            who = await client.call("ACL", "WHOAMI")
            with pytest.raises(ResponseError):
                await wrong.call("PING")
            return who, await client.call("PING")
        finally:
            await client.aclose()
            await wrong.aclose()

    who, pong = run(main)
    assert who.decode() in user_url
    assert pong == b"PONG"


def test_an_error_reply_fails_only_its_command(redis_url: str) -> None:
    async def main() -> list[Any]:
        client = PipelinedRedis(redis_url)
        try:
            return await asyncio.gather(
                client.call("PING"),
                client.call("EVALSHA", "0" * 40, 0),
                client.call("INCRBY", "counter", "not-a-number"),
                client.call("ECHO", "after"),
                return_exceptions=True,
            )
        finally:
            await client.aclose()

    pong, no_script, wrong, after = run(main)
    assert pong == b"PONG"
    assert isinstance(no_script, NoScriptError)
    assert isinstance(wrong, ResponseError)
    assert after == b"after"


def test_a_lost_connection_fails_what_waits_and_the_next_command_connects_again(
    redis_url: str,
) -> None:
    async def main() -> tuple[Any, Any]:
        client = PipelinedRedis(redis_url)
        try:
            connection_id = await client.call("CLIENT", "ID")
            redis.Redis.from_url(redis_url).client_kill_filter(_id=connection_id)
            with pytest.raises(RedisConnectionError):
                await client.call("PING")
            return await client.call("ECHO", "again"), await client.call("CLIENT", "ID")
        finally:
            await client.aclose()

    again, new_id = run(main)
    assert again == b"again"
    assert isinstance(new_id, int)


def test_nothing_listening_is_a_connection_error() -> None:
    async def main() -> None:
        client = PipelinedRedis(f"redis://127.0.0.1:{free_port()}/0")
        with pytest.raises(RedisConnectionError):
            await client.call("PING")

    run(main)


class SilentAfterHello:
    """A server that answers INFO (with a run_id), then never answers again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(65536)
        self.received.append(data)
        info = b"# Server\r\nrun_id:0123abcd\r\n"
        writer.write(b"$%d\r\n%s\r\n" % (len(info), info))
        await writer.drain()
        while data:
            data = await reader.read(65536)
            self.received.append(data)
        writer.close()


def test_a_late_reply_fails_every_waiting_command_and_closes_the_connection() -> None:
    server = SilentAfterHello()

    async def main() -> list[Any]:
        listening = await asyncio.start_server(server.handle, "127.0.0.1", server.port)
        client = PipelinedRedis(f"redis://127.0.0.1:{server.port}/0", timeout_seconds=0.2)
        try:
            answers = await asyncio.gather(
                client.call("GET", "a"), client.call("GET", "b"), return_exceptions=True
            )
            assert client.server_run == "0123abcd"
            return answers
        finally:
            await client.aclose()
            listening.close()

    answers = run(main)
    assert all(isinstance(answer, RedisTimeoutError) for answer in answers), answers
    assert server.received[0] == encode("INFO", "server")


def test_only_plain_tcp_urls_are_taken() -> None:
    assert PipelinedRedis.supports("redis://127.0.0.1:6379/0")
    assert not PipelinedRedis.supports("rediss://cache.example:6380/1")  # TLS: redis-py's
    assert not PipelinedRedis.supports("unix:///run/redis.sock")


def test_a_new_event_loop_gets_a_connection_of_its_own(redis_url: str) -> None:
    client = PipelinedRedis(redis_url)

    async def ping() -> Any:
        return await client.call("PING")

    # As a test's TestClients do: each runs its own loop, one after the other.
    assert asyncio.run(ping()) == b"PONG"
    assert asyncio.run(ping()) == b"PONG"
    run(client.aclose)
