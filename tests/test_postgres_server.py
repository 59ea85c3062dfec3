"""`mizual serve` on PostgreSQL: the same API and rules, the schema created by the migration."""

from __future__ import annotations

import psycopg

from tests.support import (
    assert_error,
    colourfulness,
    edit_and_wait,
    fetch_image,
    jpeg_bytes,
    running_server,
)


def test_edits_chains_and_feedback_on_postgresql(  # type: ignore[no-untyped-def]
    tmp_path, postgres_url: str, postgres_schema: str
) -> None:
    env = {
        "DATABASE_URL": postgres_url,
        "DATABASE_SCHEMA": postgres_schema,
        "ADMIN_TOKEN": "pg-admin",
    }
    with running_server(tmp_path / "pg", env) as server, server.client() as client:
        first = edit_and_wait(client, "make it black and white", jpeg_bytes())
        assert first["status"] == "completed", first
        _, result = fetch_image(client, first["edited_image_url"])
        assert colourfulness(result) < 1.0

        second = edit_and_wait(client, "rotate 90 degrees clockwise", parent=first["uuid"])
        assert second["status"] == "completed", second
        chain = client.get(f"/chain/{first['uuid']}").json()
        assert [entry["chain_position"] for entry in chain["chain_history"]] == [1, 2]

        feedback = client.post(
            "/feedback/", json={"edit_uuid": second["uuid"], "rating": 0, "feedback_text": "meh"}
        )
        assert feedback.status_code == 200, feedback.text
        again = client.post("/feedback/", json={"edit_uuid": second["uuid"], "rating": 1})
        assert_error(again, 409, "conflict", "already given")

        schema_view = client.get(
            "/debug/db-schema", headers={"Authorization": "Bearer pg-admin"}
        ).json()
        assert schema_view["backend"] == "postgresql"
        assert schema_view["tables"]["edits"]["row_count"] == 2
        assert client.get("/version").json()["database"] == "postgresql"

    with psycopg.connect(postgres_url) as conn:
        stored_ip = conn.execute(
            f'SELECT host(user_ip) FROM "{postgres_schema}".edit_feedback'
        ).fetchone()
        in_public = conn.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_name = 'edits'"
        ).fetchone()
    assert stored_ip == ("127.0.0.0",)
    assert in_public == (0,)
