"""The FastAPI application: routers, middleware, error mapping, and the runtime's lifetime."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from mizual import __version__, docs_ui, web
from mizual.edits.polls import StatusPolls
from mizual.edits.router import router as edits_router
from mizual.errors.handlers import install_error_handlers
from mizual.feedback.router import router as feedback_router
from mizual.kit import heap
from mizual.kit.bodylimit import BodySizeLimit
from mizual.kit.dataurl import describe_bytes
from mizual.kit.periodic import Periodic
from mizual.observability.router import router as metrics_router
from mizual.openapi import operation_id
from mizual.ops.debug import router as debug_router
from mizual.ops.router import router as ops_router
from mizual.ratelimits import ResolvedRules
from mizual.runtime import Role, build_runtime
from mizual.serving import Drain
from mizual.settings import ConfigurationError, Settings, load_settings
from mizual.webhooks.sender import ROUND_SECONDS as WEBHOOK_ROUND_SECONDS

logger = logging.getLogger(__name__)

# JSON and base64 overhead on top of the largest image accepted.
_BODY_OVERHEAD_BYTES = 64 * 1024


def create_app(settings: Settings, *, role: Role = Role.EMBEDDED) -> FastAPI:
    """`Role.EMBEDDED`: edits run in this process; `Role.API`: they go to Celery workers (and
    this process's threads share two allocator arenas from here on: `kit.heap.share_arenas`)."""
    if role is Role.API:
        heap.share_arenas()  # before the server's threads start

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = build_runtime(settings, role=role)
        app.state.runtime = runtime
        runtime.broadcast.start()
        # Streams end when draining starts, not when the server stops: their clients reconnect
        # to another process at once, and none holds the graceful shutdown for its 10 s.
        drain.on_start(runtime.broadcast.end_subscriptions)
        if role is Role.EMBEDDED:
            runtime.edits.recover_unfinished()
        # Both safe to run in every API process: each round is one conditional UPDATE.
        reconciler = Periodic(
            "edit-reconciler",
            runtime.edits.reconcile,
            every_seconds=settings.reconcile_interval_seconds,
        ).start()
        sweeper = Periodic(
            "stuck-edit-sweep",
            runtime.edits.fail_stuck_edits,
            every_seconds=settings.sweep_interval_seconds,
        ).start()
        # Idempotency keys older than 24 h: one indexed DELETE a round, in any process.
        key_sweeper = Periodic(
            "idempotency-key-sweep",
            runtime.idempotency.sweep,
            every_seconds=settings.sweep_interval_seconds,
        ).start()
        # IMAGE_RETENTION_HOURS: images of finished edits past it removed, each edit claimed by
        # one process (a conditional UPDATE); no round at all while it is 0 (keep).
        retention = (
            Periodic(
                "image-retention-sweep",
                runtime.removal.expire_old_images,
                every_seconds=settings.sweep_interval_seconds,
            ).start()
            if settings.image_retention_hours > 0
            else None
        )
        # Webhook retries and orphaned messages: each is claimed before it is sent.
        webhook_round = (
            Periodic(
                "webhook-sender", runtime.webhooks.send_due, every_seconds=WEBHOOK_ROUND_SECONDS
            ).start()
            if runtime.webhooks is not None
            else None
        )
        drain.install()
        # Everything built so far lives as long as the process: out of the collector's sight,
        # its full passes (which otherwise walk all of it) stop showing up in the poll tails.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            drain.uninstall()
            if webhook_round is not None:
                webhook_round.stop()
            if retention is not None:
                retention.stop()
            key_sweeper.stop()
            sweeper.stop()
            reconciler.stop()
            await runtime.broadcast.stop()
            await runtime.close_loop_clients()
            runtime.close()

    app = MizualApp(
        title="Mizual",
        version=__version__,
        description="Edit images with natural-language prompts. Submit with `POST /edit-image/`, "
        "then follow the edit at its `polling_url` until `is_complete` (processing finished); "
        "`is_error` then says whether it failed.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        # Served by docs_ui instead, with their files from this server rather than a CDN.
        docs_url=None,
        redoc_url=None,
    )
    drain = Drain(seconds=settings.shutdown_drain_seconds)
    app.state.drain = drain
    app.state.settings = settings
    app.state.rules = ResolvedRules(settings)
    app.state.started_at = datetime.now(UTC)
    app.include_router(edits_router)
    app.include_router(feedback_router)
    app.include_router(ops_router)
    app.include_router(debug_router)
    app.include_router(metrics_router)
    web.install(app)  # the page at /
    docs_ui.install(app)  # /docs and /redoc
    install_error_handlers(app)
    max_body = settings.max_upload_bytes * 4 // 3 + _BODY_OVERHEAD_BYTES
    app.add_middleware(
        BodySizeLimit,
        max_bytes=max_body,
        advice=f"Images may be at most {describe_bytes(settings.max_upload_bytes)}.",
    )
    # Outside the body limit, so that refusals (413 as well as 429) carry the CORS headers a
    # browser needs to let the page read their message.
    cors_options = settings.cors_policy.middleware_options()
    app.add_middleware(CORSMiddleware, **cors_options)
    app.polls = StatusPolls(state=app.state, cors=CORSMiddleware(app, **cors_options))
    return app


class MizualApp(FastAPI):
    """FastAPI, with the status polls' lean path (`edits.polls`) asked before the middleware."""

    polls: StatusPolls | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.polls is not None and await self.polls.answered(scope, send):
            return
        await super().__call__(scope, receive, send)


def create_app_from_env() -> FastAPI:
    """The distributed API (`Role.API`), its settings read from the environment as `mizual api`
    reads them, with logging configured: for `uvicorn --factory mizual.app:create_app_from_env`,
    gunicorn's uvicorn worker, and each process of `mizual api --workers N`.

    A bad setting is one line on stderr and exit status 3, uvicorn's "could not start": its
    supervisor then stops instead of starting the process again and again."""
    from mizual.logs import configure_logging
    from mizual.settings.report import new_configuration_warnings

    try:
        settings = load_settings(distributed=True)
    except ConfigurationError as exc:
        print(f"mizual: {exc}", file=sys.stderr)  # logging is not set up yet
        raise SystemExit(3) from None
    configure_logging(settings)
    for warning in new_configuration_warnings():
        logger.warning("%s", warning)
    return create_app(settings, role=Role.API)
