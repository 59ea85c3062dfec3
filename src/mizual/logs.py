"""Process-wide logging set-up, once, from the settings: LOG_LEVEL, and the secrets no log line
may contain."""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Iterable
from typing import Any

from pydantic import SecretStr

from mizual.settings import Settings

# Every line of every process (uvicorn's and Celery's too) in this one format.
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
REDACTED = "[redacted]"
# Shorter values would blank out ordinary words; no real key, token or password is this short.
_MIN_SECRET_CHARS = 6
# Third-party chatter stays at INFO or above, even when we debug (botocore's DEBUG lines also
# carry request headers, Authorization included).
_NOISY = (
    "PIL",
    "alembic.runtime.migration",
    "httpcore",
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
)


def configure_logging(settings: Settings) -> None:
    level = logging.getLevelName(settings.log_level)
    logging.basicConfig(level=level, format=LOG_FORMAT)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(max(logging.INFO, level))
    # httpx says at INFO every request it sent: each bucket call and each BFL poll (up to ten a
    # second per task), a line apiece. Its warnings still show.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, level))
    # libvips says at INFO what each thread pool did ("VIPS: threadpool completed with 2
    # workers"), a line per image: shown only when debugging.
    logging.getLogger("pyvips").setLevel(
        logging.INFO if level <= logging.DEBUG else logging.WARNING
    )
    redact_in_logs(secret_values(settings))


def secret_values(settings: Settings) -> list[str]:
    """Every secret setting's value, and the password of every connection URL."""
    values = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            values.append(value.get_secret_value())
    urls = [settings.resolved_database_url, settings.redis_url]
    urls += [settings.celery_broker_url, settings.celery_result_backend]
    for url in urls:
        try:
            password = urllib.parse.urlsplit(url or "").password
        except ValueError:
            continue
        if password:
            values += [password, urllib.parse.unquote(password)]
    return values


def redact_in_logs(secrets: Iterable[str]) -> None:
    """Every log record made from now on, by any logger (uvicorn's and libraries' included),
    has these values replaced by [redacted]: in its message, its arguments and its traceback.

    A last line of defence: a provider that echoes the key it was sent into an error we log, an
    exception whose text holds a connection string."""
    values = sorted({s for s in secrets if len(s) >= _MIN_SECRET_CHARS}, key=len, reverse=True)
    if not values:
        return
    pattern = re.compile("|".join(re.escape(value) for value in values))
    make_record = logging.getLogRecordFactory()

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        _redact(record, pattern)
        return record

    logging.setLogRecordFactory(redacting_factory)


def _redact(record: logging.LogRecord, pattern: re.Pattern[str]) -> None:
    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(REDACTED, value)
        if value is None or isinstance(value, int | float):
            return value
        return pattern.sub(REDACTED, str(value)) if pattern.search(str(value)) else value

    record.msg = clean(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(clean(arg) for arg in record.args)
    elif isinstance(record.args, dict):
        record.args = {key: clean(arg) for key, arg in record.args.items()}
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: left for logging to report
        message = ""
    if pattern.search(message):  # in an argument's repr, say: the message, whole, instead
        record.msg, record.args = pattern.sub(REDACTED, message), ()
    if record.exc_info and not record.exc_text:
        # Formatters reuse exc_text rather than format the exception again.
        record.exc_text = pattern.sub(
            REDACTED, logging.Formatter().formatException(record.exc_info)
        )
    if record.stack_info:
        record.stack_info = pattern.sub(REDACTED, record.stack_info)
