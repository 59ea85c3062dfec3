"""Which web pages a browser lets call the API: CORS per environment, ALLOWED_ORIGINS wins."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from mizual.settings import Settings
from tests.support import MizualServer, data_url, jpeg_bytes

PREVIEW_DEPLOYMENT = "https://mizual-frontend-git-main-3fa9c1.vercel.app"


def preflight(server: MizualServer, origin: str, method: str = "POST") -> httpx.Response:
    return httpx.options(
        f"{server.url}/edit-image/",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type",
        },
    )


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MizualServer]:
    folder = tmp_path_factory.mktemp("production")
    server = MizualServer(folder, {"ENVIRONMENT": "production", "RATE_LIMIT_DAILY_IMAGES": "1"})
    yield server.start()
    server.stop()


@pytest.mark.parametrize(
    "origin", ["https://mizual.ai", "https://www.mizual.ai", PREVIEW_DEPLOYMENT]
)
def test_production_admits_its_own_sites_with_credentials(
    production: MizualServer, origin: str
) -> None:
    answer = preflight(production, origin)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == origin
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert "POST" in answer.headers["access-control-allow-methods"]


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://mizual.ai",  # not https
        "https://mizual.ai.evil.example",
        "https://evil.example/https://mizual.ai",
        # The wildcard is one label of the host name, never a dot or another domain.
        "https://mizual-frontend-git-main-a.b.vercel.app",
        "https://mizual-frontend-git-main-x.vercel.app.evil.example",
        "https://mizual-frontend-git-feature-x.vercel.app",
    ],
)
def test_production_refuses_other_origins(production: MizualServer, origin: str) -> None:
    answer = preflight(production, origin)
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers
    simple = httpx.get(f"{production.url}/health", headers={"Origin": origin})
    assert "access-control-allow-origin" not in simple.headers


def test_a_rate_limited_page_can_read_how_long_to_wait(production: MizualServer) -> None:
    body = {"prompt": "make it brighter", "image": data_url(jpeg_bytes(32, 32))}
    headers = {"Origin": "https://mizual.ai"}
    with httpx.Client(base_url=production.url, headers=headers) as client:
        assert client.post("/edit-image/", json=body).status_code == 200
        refused = client.post("/edit-image/", json=body)
    assert refused.status_code == 429
    assert refused.headers["access-control-allow-origin"] == "https://mizual.ai"
    exposed = refused.headers["access-control-expose-headers"]
    assert "Retry-After" in exposed
    assert int(refused.headers["retry-after"]) > 0


def test_preview_admits_every_origin_without_credentials(
    make_server: Callable[..., MizualServer],
) -> None:
    server = make_server({"ENVIRONMENT": "preview"})
    answer = preflight(server, "https://anything.example")
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in answer.headers


def test_allowed_origins_overrides_the_environment(
    make_server: Callable[..., MizualServer],
) -> None:
    server = make_server(
        {
            "ENVIRONMENT": "production",
            "ALLOWED_ORIGINS": "http://localhost:5173, https://*.example.org",
        }
    )
    assert preflight(server, "http://localhost:5173").status_code == 200
    assert preflight(server, "https://photos.example.org").status_code == 200
    assert preflight(server, "https://mizual.ai").status_code == 400


def test_a_bare_star_never_allows_credentials() -> None:
    """A browser would refuse it, and echoing every origin with credentials is a hole."""
    options = Settings(environment="production", allowed_origins="*").cors_policy
    assert options.middleware_options()["allow_credentials"] is False


@pytest.mark.parametrize(
    "value", ["https://mizual.ai/app", "mizual.ai", "ftp://mizual.ai", "https://a b.example"]
)
def test_an_origin_that_is_not_one_is_refused_at_start_up(value: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        Settings(allowed_origins=value)
