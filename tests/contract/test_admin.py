"""The admin views (`/debug/*`, bearer ADMIN_TOKEN) and /version, in both modes."""

from __future__ import annotations

import time

import httpx

from tests.contract.conftest import ADMIN_TOKEN, Stack
from tests.support import edit_and_wait, jpeg_bytes

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_debug_views_with_the_token(stack: Stack, client: httpx.Client) -> None:
    edit_and_wait(client, "make it darker", jpeg_bytes(64, 48))
    client.get("/edit/00000000-0000-4000-8000-000000000000")  # a cache miss, at least

    schema = client.get("/debug/db-schema", headers=ADMIN_HEADERS)
    assert schema.status_code == 200
    tables = schema.json()["tables"]
    assert {"edits", "edit_feedback", "edit_chains"} <= set(tables)
    assert tables["edits"]["row_count"] >= 1
    assert {"uuid", "prompt", "status", "processing_stage"} <= {
        column["name"] for column in tables["edits"]["columns"]
    }
    assert schema.json()["migration_revision"] == "0006"

    cache = client.get("/debug/cache-stats", headers=ADMIN_HEADERS).json()
    assert cache["keyspace_hits"] + cache["keyspace_misses"] >= 1
    assert cache["environment"] == "preview"

    if stack.mode == "distributed":
        _wait_for_table_statistics(stack)
    performance = client.get("/debug/db-performance", headers=ADMIN_HEADERS).json()
    assert performance["edits_by_status"]["completed"] >= 1
    assert performance["operations"]["get"]["calls"] >= 1
    assert performance["stage_timings_ms"]["ai_processing"]["edits"] >= 1
    database = performance["database"]
    if stack.mode == "distributed":
        assert performance["backend"] == "postgresql"
        assert database["schema"] == stack.env["DATABASE_SCHEMA"]
        tables = {table["table"]: table for table in database["tables"]}
        assert tables["edits"]["live_rows"] >= 1
        assert tables["edits"]["total_bytes"] > 0
        # Status reads find edits by uuid, through the unique index on it.
        by_uuid = [
            index
            for index in database["index_usage"]
            if index["table"] == "edits" and "uuid" in index["index"]
        ]
        assert by_uuid, database["index_usage"]
        assert by_uuid[0]["scans"] >= 1, by_uuid
        # This machine's PostgreSQL does not preload pg_stat_statements: said, not hidden.
        if database["slowest_statements"] is None:
            assert "shared_preload_libraries" in database["slowest_statements_note"]
        else:
            assert all("mean_ms" in row for row in database["slowest_statements"])
        assert database["connections_by_state"]
    else:
        assert performance["backend"] == "sqlite"
        assert database["journal_mode"] == "wal"


def test_version_names_the_backends_of_each_mode(stack: Stack, client: httpx.Client) -> None:
    version = client.get("/version").json()
    expected = {"embedded": ("sqlite", "local"), "distributed": ("postgresql", "s3")}
    assert (version["database"], version["storage"]) == expected[stack.mode]
    assert version["environment"] == "preview"
    health = client.get("/health").json()
    assert health["status"] == "ok"


def _wait_for_table_statistics(stack: Stack) -> None:
    """PostgreSQL's row counts lag: a backend hands its counts over when it goes idle, at most
    once a second and otherwise within 10 s. Wait until they show the edit, so the assertions
    below test what the endpoint reports, not that lag."""
    deadline = time.monotonic() + 15
    query = "SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'edits' AND schemaname = ?"
    while stack.rows(query, stack.env["DATABASE_SCHEMA"])[0]["n_live_tup"] < 1:
        assert time.monotonic() < deadline, "PostgreSQL's statistics never counted the edit"
        time.sleep(0.2)
