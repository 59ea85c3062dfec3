"""Every rate limit, per endpoint, with the reference's values: declared once, as typed values.

A route names its rule (`rate_limit(RULES.status)` in `deps`); the allowance and the message are
filled in from the settings once per application (`ResolvedRules`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from mizual.kit.ratelimit import Rule
from mizual.settings import Settings


@dataclass(frozen=True)
class LimitRule:
    name: str
    allowance: Callable[[Settings], str]  # in `limits`' notation: "5/minute"
    message: Callable[[Settings], str]

    @classmethod
    def fixed(cls, name: str, allowance: str, message: str) -> LimitRule:
        return cls(name, lambda _settings: allowance, lambda _settings: message)


def _burst_window(settings: Settings) -> str:
    return f"1/{max(settings.rate_limit_burst_seconds, 1)} seconds"


class _Rules:
    edit_daily: Final = LimitRule(
        "edit_daily",
        lambda s: f"{s.rate_limit_daily_images}/day",
        lambda s: f"at most {s.rate_limit_daily_images} edits a day are allowed per client",
    )
    edit_burst: Final = LimitRule(
        "edit_burst",
        _burst_window,
        lambda s: f"only one edit every {s.rate_limit_burst_seconds} seconds is allowed",
    )
    edit_invalid: Final = LimitRule(
        "edit_invalid",
        lambda s: f"{s.rate_limit_invalid_edits_per_minute}/minute",
        lambda s: (
            f"at most {s.rate_limit_invalid_edits_per_minute} invalid edit requests a "
            "minute are allowed per client; check the request against the API documentation"
        ),
    )
    status: Final = LimitRule(
        "status",
        lambda s: f"{s.rate_limit_status_checks_per_minute}/minute",
        lambda s: f"at most {s.rate_limit_status_checks_per_minute} status checks a minute",
    )
    feedback: Final = LimitRule.fixed(
        "feedback", "5/minute", "at most 5 feedback messages a minute"
    )
    feedback_lookup: Final = LimitRule.fixed(
        "feedback_lookup", "10/minute", "at most 10 feedback look-ups a minute"
    )
    chain: Final = LimitRule.fixed("chain", "10/minute", "at most 10 chain look-ups a minute")
    celery_health: Final = LimitRule.fixed("celery_health", "10/minute", "at most 10 a minute")
    debug_db_schema: Final = LimitRule.fixed("debug_db_schema", "5/minute", "at most 5 a minute")
    debug_cache_stats: Final = LimitRule.fixed(
        "debug_cache_stats", "5/minute", "at most 5 a minute"
    )
    debug_db_performance: Final = LimitRule.fixed(
        "debug_db_performance", "3/minute", "at most 3 a minute"
    )

    def all(self) -> list[LimitRule]:
        return [rule for rule in vars(_Rules).values() if isinstance(rule, LimitRule)]


RULES = _Rules()


class ResolvedRules:
    """The rules with this application's settings filled in."""

    def __init__(self, settings: Settings) -> None:
        self._rules = {
            rule.name: Rule.of(rule.name, rule.allowance(settings), rule.message(settings))
            for rule in RULES.all()
        }

    def __getitem__(self, rule: LimitRule) -> Rule:
        return self._rules[rule.name]

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules.values())
