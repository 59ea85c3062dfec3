"""Configuration: the reference's defaults, the profiles, and clear start-up errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mizual.settings import ConfigurationError, Environment, FluxModel, load_settings
from mizual.settings_report import check_variables, new_configuration_warnings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    for name in list(os.environ):
        if name.startswith(
            (
                "RATE_LIMIT",
                "MAX_",
                "DATABASE",
                "ENVIRONMENT",
                "LOG_LEVEL",
                "STORAGE",
                "UNSUPPORTED",
                "ADMIN",
                "PORT",
                "HOST",
                "LLM_",
                "GEMINI_",
                "GOOGLE_",
                "FLUX_",
                "BFL_",
                "EDIT_PROVIDER",
            )
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env file


def test_production_defaults_match_the_reference() -> None:
    settings = load_settings()
    assert settings.environment == Environment.PRODUCTION
    assert settings.rate_limit_daily_images == 3
    assert settings.rate_limit_burst_seconds == 10
    assert settings.rate_limit_status_checks_per_minute == 30
    assert settings.max_chain_length == 5
    assert settings.unsupported_image_types == ["heic", "avif", "gif"]
    assert settings.database_schema == "public"
    assert settings.storage_path_prefix == "production"
    assert settings.log_level == "INFO"
    assert settings.max_workers == 3
    assert settings.celery_worker_memory_limit == 600_000_000
    assert settings.resolved_llm_model == "gemini-1.5-flash"
    assert settings.bfl_model == "flux-kontext-pro"
    assert settings.safety_level == 2
    assert settings.bfl_timeout_seconds == 300
    assert settings.bfl_poll_interval_seconds == 0.5
    assert settings.ai_processing_retries == 0
    assert settings.resolved_edit_provider == "local"  # no BFL key
    assert settings.port == 10000
    assert settings.database_backend == "sqlite"


def test_provider_choice_follows_the_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BFL_API_KEY", "bfl-secret")
    assert load_settings().resolved_edit_provider == "flux"
    monkeypatch.setenv("EDIT_PROVIDER", "local")
    assert load_settings().resolved_edit_provider == "local"
    monkeypatch.delenv("BFL_API_KEY")
    monkeypatch.setenv("EDIT_PROVIDER", "flux")
    with pytest.raises(ConfigurationError, match="EDIT_PROVIDER=flux needs BFL_API_KEY"):
        load_settings()

    monkeypatch.delenv("EDIT_PROVIDER")
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-secret")
    assert load_settings().resolved_llm_api_key.get_secret_value() == "gemini-secret"  # type: ignore[union-attr]
    monkeypatch.setenv("LLM_PROVIDER", "openai")
    assert load_settings().resolved_llm_api_key is None  # a Gemini key is not an OpenAI key
    assert load_settings().resolved_llm_model == "gpt-4o-mini"
    monkeypatch.setenv("LLM_API_KEY", "openai-secret")
    assert load_settings().resolved_llm_api_key.get_secret_value() == "openai-secret"  # type: ignore[union-attr]


def test_preview_profile_and_explicit_values_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "Preview")
    monkeypatch.setenv("MAX_CHAIN_LENGTH", "7")
    settings = load_settings()
    assert settings.environment == Environment.PREVIEW
    assert settings.rate_limit_daily_images == 50
    assert settings.max_chain_length == 7
    assert settings.database_schema == "preview"
    assert settings.log_level == "DEBUG"


def test_lists_and_sizes_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNSUPPORTED_IMAGE_TYPES", " HEIC, gif, JPG, tif ")
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "5MiB")
    monkeypatch.setenv("RATE_LIMIT_BURST_SECONDS", "0")
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7 ,::1")
    settings = load_settings()
    assert [str(net) for net in settings.trusted_proxies] == [
        "10.0.0.0/8",
        "192.168.1.7/32",
        "::1/128",
    ]
    assert settings.unsupported_image_types == ["heic", "gif", "jpeg", "tiff"]
    assert settings.max_upload_bytes == 5 * 1024 * 1024
    assert settings.burst_protection_enabled is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "ten"),
        ("RATE_LIMIT_DAILY_IMAGES", "0"),
        ("ENVIRONMENT", "staging"),
        ("LOG_LEVEL", "LOUD"),
        ("MAX_UPLOAD_BYTES", "lots"),
        ("DATABASE_SCHEMA", "x; DROP TABLE edits"),
        ("EDIT_PROVIDER", "magic"),
        ("DATABASE_POOL_SIZE", "0"),
        ("DATABASE_PGBOUNCER", "sometimes"),
        ("TRUSTED_PROXIES", "10.0.0.0/8, the-load-balancer"),
        ("NOOP_EDIT_DELAY_SECONDS", "-1"),
    ],
)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert name in str(raised.value)


def test_secrets_are_never_echoed() -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings(admin_token=["not", "a", "string"])
    assert "ADMIN_TOKEN" in str(raised.value)
    assert "not" not in str(raised.value).split("ADMIN_TOKEN", 1)[1]
    settings = load_settings(admin_token="hunter2")
    assert "hunter2" not in repr(settings)


def test_serve_refuses_to_start_with_a_bad_value(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [sys.executable, "-m", "mizual", "serve"],
        env={"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "MAX_WORKERS": "many"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "MAX_WORKERS" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_uses_preview_unless_environment_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from mizual.cli import serve_settings

    assert serve_settings(host=None, port=None).environment == Environment.PREVIEW
    assert serve_settings(host="0.0.0.0", port=9999).port == 9999
    (tmp_path / ".env").write_text("ENVIRONMENT=production\n")
    assert serve_settings(host=None, port=None).environment == Environment.PRODUCTION
    (tmp_path / ".env").unlink()
    monkeypatch.setenv("ENVIRONMENT", "production")
    assert serve_settings(host=None, port=None).rate_limit_daily_images == 3


def test_celery_is_configured_from_settings() -> None:
    from mizual.kit.queue.celery import build_celery

    app = build_celery(
        load_settings(
            celery_worker_memory_limit="600MB", celery_concurrency=2, environment="preview"
        )
    )
    assert app.conf.worker_max_memory_per_child == 585937  # KiB
    assert app.conf.worker_concurrency == 2
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_transport_options["global_keyprefix"] == "preview:celery:"


# The reference's names ------------------------------------------------------------------------


def test_llm_timeout_is_another_name_of_llm_timeout_seconds(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("llm_timeout", "7")  # case-insensitive, as every name
    assert load_settings().llm_timeout_seconds == 7
    assert load_settings(llm_timeout_seconds=3).llm_timeout_seconds == 3  # the field's name
    monkeypatch.setenv("LLM_TIMEOUT_SECONDS", "9")
    assert load_settings().llm_timeout_seconds == 9  # in the same place, ours wins
    monkeypatch.delenv("LLM_TIMEOUT_SECONDS")
    (tmp_path / ".env").write_text("LLM_TIMEOUT_SECONDS=11\n")
    assert load_settings().llm_timeout_seconds == 7  # the environment wins over .env
    monkeypatch.delenv("llm_timeout")
    (tmp_path / ".env").write_text("LLM_TIMEOUT=12\nENVIRONMENT=preview\n")
    settings = load_settings()
    assert settings.llm_timeout_seconds == 12
    assert settings.rate_limit_daily_images == 50  # the profile still applies


def test_google_api_key_is_another_name_of_gemini_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from mizual.logs import secret_values

    monkeypatch.setenv("GOOGLE_API_KEY", "google-secret")
    settings = load_settings()
    assert settings.resolved_llm_api_key.get_secret_value() == "google-secret"  # type: ignore[union-attr]
    assert "google-secret" not in repr(settings)
    assert "google-secret" in secret_values(settings)  # redacted from logs
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-secret")
    assert load_settings().resolved_llm_api_key.get_secret_value() == "gemini-secret"  # type: ignore[union-attr]
    monkeypatch.setenv("LLM_API_KEY", "llm-secret")
    assert load_settings().resolved_llm_api_key.get_secret_value() == "llm-secret"  # type: ignore[union-attr]
    monkeypatch.setenv("LLM_PROVIDER", "openai")
    monkeypatch.delenv("LLM_API_KEY")
    assert load_settings().resolved_llm_api_key is None  # a Google key is not an OpenAI key


def test_flux_api_url_gives_the_base_url_and_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUX_API_URL", "https://api.eu.bfl.ai/v1/flux-kontext-max/")
    settings = load_settings()
    assert (settings.bfl_api_url, settings.bfl_model) == ("https://api.eu.bfl.ai", FluxModel.MAX)
    monkeypatch.setenv("BFL_MODEL", "flux-kontext-pro")
    settings = load_settings()
    assert (settings.bfl_api_url, settings.bfl_model) == ("https://api.eu.bfl.ai", FluxModel.PRO)
    monkeypatch.delenv("BFL_MODEL")
    monkeypatch.setenv("BFL_API_URL", "http://127.0.0.1:8123")
    settings = load_settings()
    assert (settings.bfl_api_url, settings.bfl_model) == ("http://127.0.0.1:8123", FluxModel.MAX)
    monkeypatch.delenv("BFL_API_URL")
    monkeypatch.setenv("FLUX_API_URL", "http://proxy.internal/bfl/v1/flux-kontext-pro")
    assert load_settings().bfl_api_url == "http://proxy.internal/bfl"
    monkeypatch.setenv("FLUX_API_URL", "")
    assert load_settings().bfl_api_url == "https://api.bfl.ai"  # empty is unset


@pytest.mark.parametrize(
    "url",
    [
        "https://api.bfl.ai/v1/flux-pro-1.1",
        "https://api.bfl.ai",
        "https://api.bfl.ai/flux-kontext-pro",
        "api.bfl.ai/v1/flux-kontext-pro",
    ],
)
def test_a_flux_api_url_of_another_shape_is_refused(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("FLUX_API_URL", url)
    monkeypatch.setenv("BFL_API_URL", "https://api.bfl.ai")
    monkeypatch.setenv("BFL_MODEL", "flux-kontext-pro")  # unused, yet still wrong
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert str(raised.value) == (
        "invalid configuration: FLUX_API_URL must be a BFL endpoint ending in "
        "/v1/flux-kontext-pro or /v1/flux-kontext-max, such as "
        f"https://api.bfl.ai/v1/flux-kontext-pro (got {url!r})"
    )


def test_llm_max_image_dimension(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().llm_max_image_dimension == 1024  # the reference's default
    monkeypatch.setenv("LLM_MAX_IMAGE_DIMENSION", "512")
    assert load_settings().llm_max_image_dimension == 512
    for value in ("32", "5000"):
        monkeypatch.setenv("LLM_MAX_IMAGE_DIMENSION", value)
        with pytest.raises(ConfigurationError, match="from 64 to 4096"):
            load_settings()


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
