"""Which errors are outages (503 and waited out) and which are not (a bug or a refusal)."""

from __future__ import annotations

import pytest
import redis
from sqlalchemy import exc as sa

from mizual.kit.outages import Outage, describe, outage_of
from mizual.kit.storage.base import ObjectNotFound, StorageError


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (sa.OperationalError("SELECT 1", {}, Exception("connection refused")), Outage.DATABASE),
        (sa.InterfaceError("SELECT 1", {}, Exception("connection closed")), Outage.DATABASE),
        (sa.TimeoutError("QueuePool limit reached"), Outage.DATABASE),
        (
            sa.DBAPIError("SELECT 1", {}, Exception("lost"), connection_invalidated=True),
            Outage.DATABASE,
        ),
        (sa.IntegrityError("INSERT", {}, Exception("duplicate key")), None),
        (sa.ProgrammingError("SELEC", {}, Exception("syntax error")), None),
        (StorageError("could not connect to the endpoint"), Outage.STORAGE),
        (StorageError("NoSuchBucket", transient=False), None),
        (ObjectNotFound("originals/x.jpg"), None),
        (redis.ConnectionError("Connection refused"), Outage.REDIS),
        (redis.TimeoutError("Timeout reading"), Outage.REDIS),
        (redis.ResponseError("WRONGTYPE"), None),
        (ValueError("a bug"), None),
    ],
)
def test_outages_are_told_from_bugs_and_refusals(error: Exception, outage: Outage | None) -> None:
    assert outage_of(error) == outage


def test_the_log_line_of_an_outage_holds_neither_the_sql_nor_its_parameters() -> None:
    error = sa.OperationalError(
        "UPDATE edits SET prompt=%(prompt)s",
        {"prompt": "a private prompt"},
        Exception('connection to server at "db" failed: Connection refused\nIs it running?'),
    )
    line = describe(error)
    assert line == 'Exception: connection to server at "db" failed: Connection refused'
    assert "UPDATE" not in line
    assert "private" not in line
