"""What a person is told about the configuration: a bad value as one sentence, and a variable
that looks like one of Mizual's but is not."""

from __future__ import annotations

import pytest

from mizual.settings import ConfigurationError, load_settings
from mizual.settings.report import check_variables, new_configuration_warnings

pytestmark = pytest.mark.usefixtures("clean_environment")


# Error wording --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "sentence"),
    [
        ("PORT", "ten", "PORT must be a whole number from 1 to 65535"),
        (
            "RATE_LIMIT_DAILY_IMAGES",
            "0",
            "RATE_LIMIT_DAILY_IMAGES must be a whole number, at least 1",
        ),
        ("ENVIRONMENT", "staging", "ENVIRONMENT must be one of production, preview"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("BFL_MODEL", "flux-dev", "BFL_MODEL must be one of flux-kontext-pro, flux-kontext-max"),
        ("DATABASE_PGBOUNCER", "sometimes", "DATABASE_PGBOUNCER must be true or false"),
        (
            "LLM_TIMEOUT_SECONDS",
            "0",
            "LLM_TIMEOUT_SECONDS must be a number of seconds, more than 0 and at most 300",
        ),
        ("SAFETY_LEVEL", "7", "SAFETY_LEVEL must be a whole number from 0 to 6"),
        (
            "SWEEP_INTERVAL_SECONDS",
            "soon",
            "SWEEP_INTERVAL_SECONDS must be a number of seconds, more than 0",
        ),
        ("METRICS_PORT", "x", "METRICS_PORT must be a whole number from 1 to 65535"),
        (
            "CELERY_WORKER_MEMORY_LIMIT",
            "1.5GB",
            "CELERY_WORKER_MEMORY_LIMIT must be a size in bytes, such as 10485760 or 20MiB",
        ),
        ("PUBLIC_BASE_URL", "example.com", "PUBLIC_BASE_URL must be an http:// or https:// URL"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL must be a redis:// or rediss:// URL"),
        (
            "DATABASE_SCHEMA",
            "x; DROP TABLE edits",
            "DATABASE_SCHEMA must be a plain SQL identifier such as public or preview",
        ),
        (
            "TRUSTED_PROXIES",
            "10.0.0.0/8, the-lb",
            "TRUSTED_PROXIES must be comma-separated IP addresses or networks, such as "
            "10.0.0.0/8, 192.168.1.7; 'the-lb' is neither",
        ),
    ],
)
def test_a_bad_value_says_what_the_variable_must_be(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, sentence: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    message = str(raised.value)
    assert message == f"invalid configuration: {sentence} (got {value!r})"
    assert message.count(name) == 1
    for jargon in ("Input should", "Value error", "valid integer", "parse string"):
        assert jargon not in message


def test_several_bad_values_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "0")
    monkeypatch.setenv("MAX_WORKERS", "many")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert str(raised.value) == (
        "invalid configuration: PORT must be a whole number from 1 to 65535 (got '0'); "
        "MAX_WORKERS must be a whole number from 1 to 64 (got 'many')"
    )


def test_a_secret_is_named_but_never_shown() -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings(gemini_api_key=["not", "a", "string"])
    assert str(raised.value) == "invalid configuration: GEMINI_API_KEY must be text"


# Misspelt variables ---------------------------------------------------------------------------


def test_names_that_look_like_ours_are_warned_about() -> None:
    warnings = check_variables(
        [
            {
                "EDIT_PROVIDR": "local",
                "rate_limit_dayly_images": "5",
                "BFL_TIMEOUT": "60",
                "LOGLEVEL": "DEBUG",
                "BLF_API_KEY": "k",
                "MIZUAL_PORT": "8000",
                "OPENAI_API_KEY": "k",
                "S3_PUBLIC_URL": "https://f005.backblazeb2.com",
                "LLM_TIMOUT": "5",
            }
        ]
    )
    assert warnings == [
        "EDIT_PROVIDR is not a Mizual setting; did you mean EDIT_PROVIDER?",
        "rate_limit_dayly_images is not a Mizual setting; did you mean RATE_LIMIT_DAILY_IMAGES?",
        "BFL_TIMEOUT is not a Mizual setting; did you mean BFL_TIMEOUT_SECONDS?",
        "LOGLEVEL is not a Mizual setting; did you mean LOG_LEVEL?",
        "BLF_API_KEY is not a Mizual setting; did you mean BFL_API_KEY?",
        "MIZUAL_PORT is not a Mizual setting; did you mean PORT?",
        "OPENAI_API_KEY is not a Mizual setting; did you mean LLM_API_KEY?",
        "S3_PUBLIC_URL is not a Mizual setting; did you mean S3_PUBLIC_BASE_URL?",
        "LLM_TIMOUT is not a Mizual setting; did you mean LLM_TIMEOUT?",
    ]


def test_known_names_and_other_programs_variables_are_not_warned_about() -> None:
    import os

    ordinary = {
        **os.environ,
        "PATH": "/usr/bin",
        "HOME": "/root",
        "PYTHONPATH": "src",
        "CI": "true",
        "MIZUAL_SERVER": "http://127.0.0.1:10000",
        "MIZUAL_TEST_REDIS_URL": "redis://127.0.0.1:6379",
        "MIZUAL_BENCH_ROUNDS": "3",
        "PROMETHEUS_MULTIPROC_DIR": "/tmp/metrics",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_ENDPOINT_URL_S3": "http://minio:9000",
        "CELERY_CONFIG_MODULE": "x",
        "CELERY_RDB_PORT": "6900",
        "GIT_COMMIT_SHA": "abc",
        "DEPLOY_TIMESTAMP": "now",
        "HOSTNAME": "box",
        "REDIS_HOST": "redis",
        "REDIS_PORT": "tcp://10.0.0.7:6379",
        "REDIS_PORT_6379_TCP_ADDR": "10.0.0.7",
        "DATABASE_SERVICE_HOST": "10.0.0.8",
        "MIZUAL_SERVICE_PORT": "10000",
        "POSTGRES_PASSWORD": "x",
        "http_proxy": "http://proxy:3128",
        # Ours, and the reference's names for them, in any case.
        "edit_provider": "local",
        "LLM_TIMEOUT": "5",
        "GOOGLE_API_KEY": "k",
        "FLUX_API_URL": "https://api.bfl.ai/v1/flux-kontext-pro",
        "LLM_MAX_IMAGE_DIMENSION": "1024",
        "GIT_COMMIT": "abc",
    }
    assert check_variables([ordinary]) == []


def test_both_names_of_one_setting_with_different_values_are_warned_about() -> None:
    same = {"GEMINI_API_KEY": "k1", "GOOGLE_API_KEY": "k1"}
    assert check_variables([same]) == []
    environment = {"LLM_TIMEOUT": "5", "GOOGLE_API_KEY": "k2"}
    dotenv = {"LLM_TIMEOUT_SECONDS": "30", "GEMINI_API_KEY": "k1"}
    assert check_variables([environment, dotenv]) == [
        "GEMINI_API_KEY and GOOGLE_API_KEY are both set, to different values; "
        "GOOGLE_API_KEY is used",
        "LLM_TIMEOUT_SECONDS and LLM_TIMEOUT are both set, to different values; "
        "LLM_TIMEOUT is used",
    ]
    assert "k1" not in str(check_variables([environment, dotenv]))
    overridden = {
        "FLUX_API_URL": "https://api.bfl.ai/v1/flux-kontext-max",
        "BFL_MODEL": "flux-kontext-pro",
        "BFL_API_URL": "https://api.bfl.ai/",
    }
    assert check_variables([overridden]) == ["BFL_MODEL is used, not the model in FLUX_API_URL"]


def test_each_warning_is_given_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BFL_API_KEYS", "x")
    first = new_configuration_warnings()
    assert [w for w in first if "BFL_API_KEYS" in w] == [
        "BFL_API_KEYS is not a Mizual setting; did you mean BFL_API_KEY?"
    ]
    assert not [w for w in new_configuration_warnings() if "BFL_API_KEYS" in w]
