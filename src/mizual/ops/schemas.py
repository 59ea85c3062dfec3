"""The bodies of the operational endpoints, as the OpenAPI document describes them.

The routes build their JSON themselves (the reference's fields and values, which its clients
parse); these models only describe it, for generated clients and the fuzzer.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, RootModel


class HealthReport(BaseModel):
    status: Literal["ok", "unhealthy", "draining"] = Field(
        description='"ok" with 200; "unhealthy" with 503, when the database does not answer; '
        '"draining" with 503 while the server shuts down (SIGTERM): a load balancer should '
        "send requests to another replica."
    )
    message: str = Field(description="The same, for a person to read.")


class CeleryHealthReport(BaseModel):
    status: Literal["healthy", "unhealthy"] = Field(
        description='"healthy" with 200; "unhealthy" with 503, when no worker answered or the '
        "broker is down."
    )
    mode: Literal["embedded", "distributed"] = Field(
        description="embedded: edits run inside the API process (`mizual serve`); distributed: "
        "in Celery workers (`mizual api` + `mizual worker`)."
    )
    worker_count: int = Field(
        description="Workers that answered; in embedded mode, the edit threads (MAX_WORKERS)."
    )
    workers: list[str] = Field(
        description="The Celery names of the workers that answered (empty in embedded mode)."
    )
    message: str = Field(description="What the status means, for a person to read.")


class VersionInfo(BaseModel):
    version: str = Field(description="Mizual's version.")
    git_commit: str = Field(description='GIT_COMMIT as deployed, or "unknown".')
    deploy_time: str = Field(description="DEPLOY_TIME as deployed, else when this process started.")
    started_at: str = Field(description="When this process started (ISO 8601, UTC).")
    environment: str = Field(description="The settings profile: production or preview.")
    edit_provider: str = Field(description="The image editor in use (EDIT_PROVIDER).")
    prompt_enhancement: str = Field(
        description='"off", "off (no LLM key)", or the LLM provider and its model.'
    )
    database: str = Field(description="sqlite or postgresql.")
    storage: Literal["local", "s3"] = Field(description="Where images are kept.")
    python: str = Field(description="The Python version of this process.")


# The admin views are for people and change as Mizual does: open objects, under names of their
# own (FastAPI would name them after the operation: "Response Getdbschema").
class DbSchemaReport(RootModel[dict[str, Any]]):
    """The database's tables, their columns and indexes, and the migration it is at."""


class CacheStatsReport(RootModel[dict[str, Any]]):
    """The cache's backend and its counters (hits, misses, ...), and the environment."""


class DbPerformanceReport(RootModel[dict[str, Any]]):
    """Timings of database operations and edit stages, edits by status, the queue, the
    connection pool and the database's own statistics."""
