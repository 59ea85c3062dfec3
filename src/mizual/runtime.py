"""The composition root: every per-process object, built once in dependency order, closed once.

Nothing is assigned after construction. Edits flow one way: the service queues an edit, the queue
hands it to the pipeline, the pipeline records each change through the status store, which
publishes it on the broadcast for the event streams.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr
from sqlalchemy import Engine

from mizual.edits.events import EditEvents
from mizual.edits.removal import EditRemoval
from mizual.edits.repository import EditRepository
from mizual.edits.service import EditService
from mizual.edits.status import EditStatusStore
from mizual.feedback.repository import FeedbackRepository
from mizual.feedback.service import FeedbackService
from mizual.idempotency.repository import IdempotencyRepository
from mizual.idempotency.service import IdempotencyService
from mizual.kit import heap
from mizual.kit.broadcast import Broadcast
from mizual.kit.cache import Cache, MemoryCache
from mizual.kit.db.engine import build_engine
from mizual.kit.db.timing import OperationTimings
from mizual.kit.imagefetch import ImageFetcher
from mizual.kit.limitedread import LimitedRead
from mizual.kit.queue.base import JobQueue
from mizual.kit.queue.inprocess import InProcessQueue
from mizual.kit.ratelimit import RateLimiter
from mizual.kit.rediscache import RedisCache
from mizual.kit.safehttp import safe_client
from mizual.kit.storage.base import Storage
from mizual.kit.storage.local import LocalStorage
from mizual.kit.urlsigning import UrlSigner, load_or_create_key
from mizual.observability import metrics, multiprocess
from mizual.settings import Settings
from mizual.webhooks.outbox import DeliveryWork, WebhookOutbox
from mizual.webhooks.repository import WebhookRepository
from mizual.webhooks.sender import WebhookSender

if TYPE_CHECKING:
    from mizual.edits.pipeline import Pipeline

logger = logging.getLogger(__name__)


class Role(StrEnum):
    """What a process does with edits."""

    EMBEDDED = "embedded"  # `mizual serve`: the API, and the edits in a pool of its own threads
    API = "api"  # `mizual api`: the API; edits go to Celery workers
    WORKER = "worker"  # a Celery worker process (or a test): runs what it is handed, queues none


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    role: Role
    engine: Engine
    timings: OperationTimings
    storage: Storage
    cache: Cache
    limiter: RateLimiter
    # The status poll's allowance and cached view in one step (`edits.polls`).
    limited_read: LimitedRead
    broadcast: Broadcast
    edit_status: EditStatusStore
    # The editor, the prompt enhancer and the stages that use them; None in `mizual api`, which
    # hands every edit to a worker (and so never imports an editor: about 8 MB).
    pipeline: Pipeline | None
    queue: JobQueue | None
    edits: EditService
    removal: EditRemoval
    feedback: FeedbackService
    events: EditEvents
    idempotency: IdempotencyService
    # None when WEBHOOK_SECRET is unset: then no edit has a webhook to send.
    webhooks: WebhookSender | None = None
    # Fetches image_url submissions; None in a worker, which takes no submission.
    image_fetcher: ImageFetcher | None = None

    async def close_loop_clients(self) -> None:
        """Close the connections opened on the event loop (cache and rate-limit reads); call on
        that loop, before `close`."""
        await self.cache.aclose()
        await self.limiter.aclose()
        await self.limited_read.aclose()

    def close(self) -> None:
        if self.image_fetcher is not None:
            self.image_fetcher.close()
        if self.webhooks is not None:
            self.webhooks.close()
        if self.queue is not None:
            self.queue.close()
        if self.pipeline is not None:
            self.pipeline.close()
            self.pipeline.editor.close()
            self.pipeline.enhancer.close()
        self.broadcast.close()
        self.cache.close()
        self.storage.close()
        self.engine.dispose()
        multiprocess.process_exited()


def build_runtime(settings: Settings, *, role: Role) -> Runtime:
    multiprocess.configure(settings)  # before anything is recorded
    heap.return_large_blocks_to_the_system()  # before the first upload or image
    engine = build_engine(settings)
    timings = OperationTimings()
    storage = build_storage(settings)
    cache: Cache = RedisCache(settings.redis_url) if settings.redis_url else MemoryCache()
    key_prefix = f"{settings.environment}:"
    limiter = RateLimiter(
        settings.redis_url or "memory://",
        key_prefix=f"{key_prefix}ratelimit",
        on_refusal=metrics.rate_limit_rejected,
    )
    broadcast = Broadcast.from_url(settings.redis_url, prefix=f"{key_prefix}events:")
    repository = EditRepository(engine, timings)
    webhook_repository, webhook_work = WebhookRepository(engine, timings), DeliveryWork()
    outbox = WebhookOutbox(repository=webhook_repository, work=webhook_work)
    status = EditStatusStore(
        repository=repository,
        storage=storage,
        cache=cache,
        broadcast=broadcast,
        key_prefix=key_prefix,
        listener=outbox.on_publish if settings.webhook_secret is not None else None,
    )
    webhooks = build_webhook_sender(
        settings, repository=webhook_repository, work=webhook_work, status=status
    )
    pipeline = None
    if role is not Role.API:
        pipeline = build_pipeline(settings, status=status, storage=storage)
    queue = build_queue(settings, role=role, pipeline=pipeline)
    image_fetcher = None if role is Role.WORKER else build_image_fetcher(settings)
    edits = EditService(
        settings=settings, repository=repository, status=status, storage=storage, queue=queue,
        image_fetcher=image_fetcher,
    )  # fmt: skip
    removal = EditRemoval(settings=settings, repository=repository, status=status, storage=storage)
    feedback = FeedbackService(
        repository=FeedbackRepository(engine, timings),
        edit_status=status,
        cache=cache,
        key_prefix=key_prefix,
    )
    events = EditEvents(
        status=status, broadcast=broadcast, heartbeat_seconds=settings.events_heartbeat_seconds
    )
    idempotency = IdempotencyService(repository=IdempotencyRepository(engine, timings))
    return Runtime(
        settings=settings, role=role, engine=engine, timings=timings, storage=storage, cache=cache,
        limiter=limiter, limited_read=LimitedRead(limiter, cache), broadcast=broadcast,
        edit_status=status, pipeline=pipeline, queue=queue, edits=edits, removal=removal,
        feedback=feedback, events=events, idempotency=idempotency, webhooks=webhooks,
        image_fetcher=image_fetcher,
    )  # fmt: skip


def build_webhook_sender(
    settings: Settings,
    *,
    repository: WebhookRepository,
    work: DeliveryWork,
    status: EditStatusStore,
) -> WebhookSender | None:
    if settings.webhook_secret is None:
        return None
    client = safe_client(
        allow_http=settings.webhook_allow_http,
        allowed_hosts=settings.webhook_allowed_hosts,
        timeout=settings.webhook_timeout_seconds,
    )
    return WebhookSender(
        repository=repository,
        work=work,
        status=status,
        client=client,
        secret=settings.webhook_secret.get_secret_value(),
        timeout_seconds=settings.webhook_timeout_seconds,
    )


def build_image_fetcher(settings: Settings) -> ImageFetcher:
    return ImageFetcher(
        allow_http=settings.image_url_allow_http,
        allowed_hosts=settings.image_url_allowed_hosts,
        timeout_seconds=settings.image_url_timeout_seconds,
        max_bytes=settings.max_upload_bytes,
    )


def build_pipeline(settings: Settings, *, status: EditStatusStore, storage: Storage) -> Pipeline:
    from mizual.edits.pipeline import Pipeline
    from mizual.providers.editing.factory import build_editing_provider
    from mizual.providers.prompting.factory import build_prompt_enhancer

    editor, enhancer = build_editing_provider(settings), build_prompt_enhancer(settings)
    return Pipeline(
        settings=settings, status=status, storage=storage, editor=editor, enhancer=enhancer
    )


def build_queue(settings: Settings, *, role: Role, pipeline: Pipeline | None) -> JobQueue | None:
    if role is Role.EMBEDDED:
        assert pipeline is not None
        return InProcessQueue(handler=pipeline.run, max_workers=settings.max_workers)
    if role is Role.API:
        # Imported here: an embedded process never sends jobs to a broker.
        from mizual.kit.queue.celery_queue import CeleryQueue

        return CeleryQueue(settings)
    return None


def build_storage(settings: Settings) -> Storage:
    if not settings.uses_s3:
        root = settings.data_dir / "images"
        return LocalStorage(
            root=root, base_url=settings.base_url, signer=_url_signer(settings, root=root)
        )
    access_key_id = _reveal(settings.s3_access_key_id)
    secret_access_key = _reveal(settings.s3_secret_access_key)
    if access_key_id and secret_access_key:
        from mizual.kit.storage.s3http import S3HttpStorage

        return S3HttpStorage(
            bucket=settings.s3_bucket_name,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region_name,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            public_base_url=settings.s3_public_base_url,
            presign_seconds=settings.s3_presign_seconds,
        )
    # Without a key: boto3 finds one (instance role, profile, AWS_* variables). Imported here:
    # boto3 and botocore hold about 25 MB that no other process loads.
    from mizual.kit.storage.s3 import S3Storage

    return S3Storage(
        bucket=settings.s3_bucket_name,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region_name,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        public_base_url=settings.s3_public_base_url,
        presign_seconds=settings.s3_presign_seconds,
    )


def _url_signer(settings: Settings, *, root: Path) -> UrlSigner | None:
    if not settings.local_url_signing:
        return None
    # Unset: the key kept in the image folder, which every process serving that folder reads.
    key = _reveal(settings.local_url_signing_secret) or load_or_create_key(root)
    return UrlSigner(key=key, ttl_seconds=settings.local_url_ttl_seconds)


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None
