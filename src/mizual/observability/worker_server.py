"""A worker's own `GET /metrics` (METRICS_PORT): a Celery worker serves no HTTP otherwise."""

from __future__ import annotations

import logging
import threading
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from mizual.kit.bearer import bearer_matches
from mizual.observability.exposition import CONTENT_TYPE, exposition
from mizual.observability.multiprocess import multiprocess_folder

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from mizual.settings import Settings

logger = logging.getLogger(__name__)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds are not worth a log line each."""


def serve_worker_metrics(settings: Settings) -> WSGIServer | None:
    """`GET /metrics` on HOST:METRICS_PORT in a background thread, with the same bearer token as
    the API's. Returns None (and logs) when the port is taken, e.g. by another worker on this
    machine sharing the folder, which then serves these figures too."""
    if settings.metrics_port is None or settings.admin_token is None:
        return None
    token = settings.admin_token.get_secret_value()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not Found\n"]
        if not bearer_matches(environ.get("HTTP_AUTHORIZATION", ""), token):
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [b"this endpoint needs 'Authorization: Bearer <ADMIN_TOKEN>'\n"]
        body = exposition()
        start_response("200 OK", [("Content-Type", CONTENT_TYPE)])
        return [body]

    try:
        server = make_server(
            settings.host,
            settings.metrics_port,
            app,
            server_class=_Server,
            handler_class=_QuietHandler,
        )
    except OSError as exc:
        logger.error(
            "worker metrics: cannot listen on %s:%d (%s); not serving them here",
            settings.host,
            settings.metrics_port,
            exc,
        )
        return None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    logger.info(
        "worker metrics at http://%s:%d/metrics (folder %s)",
        settings.host,
        settings.metrics_port,
        multiprocess_folder() or "none: this process only",
    )
    return server
