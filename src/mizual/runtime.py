"""The per-process objects (engine, storage, cache, queue, providers), built once, closed once."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy import Engine

from mizual import metrics
from mizual.edits.events import EditEvents, build_edit_events
from mizual.edits.pipeline import Pipeline
from mizual.edits.repository import EditRepository
from mizual.edits.service import EditService
from mizual.feedback.repository import FeedbackRepository
from mizual.feedback.service import FeedbackService
from mizual.kit.cache import Cache, MemoryCache
from mizual.kit.db.engine import build_engine
from mizual.kit.db.timing import OperationTimings
from mizual.kit.queue.base import JobQueue
from mizual.kit.queue.celery import CeleryQueue, build_celery
from mizual.kit.queue.inprocess import InProcessQueue
from mizual.kit.ratelimit import RateLimiter
from mizual.kit.rediscache import RedisCache
from mizual.kit.storage.base import Storage
from mizual.kit.storage.local import LocalStorage
from mizual.kit.storage.s3 import S3Storage
from mizual.providers.editing.base import EditingProvider
from mizual.providers.editing.factory import build_editing_provider
from mizual.providers.prompting.base import PromptEnhancer
from mizual.providers.prompting.factory import build_prompt_enhancer
from mizual.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    storage: Storage
    cache: Cache
    limiter: RateLimiter
    timings: OperationTimings
    edits: EditService
    feedback: FeedbackService
    editor: EditingProvider
    enhancer: PromptEnhancer
    events: EditEvents
    queue: JobQueue | None = None

    async def close_loop_clients(self) -> None:
        """Close the connections opened on the event loop (cache and rate-limit reads); call on
        that loop, before `close`."""
        await self.cache.aclose()
        await self.limiter.aclose()

    def close(self) -> None:
        if self.queue is not None:
            self.queue.close()
        self.events.close()
        self.editor.close()
        self.enhancer.close()
        self.cache.close()
        self.storage.close()
        self.engine.dispose()
        metrics.process_exited()


def build_storage(settings: Settings) -> Storage:
    if not settings.uses_s3:
        return LocalStorage(root=settings.data_dir / "images", base_url=settings.base_url)
    return S3Storage(
        bucket=settings.s3_bucket_name,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region_name,
        access_key_id=_reveal(settings.s3_access_key_id),
        secret_access_key=_reveal(settings.s3_secret_access_key),
        public_base_url=settings.s3_public_base_url,
        presign_seconds=settings.s3_presign_seconds,
    )


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def build_runtime(
    settings: Settings, *, with_workers: bool, send_to_celery: bool = False
) -> Runtime:
    """`with_workers`: run edits in this process (embedded); `send_to_celery`: queue them for
    Celery workers (distributed API); neither: a worker process or a test."""
    metrics.configure(settings)  # before anything is recorded
    engine = build_engine(settings)
    timings = OperationTimings()
    storage = build_storage(settings)
    cache: Cache = RedisCache(settings.redis_url) if settings.redis_url else MemoryCache()
    edit_repository = EditRepository(engine, timings)
    edits = EditService(settings=settings, repository=edit_repository, storage=storage, cache=cache)
    editor = build_editing_provider(settings)
    runtime = Runtime(
        settings=settings,
        engine=engine,
        storage=storage,
        cache=cache,
        limiter=RateLimiter(
            settings.redis_url or "memory://",
            key_prefix=f"{settings.environment}:ratelimit",
            on_refusal=metrics.rate_limit_rejected,
        ),
        timings=timings,
        edits=edits,
        feedback=FeedbackService(
            repository=FeedbackRepository(engine, timings), edits=edits, cache=cache
        ),
        editor=editor,
        enhancer=build_prompt_enhancer(settings),
        events=build_edit_events(settings, edits),
    )
    if with_workers:
        runtime.queue = InProcessQueue(
            handler=build_pipeline(runtime).run, max_workers=settings.max_workers
        )
    elif send_to_celery:
        runtime.queue = CeleryQueue(build_celery(settings))
    edits.queue = runtime.queue
    return runtime


def build_pipeline(runtime: Runtime) -> Pipeline:
    return Pipeline(
        service=runtime.edits,
        editor=runtime.editor,
        enhancer=runtime.enhancer,
    )
