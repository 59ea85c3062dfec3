"""Operation ids of the OpenAPI document: the names of the functions a generated client has.

FastAPI's own (`edit_status_edit__edit_uuid__get`) are unique but unreadable. Ours are the
endpoint function's name in camelCase (`submit_feedback` → `submitFeedback`), except where the
table below gives one: a name chosen for the client, where the function's name reads well only
beside its route. The table is keyed by method and path, so renaming a function cannot rename
the operation a deployed client calls.
"""

from __future__ import annotations

from fastapi.routing import APIRoute

OPERATION_IDS = {
    "GET /edit/{edit_uuid}": "getEditStatus",
    "GET /edit/{edit_uuid}/events": "getEditEvents",
    "GET /chain/{edit_uuid}": "getEditChain",
    "GET /health": "getHealth",
    "GET /health/celery": "getCeleryHealth",
    "GET /version": "getVersion",
    "GET /metrics": "getMetrics",
    "GET /debug/db-schema": "getDbSchema",
    "GET /debug/cache-stats": "getCacheStats",
    "GET /debug/db-performance": "getDbPerformance",
}


def operation_id(route: APIRoute) -> str:
    """For `FastAPI(generate_unique_id_function=...)`. A route answering several methods gets
    the id of the first (sorted) in the table, or the camelCase of its function's name."""
    for method in sorted(route.methods or ()):
        chosen = OPERATION_IDS.get(f"{method} {route.path_format}")
        if chosen is not None:
            return chosen
    return camel_case(route.name)


def camel_case(name: str) -> str:
    first, *rest = name.strip("_").split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)
