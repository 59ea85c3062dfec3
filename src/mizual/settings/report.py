"""What a person is told about their configuration: a bad value as one sentence naming its
variable and what it must hold, and a variable that looks like one of Mizual's but is not, with
the known name nearest to it. The CLI prints these; `mizual.settings.model` holds the variables."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

import annotated_types
from dotenv import dotenv_values
from pydantic import ValidationError

from mizual.settings.model import Settings
from mizual.settings.parsing import parse_byte_size, split_flux_api_url
from mizual.settings.variables import ALIASES, SECRET_FIELDS, VARIABLES, field_names


def describe_errors(exc: ValidationError, *, sources: list[Mapping[str, Any]]) -> list[str]:
    """One sentence per variable a person can act on: which variable, what it must be, and
    the value it has (unless secret). `sources`: where values came from, the one that wins
    first, so an alias is named as it was written."""
    problems: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        if field not in Settings.model_fields:
            # A check across variables: its own sentence. Its input is every setting, secrets
            # included, so it is never shown.
            message = _validator_message(error)
            problems.setdefault(message, message)
            continue
        variable = _variable_name(field, sources=sources)
        sentence = _sentence(field, variable, error)
        if field not in SECRET_FIELDS:
            sentence += f" (got {error.get('input')!r})"
        problems.setdefault(field, sentence)
    return list(problems.values())


def _variable_name(field: str, *, sources: list[Mapping[str, Any]]) -> str:
    names = field_names(field)
    for source in sources:
        given = {str(key).upper() for key in source}
        for name in names:
            if name in given:
                return name
    return names[0]


def _validator_message(error: Any) -> str:
    cause = error.get("ctx", {}).get("error")
    return str(cause) if cause is not None else str(error["msg"])


def _sentence(field: str, variable: str, error: Any) -> str:
    if error["type"] == "value_error":
        message = _validator_message(error)
        if message.startswith("expected "):
            return f"{variable} must be {message.removeprefix('expected ')}"
        return f"{variable}: {message}"
    if error["type"] == "missing":
        return f"{variable} must be set"
    return f"{variable} must be {_expectation(field)}"


def _expectation(field: str) -> str:
    """What a field's variable must hold, in words: from its type and its bounds."""
    info = Settings.model_fields[field]
    if any(getattr(item, "func", None) is parse_byte_size for item in info.metadata):
        return "a size in bytes, such as 10485760 or 20MiB"
    kinds = [kind for kind in _union_members(info.annotation) if kind is not NoneType]
    kind = kinds[0] if len(kinds) == 1 else None
    if isinstance(kind, type) and issubclass(kind, Enum):
        return "one of " + ", ".join(str(member.value) for member in kind)
    if kind is bool:
        return "true or false"
    if kind in {int, float}:
        noun = "a whole number" if kind is int else "a number"
        if field.endswith("_seconds"):
            noun += " of seconds"
        return noun + _bounds(info.metadata)
    if get_origin(kind) is list:
        return "a comma-separated list"
    if kind is Path:
        return "a path"
    return "text"


def _union_members(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) in {Union, UnionType}:
        return get_args(annotation)
    return (annotation,)


def _bounds(metadata: list[Any]) -> str:
    def number(value: Any) -> str:
        return str(int(value)) if float(value).is_integer() else str(value)

    low = high = ""
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            low = f"at least {number(item.ge)}"
        elif isinstance(item, annotated_types.Gt):
            low = f"more than {number(item.gt)}"
        elif isinstance(item, annotated_types.Le):
            high = f"at most {number(item.le)}"
        elif isinstance(item, annotated_types.Lt):
            high = f"less than {number(item.lt)}"
    if low.startswith("at least") and high.startswith("at most"):
        return f" from {low.removeprefix('at least ')} to {high.removeprefix('at most ')}"
    if not (low or high):
        return ""
    return ", " + " and ".join(part for part in (low, high) if part)


# Unknown variables ------------------------------------------------------------------------

# Read by what Mizual runs on or with, not by Mizual: never "unknown". MIZUAL_SERVER is the
# address the client commands (edit, status, chain) use; MIZUAL_TEST_* are the tests'.
_FOREIGN = frozenset(
    {
        "MIZUAL_SERVER",
        # Celery's own (celery.app, celery.utils.log, celery.contrib.rdb, celery.bin).
        "CELERY_BROKER_READ_URL",
        "CELERY_BROKER_WRITE_URL",
        "CELERY_CONFIG_MODULE",
        "CELERY_CUSTOM_WORKER_POOL",
        "CELERY_LOADER",
        "CELERY_LOG_FILE",
        "CELERY_LOG_LEVEL",
        "CELERY_LOG_REDIRECT",
        "CELERY_LOG_REDIRECT_LEVEL",
        "CELERY_RDB_HOST",
        "CELERY_RDB_PORT",
        "CELERY_SKIP_CHECKS",
        "CELERY_TRACE_APP",
    }
)
_FOREIGN_PREFIXES = (
    "MIZUAL_TEST_",
    "CELERY_BENCH",
    "AWS_",  # boto3's: AWS_ACCESS_KEY_ID is not a slip for S3_ACCESS_KEY_ID
    "PYTHON",
    "PIP_",
    "GITHUB_",
    "KUBERNETES_",
    "PROMETHEUS_",
)
# A name with one of these beginnings is meant for Mizual: the groups of docs/configuration.md.
# Generic beginnings (DATA_, LOG_, PUBLIC_, GIT_, REDIS_) are left out: other programs use them.
_OUR_PREFIXES = (
    "RATE_LIMIT",
    "BFL_",
    "FLUX_",
    "LLM_",
    "GEMINI_",
    "OPENAI_",
    "S3_",
    "STORAGE_",
    "CELERY_",
    "DATABASE_",
    "METRICS_",
    "MAX_",
    "EDIT_PROVIDER",
    "NOOP_EDIT",
    "SAFETY_LEVEL",
    "AI_PROCESSING",
    "ENABLE_PROMPT",
    "LOCAL_EDITOR",
    "UNSUPPORTED_IMAGE",
    "STUCK_EDIT",
    "SWEEP_INTERVAL",
    "EDIT_LEASE",
    "RECONCILE_",
    "REDISPATCH_",
    "EVENTS_HEARTBEAT",
    "TRUSTED_PROX",
    "ALLOWED_ORIGIN",
    "ADMIN_TOKEN",
    "API_WORKERS",
    "SHUTDOWN_DRAIN",
    "STARTUP_WAIT",
)
# Names the reference reads that Mizual spells otherwise, with no close spelling here.
_HINTS = {"OPENAI_API_KEY": "LLM_API_KEY"}
# So near a known name that it can only be a slip (LOGLEVEL, REDIS_URI, BLF_API_KEY), while
# PROMETHEUS_MULTIPROC_DIR, GIT_COMMIT_SHA or HOSTNAME stay below.
_SLIP = 0.85
# Set by Kubernetes for each service (REDIS_SERVICE_HOST, REDIS_PORT=tcp://...) and by Docker
# links: not typed by a person.
_PLATFORM_NAME = re.compile(r".+_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT_\d+_(TCP|UDP|SCTP)\w*)")
_PLATFORM_PORT = re.compile(r"(tcp|udp|sctp)://", re.IGNORECASE)


def _closest(name: str, *, cutoff: float) -> str | None:
    """The known variable nearest to `name`, preferring those of the same group (BFL_TIMEOUT
    is BFL_TIMEOUT_SECONDS, not LLM_TIMEOUT)."""
    group = name.split("_", 1)[0]
    same_group = sorted(v for v in VARIABLES if v.split("_", 1)[0] == group)
    for candidates in (same_group, sorted(VARIABLES)):
        match = difflib.get_close_matches(name, candidates, n=1, cutoff=cutoff)
        if match:
            return match[0]
    return None


def _unknown_variable(name: str, value: str | None) -> str | None:
    upper = name.upper()
    if upper in VARIABLES or upper in _FOREIGN or upper.startswith(_FOREIGN_PREFIXES):
        return None
    if _PLATFORM_NAME.fullmatch(upper) or (
        upper.endswith("_PORT") and _PLATFORM_PORT.match(value or "")
    ):
        return None
    if upper.startswith("MIZUAL_"):
        # A guess that Mizual's names carry its name (MIZUAL_PORT); other MIZUAL_* are scripts'.
        suggestion = _closest(upper.removeprefix("MIZUAL_"), cutoff=_SLIP)
    elif upper in _HINTS:
        suggestion = _HINTS[upper]
    elif upper.startswith(_OUR_PREFIXES):
        suggestion = _closest(upper, cutoff=0.6)
        if suggestion is None:
            return f"{name} is not a Mizual setting; it is ignored"
    else:
        suggestion = _closest(upper, cutoff=_SLIP)
    if suggestion is None:
        return None
    return f"{name} is not a Mizual setting; did you mean {suggestion}?"


def _both_given(sources: list[Mapping[str, str | None]]) -> list[str]:
    """An alias set beside the name it stands for, to another value: which one is used."""
    warnings = []
    for field in {*ALIASES.values()}:
        values: dict[str, str | None] = {}
        used = None
        for source in sources:
            upper = {key.upper(): value for key, value in source.items()}
            for name in field_names(field):
                if name in upper:
                    values.setdefault(name, upper[name])
                    used = used or name
        if used and len(values) > 1 and len(set(values.values())) > 1:
            names = " and ".join(name for name in field_names(field) if name in values)
            warnings.append(f"{names} are both set, to different values; {used} is used")
    return sorted(warnings)


def _flux_api_url_overridden(sources: list[Mapping[str, str | None]]) -> list[str]:
    merged: dict[str, str | None] = {}
    for source in reversed(sources):
        merged.update({key.upper(): value for key, value in source.items()})
    parts = split_flux_api_url(merged.get("FLUX_API_URL") or "")
    if parts is None:
        return []
    warnings = []
    base_url, model = merged.get("BFL_API_URL"), merged.get("BFL_MODEL")
    if base_url is not None and base_url.strip().rstrip("/") != parts[0]:
        warnings.append("BFL_API_URL is used, not the address in FLUX_API_URL")
    if model is not None and model.strip().lower() != parts[1].value:
        warnings.append("BFL_MODEL is used, not the model in FLUX_API_URL")
    return warnings


# Read by Celery itself from the environment, ahead of its configuration; Mizual overrides it
# (mizual.kit.queue.celery), so a person who sets it is told it does nothing.
_RESULT_BACKEND_IGNORED = (
    "CELERY_RESULT_BACKEND is ignored: Mizual uses no Celery result backend, because an edit's "
    "row in the database is its result (GET /edit/{uuid}); unset it"
)


def _ignored(sources: list[Mapping[str, str | None]]) -> list[str]:
    given = any(
        key.upper() == "CELERY_RESULT_BACKEND" and value
        for source in sources
        for key, value in source.items()
    )
    return [_RESULT_BACKEND_IGNORED] if given else []


def check_variables(sources: list[Mapping[str, str | None]]) -> list[str]:
    """Warnings about the variables of `sources` (the environment, then .env: the one that wins
    first): names that look like Mizual's but are not, with the known name they are nearest
    to, variables that contradict each other, and one that is read but ignored. Values are never
    quoted."""
    warnings: list[str] = []
    seen: set[str] = set()
    for source in sources:
        for name, value in source.items():
            if name.upper() in seen:
                continue
            seen.add(name.upper())
            warning = _unknown_variable(name, value)
            if warning is not None:
                warnings.append(warning)
    return warnings + _both_given(sources) + _flux_api_url_overridden(sources) + _ignored(sources)


def variable_sources() -> list[Mapping[str, str | None]]:
    """The process environment, then the `.env` file, as Settings reads them."""
    env_file = Settings.model_config.get("env_file")
    dotenv: Mapping[str, str | None] = {}
    if isinstance(env_file, str | Path) and Path(env_file).is_file():
        dotenv = dotenv_values(env_file, encoding=Settings.model_config.get("env_file_encoding"))
    return [dict(os.environ), dotenv]


_reported: set[str] = set()


def new_configuration_warnings() -> list[str]:
    """`check_variables` of the environment and `.env`, less what this process has reported
    already: the commands read their settings more than once, a person needs each line once."""
    warnings = [w for w in check_variables(variable_sources()) if w not in _reported]
    _reported.update(warnings)
    return warnings
