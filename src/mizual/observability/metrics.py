"""What is counted, and the one call per event that records it (an in-memory update, or a write
to this process's memory-mapped file in multiprocess mode: no system call, no network)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, disable_created_metrics
from prometheus_client.registry import Collector

# From a few milliseconds (initialization, completion) to minutes (a remote editor).
STAGE_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600,
)  # fmt: skip

# No `_created` series: they only add a gauge per series to the text format (and are absent in
# multiprocess mode anyway).
disable_created_metrics()  # type: ignore[no-untyped-call]

# Not registered anywhere: each scrape builds its registry (see `exposition`).
STAGE_SECONDS = Histogram(
    "mizual_edit_stage_duration_seconds",
    "How long a stage of an edit took, retries included (stages that succeeded).",
    ["stage"],
    buckets=STAGE_BUCKETS,
    registry=None,
)
EDITS_FINISHED = Counter(
    "mizual_edits_finished",
    "Edits that reached a final status: completed, failed or cancelled.",
    ["status"],
    registry=None,
)
PROVIDER_ERRORS = Counter(
    "mizual_provider_errors",
    "Failures of the editing provider, by provider and class (each attempt counts).",
    ["provider", "error_class"],
    registry=None,
)
RATE_LIMIT_REJECTIONS = Counter(
    "mizual_rate_limit_rejections",
    "Requests refused with 429, by rate-limit rule.",
    ["rule"],
    registry=None,
)
OUTAGE_RETRIES = Counter(
    "mizual_outage_retries",
    "Operations of a running edit tried again because a service was down, by service.",
    ["service"],
    registry=None,
)
WEBHOOK_ATTEMPTS = Counter(
    "mizual_webhook_attempts",
    "Webhook delivery attempts, by outcome: delivered (2xx), retry (5xx, 429, timeout, "
    "connection error; tried again later), failed (a 4xx, or the last attempt), refused (the "
    "address was not allowed).",
    ["outcome"],
    registry=None,
)
IDEMPOTENT_REPLAYS = Counter(
    "mizual_idempotent_replays",
    "Submissions answered from their Idempotency-Key's first answer, by route.",
    ["route"],
    registry=None,
)
EDIT_IMAGES_REMOVED = Counter(
    "mizual_edit_images_removed",
    "Edits whose images were removed from storage, by reason: expired (IMAGE_RETENTION_HOURS "
    "or `mizual purge`) or deleted (DELETE /edit/{uuid}).",
    ["reason"],
    registry=None,
)
RECORDED: tuple[Collector, ...] = (
    STAGE_SECONDS,
    EDITS_FINISHED,
    PROVIDER_ERRORS,
    RATE_LIMIT_REJECTIONS,
    OUTAGE_RETRIES,
    WEBHOOK_ATTEMPTS,
    IDEMPOTENT_REPLAYS,
    EDIT_IMAGES_REMOVED,
)


def observe_stage(stage: str, seconds: float) -> None:
    STAGE_SECONDS.labels(stage).observe(seconds)


def edit_finished(status: str) -> None:
    EDITS_FINISHED.labels(status).inc()


def edits_failed(count: int) -> None:
    if count:
        EDITS_FINISHED.labels("failed").inc(count)


def provider_error(provider: str, error_class: str) -> None:
    PROVIDER_ERRORS.labels(provider, error_class).inc()


def rate_limit_rejected(rule: str) -> None:
    RATE_LIMIT_REJECTIONS.labels(rule).inc()


def outage_retry(service: str) -> None:
    OUTAGE_RETRIES.labels(service).inc()


def webhook_attempt(outcome: str) -> None:
    WEBHOOK_ATTEMPTS.labels(outcome).inc()


def idempotent_replay(route: str) -> None:
    IDEMPOTENT_REPLAYS.labels(route).inc()


def edit_images_removed(reason: str, count: int = 1) -> None:
    if count:
        EDIT_IMAGES_REMOVED.labels(reason).inc(count)
