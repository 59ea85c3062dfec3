"""Configuration: the reference's defaults, the profiles, and clear start-up errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mizual.settings import ConfigurationError, Environment, FluxModel, load_settings

pytestmark = pytest.mark.usefixtures("clean_environment")


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


def test_a_redis_broker_is_the_default_redis_and_rabbitmq_asks_for_redis_url() -> None:
    redis_broker = load_settings(distributed=True, celery_broker_url="redis://cache:6379/2")
    assert redis_broker.redis_url == "redis://cache:6379/2"
    with pytest.raises(ConfigurationError) as refused:
        load_settings(distributed=True, celery_broker_url="amqp://mizual:s3cret@rabbit:5672//")
    message = str(refused.value)
    assert "REDIS_URL must be set when CELERY_BROKER_URL is not a Redis URL" in message
    assert "s3cret" not in message
    rabbit = load_settings(
        distributed=True,
        celery_broker_url="amqp://mizual:s3cret@rabbit:5672//",
        redis_url="redis://cache:6379/0",
    )
    assert rabbit.redis_url == "redis://cache:6379/0"
