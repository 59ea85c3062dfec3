"""Latency of the hot database operations on PostgreSQL, timed in-process.

The repository's own timer (`OperationTimings`, what /debug/db-performance shows) around the
methods the API and the workers call per edit, on the engine Mizual builds (its pool, which
pings only connections idle for 10 s), in a fresh schema migrated with `mizual migrate`'s code.
Each round makes 200 edits (a third of them chained) and walks each through its stages; stage
changes are progress writes (`durable=False`), as the pipeline makes them.
"""

from __future__ import annotations

import uuid
from typing import Any

from bench.common import POSTGRES_URL

ROUNDS = 3
EDITS = 200


def one_round(repository: Any) -> dict[str, float]:
    from mizual.kit.db.timing import OperationTimings

    repository.timings = OperationTimings(window=10_000)
    made: list[uuid.UUID] = []
    for n in range(EDITS):
        edit_uuid = uuid.uuid4()
        parent = made[-1] if made and n % 3 else None
        repository.create(
            values={
                "uuid": edit_uuid,
                "prompt": "flip it",
                "original_key": f"originals/{edit_uuid}.jpg",
                "original_image_url": f"/images/originals/{edit_uuid}.jpg",
            },
            parent_edit_uuid=parent,
            chain_position=1 if parent is None else n % 3 + 1,
        )
        made.append(edit_uuid)
        repository.mark_dispatched(edit_uuid)
        repository.get(edit_uuid)
        repository.start_attempt(edit_uuid, lease_seconds=30)
        for stage in ("initialization", "enhancing_prompt", "ai_processing", "completion"):
            repository.update(
                edit_uuid, durable=False, processing_stage=stage, stage_timings={stage: 1.0}
            )
        repository.update(edit_uuid, status="completed", processing_stage="completed")
        repository.get(edit_uuid)
        if n % 10 == 0:
            repository.lineage(edit_uuid)
            repository.chain(edit_uuid)
            repository.list_unfinished()
            repository.count_by_status()
            repository.recent_stage_timings()
    return {name: row["p50_ms"] for name, row in repository.timings.summary().items()}


def measure() -> dict[str, list[float]]:
    import psycopg

    from mizual.edits.repository import EditRepository
    from mizual.kit.db.engine import build_engine
    from mizual.kit.db.migrate import upgrade
    from mizual.kit.db.timing import OperationTimings
    from mizual.settings import Settings

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    settings = Settings(database_url=POSTGRES_URL, database_schema=schema)  # type: ignore[call-arg]
    engine = build_engine(settings)
    try:
        upgrade(engine, schema=schema)
        repository = EditRepository(engine, OperationTimings())
        one_round(repository)  # warm-up: connections, prepared statements, caches
        rounds = [one_round(repository) for _ in range(ROUNDS)]
    finally:
        engine.dispose()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return {name: [r[name] for r in rounds] for name in rounds[0]}
