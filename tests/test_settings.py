"""Configuration: the reference's defaults, the profiles, and clear start-up errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mizual.settings import ConfigurationError, Environment, load_settings


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
