"""The seam between the pipeline and whatever performs an edit (offline editor, FLUX, ...)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyvips

# Why a provider failed, for the operator (`mizual_provider_errors_total{error_class}`).
ERROR_CLASSES = (
    "moderated",  # the provider's content filter declined the request or withheld the result
    "timeout",  # the edit took longer than allowed
    "rate_limited",  # the provider said too many requests (429), after its own retries
    "credits",  # the account is out of credits (402)
    "auth",  # the key was rejected (401, 403)
    "network",  # the provider could not be reached, or the connection broke
    "server_error",  # the provider failed (5xx, malformed answers)
    "refused",  # the provider did not accept this image or prompt (other 4xx)
    "invalid_prompt",  # the prompt asks for something this editor cannot do
    "other",  # anything else (a task error, a lost task, an expired or broken result)
)


class EditingError(Exception):
    """The provider could not make the edit. `user_message` is shown to the person;
    `error_class` (one of ERROR_CLASSES) is counted for the operator."""

    def __init__(
        self,
        user_message: str,
        *,
        retryable: bool,
        detail: str | None = None,
        error_class: str = "other",
    ) -> None:
        super().__init__(detail or user_message)
        self.user_message = user_message
        self.retryable = retryable
        self.error_class = error_class


class EditCancelled(Exception):
    """The edit was cancelled while the provider worked on it: it stopped (no more polls)."""


# A provider's own record of a task it was paid for (FLUX: its id and polling URL), stored on
# the edit so that a later attempt can pick the task up again.
ProviderTask = dict[str, Any]


def _forget(_task: ProviderTask) -> None:
    pass


def _never() -> bool:
    return False


@dataclass(frozen=True)
class EditRequest:
    image: bytes
    prompt: str
    enhanced_prompt: str | None
    # The task an earlier attempt of this edit started: a provider that charges per task
    # follows it rather than start (and charge for) another, as long as it can still be fetched.
    task: ProviderTask | None = None
    # Called with a new task as soon as the provider has accepted it, before it is waited on.
    # It may return before the task is written (the pipeline writes it while the provider
    # polls); a failure to write it is raised by a later `stop_if_cancelled`.
    record_task: Callable[[ProviderTask], None] = _forget
    # True once the edit has been cancelled: a provider that waits (polls) asks before each
    # request it sends and then raises EditCancelled instead.
    cancelled: Callable[[], bool] = _never

    def stop_if_cancelled(self) -> None:
        if self.cancelled():
            raise EditCancelled("the edit was cancelled")


@dataclass
class EditOutcome:
    image: pyvips.Image
    # The operations the prompt was read as, for editors that plan (the offline editor).
    plan: list[dict[str, Any]] | None = None
    notes: dict[str, Any] = field(default_factory=dict)


class EditingProvider(Protocol):
    name: str

    def edit(self, request: EditRequest) -> EditOutcome: ...

    def close(self) -> None: ...
