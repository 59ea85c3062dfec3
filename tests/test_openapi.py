"""The OpenAPI document is one a client generator can use: readable, unique operation ids, named
models for every body, the admin token's scheme; and a client generated from it by
openapi-python-client (installed by `make install` in a venv of its own, `.venv/openapi-client`)
submits an edit and follows it to its result, against a real server."""

from __future__ import annotations

import compileall
import importlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mizual.openapi import operation_id
from tests.support import MizualServer, data_url, jpeg_bytes

ADMIN_TOKEN = "test-admin-token"  # the shared server's
PACKAGE = "mizual_api"

EXPECTED_IDS = {
    "POST /edit-image/": "editImage",
    "GET /edit/{edit_uuid}": "getEditStatus",
    "GET /edit/{edit_uuid}/events": "getEditEvents",
    "GET /chain/{edit_uuid}": "getEditChain",
    "POST /feedback/": "submitFeedback",
    "GET /feedback/{edit_uuid}": "getFeedback",
    "GET /health": "getHealth",
    "GET /health/celery": "getCeleryHealth",
    "GET /version": "getVersion",
    "GET /metrics": "getMetrics",
    "GET /debug/db-schema": "getDbSchema",
    "GET /debug/cache-stats": "getCacheStats",
    "GET /debug/db-performance": "getDbPerformance",
}
ADMIN_PATHS = {"/metrics", "/debug/db-schema", "/debug/cache-stats", "/debug/db-performance"}
CAMEL_CASE = re.compile(r"[a-z]+(?:[A-Z][a-z]+)*")


@pytest.fixture(scope="module")
def spec(server: MizualServer) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{server.url}/openapi.json", timeout=10).json()
    return document


def operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """ "METHOD /path" → the operation."""
    return {
        f"{method.upper()} {path}": operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    }


def test_operation_ids_are_readable_and_unique(spec: dict[str, Any]) -> None:
    ids = {label: operation["operationId"] for label, operation in operations(spec).items()}
    assert {label: ids.get(label) for label in EXPECTED_IDS} == EXPECTED_IDS
    assert len(set(ids.values())) == len(ids), ids
    assert [i for i in ids.values() if not CAMEL_CASE.fullmatch(i)] == []


def test_each_operation_is_listed_once(spec: dict[str, Any]) -> None:
    """One tag each: with a tag twice, Redoc shows the operation twice."""
    tags = {label: operation.get("tags", []) for label, operation in operations(spec).items()}
    assert {label: t for label, t in tags.items() if len(t) != 1} == {}


def test_a_new_route_gets_a_readable_id_without_naming_one() -> None:
    app = FastAPI(generate_unique_id_function=operation_id)

    @app.get("/edits/recent")
    def list_recent_edits() -> list[str]:
        return []

    @app.post("/edits/{edit_uuid}/retry")
    def retry_edit(edit_uuid: str) -> str:
        return edit_uuid

    ids = {label: op["operationId"] for label, op in operations(app.openapi()).items()}
    assert ids == {
        "GET /edits/recent": "listRecentEdits",
        "POST /edits/{edit_uuid}/retry": "retryEdit",
    }


def _schema_of(spec: dict[str, Any], operation: dict[str, Any], status: str) -> dict[str, Any]:
    ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
    schema: dict[str, Any] = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


@pytest.mark.parametrize(
    ("label", "status", "model", "fields"),
    [
        ("GET /chain/{edit_uuid}", "200", "ChainView", {"chain_length", "chain_history"}),
        ("GET /health", "200", "HealthReport", {"status", "message"}),
        ("GET /health", "503", "HealthReport", {"status", "message"}),
        ("GET /health/celery", "200", "CeleryHealthReport", {"mode", "worker_count", "workers"}),
        ("GET /health/celery", "503", "CeleryHealthReport", {"mode", "worker_count", "workers"}),
        ("GET /version", "200", "VersionInfo", {"version", "git_commit", "storage", "python"}),
    ],
)
def test_bodies_are_described_by_named_models(
    spec: dict[str, Any], label: str, status: str, model: str, fields: set[str]
) -> None:
    schema = _schema_of(spec, operations(spec)[label], status)
    assert schema["title"] == model
    assert fields <= set(schema["properties"])
    undescribed = [
        name for name, field in schema["properties"].items() if not field.get("description")
    ]
    assert undescribed == []


def test_admin_routes_declare_the_bearer_token(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["AdminToken"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    assert "ADMIN_TOKEN" in scheme["description"]
    secured = {
        label.split(" ", 1)[1]
        for label, operation in operations(spec).items()
        if operation.get("security") == [{"AdminToken": []}]
    }
    assert secured == ADMIN_PATHS


@pytest.fixture(scope="module")
def client_package(
    server: MizualServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A client generated from the running server's /openapi.json, importable as PACKAGE."""
    generator = Path(sys.prefix) / "openapi-client" / "bin" / "openapi-python-client"
    if not generator.is_file():
        reason = f"{generator} is missing; `make install` puts openapi-python-client there"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("generated-client")
    ruff = Path(sys.executable).with_name("ruff")
    config = root / "openapi-python-client.yaml"
    # Its ruff passes (its defaults), with the venv's ruff: a bare `ruff` may not be on PATH.
    config.write_text(
        f"package_name_override: {PACKAGE}\n"
        "post_hooks:\n"
        f'  - "{ruff} check . --fix-only"\n'
        f'  - "{ruff} format ."\n'
    )
    result = subprocess.run(
        [
            str(generator),
            "generate",
            "--url",
            f"{server.url}/openapi.json",
            "--meta",
            "none",
            "--output-path",
            str(root / PACKAGE),
            "--config",
            str(config),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Nothing about the schema to report: only the line that says where it went.
    assert output.strip().splitlines() == [f"Generating {root / PACKAGE}"], output
    assert compileall.compile_dir(root / PACKAGE, quiet=1, force=True)
    sys.path.insert(0, str(root))
    try:
        yield root / PACKAGE
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.partition(".")[0] == PACKAGE]:
            del sys.modules[name]


def generated(client_package: Path, module: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{module}")


def test_generated_client_submits_an_edit_and_follows_it(
    client_package: Path, server: MizualServer
) -> None:
    models = generated(client_package, "models")
    client = generated(client_package, "client").Client(base_url=server.url, timeout=30)
    edit_image = generated(client_package, "api.edits.edit_image")
    get_edit_status = generated(client_package, "api.edits.get_edit_status")
    get_edit_chain = generated(client_package, "api.edits.get_edit_chain")

    request = models.EditImageRequest(
        prompt="make it black and white", image=data_url(jpeg_bytes(96, 72))
    )
    created = edit_image.sync(client=client, body=request)
    assert isinstance(created, models.EditCreateResponse), created
    assert created.polling_url == f"/edit/{created.edit_id}"

    deadline = time.monotonic() + 60
    status = get_edit_status.sync(created.edit_id, client=client)
    while isinstance(status, models.EditStatusView) and not status.is_complete:
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
        status = get_edit_status.sync(created.edit_id, client=client)
    assert isinstance(status, models.EditStatusView), status
    assert status.status == "completed"
    assert status.is_error is False
    assert status.uuid == created.edit_id
    assert status.edited_image_url.startswith("http")
    assert httpx.get(status.edited_image_url, timeout=10).headers["content-type"] == "image/jpeg"
    # The schema names every field the server sends: none is left over, untyped.
    assert status.additional_properties == {}

    chain = get_edit_chain.sync(created.edit_id, client=client)
    assert isinstance(chain, models.ChainView), chain
    assert chain.edit_uuid == created.edit_id
    assert chain.chain_length == 1
    (member,) = chain.chain_history
    assert isinstance(member.edit, models.EditStatusView)
    assert member.edit.uuid == created.edit_id
    assert member.chain_position == 1
    assert member.parent_edit_uuid is None
    assert chain.additional_properties == member.additional_properties == {}

    missing = get_edit_status.sync("00000000-0000-4000-8000-000000000000", client=client)
    assert isinstance(missing, models.ErrorBody)
    assert missing.error == "not_found"


def test_generated_client_reads_health_and_version(
    client_package: Path, server: MizualServer
) -> None:
    models = generated(client_package, "models")
    client = generated(client_package, "client").Client(base_url=server.url, timeout=30)
    health = generated(client_package, "api.ops.get_health").sync(client=client)
    assert isinstance(health, models.HealthReport), health
    assert health.status == models.HealthReportStatus.OK
    celery = generated(client_package, "api.ops.get_celery_health").sync(client=client)
    assert isinstance(celery, models.CeleryHealthReport), celery
    assert celery.mode == models.CeleryHealthReportMode.EMBEDDED
    assert celery.worker_count >= 1
    version = generated(client_package, "api.ops.get_version").sync(client=client)
    assert isinstance(version, models.VersionInfo), version
    assert version.storage == models.VersionInfoStorage.LOCAL
    assert version.database == "sqlite"
    for body in (health, celery, version):
        assert body.additional_properties == {}


def test_generated_client_sends_the_admin_token(client_package: Path, server: MizualServer) -> None:
    models = generated(client_package, "models")
    clients = generated(client_package, "client")
    admin = clients.AuthenticatedClient(base_url=server.url, token=ADMIN_TOKEN, timeout=30)
    schema = generated(client_package, "api.admin.get_db_schema").sync(client=admin)
    assert isinstance(schema, models.DbSchemaReport), schema
    assert "edits" in schema.additional_properties["tables"]
    metrics = generated(client_package, "api.admin.get_metrics").sync(client=admin)
    assert isinstance(metrics, str)
    assert "mizual_" in metrics

    wrong = clients.AuthenticatedClient(base_url=server.url, token="not-the-token")
    refused = generated(client_package, "api.admin.get_cache_stats").sync(client=wrong)
    assert isinstance(refused, models.ErrorBody)
    assert refused.error == "unauthorized"
