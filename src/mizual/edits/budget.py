"""What a submission costs a client, and when it is charged.

A valid submission spends one edit of the daily allowance (RATE_LIMIT_DAILY_IMAGES) and opens the
burst window (RATE_LIMIT_BURST_SECONDS), as in the reference. Mizual charges them only once the
body has been read and every check passed, so an invalid request (413, 415, 422, a parent that is
missing or unfinished) costs neither; the charge is atomic (parallel requests cannot both take the
last edit, in one process or many), and given back when the edit cannot be accepted for a reason
of ours (storage, database or queue down).

Invalid requests are bounded by a budget of their own: every refusal but a 429 counts against
RATE_LIMIT_INVALID_EDITS_PER_MINUTE. A client with nothing left under any of the three rules is
refused with 429 before its body is read, so a flood of either kind costs one check per request.
The invalid-request budget is a bound, not an exact count: requests checked at the same moment
are all let in, so a client may get as many extra refusals as it has requests in flight.

A request whose `Idempotency-Key` already has an answer (or a request running) is a replay: it
skips the early check, and `IdempotentRoute` answers it before the endpoint runs, so a replay
spends nothing and is answered even once the budgets are spent (`mizual.idempotency`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from mizual.deps import client_ip, get_runtime, rules_of
from mizual.errors import MizualError, RateLimited
from mizual.idempotency.route import IdempotentRoute, may_replay
from mizual.kit.dataurl import describe_bytes
from mizual.kit.jsonbody import JsonBodyRoute
from mizual.kit.multipartbody import FormLimits
from mizual.kit.ratelimit import RateLimiter, Rule
from mizual.ratelimits import RULES, ResolvedRules

# A form's text fields (a prompt of at most 20,000 characters, a few short ones) and framing.
FORM_OVERHEAD_BYTES = 256 * 1024


class SubmissionBudget:
    """One client's edit budgets, for one submission."""

    def __init__(
        self, *, limiter: RateLimiter, rules: ResolvedRules, client: str, burst: bool
    ) -> None:
        self.limiter = limiter
        self.client = client
        daily, burst_window = rules[RULES.edit_daily], rules[RULES.edit_burst]
        self._charged_rules = [burst_window, daily] if burst else [daily]
        self._invalid = rules[RULES.edit_invalid]

    @classmethod
    def of(cls, request: Request) -> SubmissionBudget:
        runtime = get_runtime(request)
        return cls(
            limiter=runtime.limiter,
            rules=rules_of(request),
            client=client_ip(request),
            burst=runtime.settings.burst_protection_enabled,
        )

    def ensure_some_left(self) -> None:
        """429 if any budget is already spent (nothing is counted)."""
        for rule in [*self._charged_rules, self._invalid]:
            self.limiter.check(rule, self.client)

    @contextmanager
    def charge(self) -> Iterator[None]:
        """Spend the edit's budgets (429 if one is gone); given back if the block fails."""
        charged: list[Rule] = []
        try:
            for rule in self._charged_rules:
                self.limiter.hit(rule, self.client)
                charged.append(rule)
            yield
        except BaseException:
            for rule in charged:
                self.limiter.refund(rule, self.client)
            raise

    def count_refusal(self) -> None:
        self.limiter.spend(self._invalid, self.client)


def is_refusal(exc: BaseException) -> bool:
    """The request was refused for what it holds (any 4xx but a 429)."""
    if isinstance(exc, RequestValidationError):
        return True
    if isinstance(exc, RateLimited):
        return False
    if isinstance(exc, MizualError | HTTPException):
        status = exc.status_code
        return 400 <= status < 500
    return False


class SubmissionRoute(JsonBodyRoute, IdempotentRoute):
    """A submission route: refused before its body is read when a budget is spent, and every
    refusal counted (see the module's text); its answer's `edit_token` is kept for replays only
    sealed with the Idempotency-Key."""

    secret_fields = ("edit_token",)
    # Submissions take the image as a file of a multipart/form-data form too (JsonBodyRoute).
    form_file_fields = ("image",)
    form_list_fields = ("webhook_events",)

    def multipart_limits(self, request: Request) -> FormLimits:
        max_upload = get_runtime(request).settings.max_upload_bytes
        return FormLimits(
            # The image and the few text fields, with room for boundaries and part headers.
            max_body_bytes=max_upload + FORM_OVERHEAD_BYTES,
            max_file_bytes=max_upload,
            describe_file_limit=describe_bytes(max_upload),
        )

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()  # reads the body, then IdempotentRoute's step
        route = self.path

        async def budgeted(request: Request) -> Response:
            budget = SubmissionBudget.of(request)
            try:
                if not await may_replay(request, route=route):
                    await run_in_threadpool(budget.ensure_some_left)
                return await handler(request)
            except Exception as exc:
                if is_refusal(exc):
                    await run_in_threadpool(budget.count_refusal)
                raise

        return budgeted
