"""`Settings`: every environment variable Mizual reads, typed, with its default and its checks,
and the profiles (`ENVIRONMENT`) whose values fill in what the environment leaves unset."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mizual.kit.cors import CorsPolicy
from mizual.settings.enums import EditProvider, Environment, FluxModel, LlmProvider, StorageBackend
from mizual.settings.parsing import (
    ByteSize,
    HostList,
    ImageTypeList,
    NetworkList,
    OriginList,
    is_webhook_secret,
    parse_flux_api_url,
    split_flux_api_url,
)

DEFAULT_LLM_MODELS = {LlmProvider.GEMINI: "gemini-1.5-flash", LlmProvider.OPENAI: "gpt-4o-mini"}

# Values a profile gives to variables that the environment leaves unset.
PROFILES: dict[Environment, dict[str, Any]] = {
    Environment.PRODUCTION: {
        "database_schema": "public",
        "storage_path_prefix": "production",
        "rate_limit_daily_images": 3,
        "max_chain_length": 5,
        "log_level": "INFO",
        "allowed_origins": [
            "https://mizual.ai",
            "https://www.mizual.ai",
            "https://mizual-frontend-git-main-*.vercel.app",
        ],
    },
    Environment.PREVIEW: {
        "database_schema": "preview",
        "storage_path_prefix": "preview",
        "rate_limit_daily_images": 50,
        "max_chain_length": 50,
        "log_level": "DEBUG",
        "allowed_origins": ["*"],
    },
}


def _given(data: dict[str, Any], field: str) -> Any:
    """The value given for `field`, whatever the case of its name; None when not given."""
    return next((v for k, v in data.items() if k.lower() == field), None)


def _profile_values(data: dict[str, Any]) -> dict[str, Any]:
    raw_env = _given(data, "environment")
    try:
        environment = Environment(str(raw_env or Environment.PRODUCTION).lower())
    except ValueError:
        return {}  # the field validator reports the bad value
    return PROFILES[environment]


def _flux_api_url_values(data: dict[str, Any]) -> dict[str, Any]:
    url = _given(data, "flux_api_url")
    parts = split_flux_api_url(url) if isinstance(url, str) else None
    if parts is None:
        return {}  # unset, or `flux_endpoint` reports it
    return {"bfl_api_url": parts[0], "bfl_model": parts[1].value}


def _with_unset(data: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """`data`, with the `defaults` of the fields it does not give (names in any case)."""
    given = {key.lower() for key in data}
    return {**{k: v for k, v in defaults.items() if k not in given}, **data}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # Core
    environment: Environment = Environment.PRODUCTION
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = Field(default=10000, ge=1, le=65535)
    data_dir: Path = Path("./data")
    public_base_url: str = ""
    admin_token: SecretStr | None = None
    git_commit: str = "unknown"
    deploy_time: str | None = None
    trusted_proxies: NetworkList = Field(default_factory=list)
    allowed_origins: OriginList = Field(default_factory=list)

    # Start-up and shutdown (docs/operations.md, "Stopping, draining and start-up order")
    api_workers: int = Field(default=1, ge=1, le=64)
    shutdown_drain_seconds: float = Field(default=3, ge=0, le=600)
    startup_wait_seconds: float = Field(default=60, ge=0, le=3600)

    # Database
    database_url: SecretStr | None = None
    database_schema: str = "public"
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_pgbouncer: bool = False

    # Queue and workers
    celery_broker_url: str = "redis://localhost:6379/0"
    # Known so that it is not "unknown", and its password is redacted; never used (report.py).
    celery_result_backend: str | None = None
    redis_url: str | None = None
    max_workers: int = Field(default=3, ge=1, le=64)
    celery_concurrency: int = Field(default=3, ge=1, le=64)
    celery_worker_memory_limit: ByteSize = 600 * 1000**2
    celery_visibility_timeout: int = Field(default=3600, ge=10)
    stuck_edit_timeout_seconds: int = Field(default=1200, ge=10)
    sweep_interval_seconds: float = Field(default=60, gt=0)
    edit_lease_seconds: float = Field(default=30, ge=3, le=3600)
    reconcile_interval_seconds: float = Field(default=5, gt=0, le=600)
    redispatch_after_seconds: float = Field(default=30, ge=1, le=3600)
    events_heartbeat_seconds: float = Field(default=15, gt=0, le=300)

    # Metrics (GET /metrics; see mizual.observability)
    metrics_multiproc_dir: Path | None = None
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    # Storage
    s3_bucket_name: str = "mizual-images"
    s3_endpoint_url: str | None = None
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_region_name: str | None = None
    storage_path_prefix: str = "production"
    storage_backend: StorageBackend = StorageBackend.AUTO
    s3_public_base_url: str | None = None
    s3_presign_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)

    # AI services
    edit_provider: EditProvider = EditProvider.AUTO
    noop_edit_delay_seconds: float = Field(default=0.0, ge=0, le=3600)
    bfl_api_key: SecretStr | None = None
    bfl_api_url: str = "https://api.bfl.ai"
    bfl_model: FluxModel = FluxModel.PRO
    # The reference's single variable for both: read for whichever of the two is not given.
    flux_api_url: str | None = None
    safety_level: int = Field(default=2, ge=0, le=6)
    bfl_poll_interval_seconds: float = Field(default=0.5, gt=0, le=60)
    bfl_poll_min_interval_seconds: float = Field(default=0.1, gt=0, le=60)
    bfl_timeout_seconds: float = Field(default=300, gt=0, le=3600)
    bfl_request_retries: int = Field(default=3, ge=0, le=10)
    bfl_max_concurrent_tasks: int = Field(default=24, ge=1, le=1000)
    ai_processing_retries: int = Field(default=0, ge=0, le=5)
    enable_prompt_enhancement: bool = True
    llm_provider: LlmProvider = LlmProvider.GEMINI
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    # GOOGLE_API_KEY is the reference's other name for it.
    gemini_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("gemini_api_key", "google_api_key")
    )
    gemini_api_url: str = "https://generativelanguage.googleapis.com"
    openai_api_url: str = "https://api.openai.com"
    # LLM_TIMEOUT is the reference's name; the first choice wins when both are set.
    llm_timeout_seconds: float = Field(
        default=20,
        gt=0,
        le=300,
        validation_alias=AliasChoices("llm_timeout_seconds", "llm_timeout"),
    )
    llm_max_image_dimension: int = Field(default=1024, ge=64, le=4096)
    local_editor_llm_plans: bool = True

    # Webhooks (docs/api.md, "Webhooks")
    webhook_secret: SecretStr | None = None
    webhook_allow_http: bool = False
    webhook_allowed_hosts: HostList = Field(default_factory=list)
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=60)

    # Images given by URL (docs/api.md, "Submitting an image")
    image_url_allow_http: bool = False
    image_url_allowed_hosts: HostList = Field(default_factory=list)
    image_url_timeout_seconds: float = Field(default=20, gt=0, le=300)

    # Local image links (docs/security.md, "Image links")
    local_url_signing: bool = False
    local_url_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    # Unset: a key made once and kept in the image folder (every process sharing it agrees).
    local_url_signing_secret: SecretStr | None = None

    # Retention (docs/operations.md, "Deleting images")
    image_retention_hours: float = Field(default=0, ge=0)

    # Rate limits
    rate_limit_daily_images: int = Field(default=3, ge=1)
    rate_limit_burst_seconds: int = Field(default=10, ge=0)
    rate_limit_status_checks_per_minute: int = Field(default=30, ge=1)
    rate_limit_invalid_edits_per_minute: int = Field(default=20, ge=1)

    # Images and chains
    unsupported_image_types: ImageTypeList = Field(default_factory=lambda: ["heic", "avif", "gif"])
    max_chain_length: int = Field(default=5, ge=1)
    max_upload_bytes: ByteSize = 20 * 1024**2
    max_image_pixels: int = Field(default=100_000_000, ge=1)

    @model_validator(mode="before")
    @classmethod
    def fill_unset_fields(cls, data: Any) -> Any:
        """The fields the environment leaves unset take the profile's values, and BFL_API_URL
        and BFL_MODEL those FLUX_API_URL implies."""
        if not isinstance(data, dict):
            return data
        return _with_unset(data, {**_profile_values(data), **_flux_api_url_values(data)})

    @field_validator(
        "environment",
        "edit_provider",
        "storage_backend",
        "bfl_model",
        "llm_provider",
        mode="before",
    )
    @classmethod
    def lower_case(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def known_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("database_schema")
    @classmethod
    def plain_identifier(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", value):
            raise ValueError("expected a plain SQL identifier such as public or preview")
        return value

    @field_validator("storage_path_prefix")
    @classmethod
    def safe_prefix(cls, value: str) -> str:
        value = value.strip("/")
        if not re.fullmatch(r"[A-Za-z0-9_.\-/]*", value) or ".." in value:
            raise ValueError("expected letters, digits, '-', '_', '.' and '/' only")
        return value

    @field_validator("flux_api_url")
    @classmethod
    def flux_endpoint(cls, value: str | None) -> str | None:
        return parse_flux_api_url(value)

    @field_validator("metrics_multiproc_dir", "metrics_port", mode="before")
    @classmethod
    def empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("redis_url")
    @classmethod
    def redis_scheme(cls, value: str | None) -> str | None:
        if value and not re.match(r"rediss?://", value):
            raise ValueError("expected a redis:// or rediss:// URL")
        return value or None

    @field_validator("public_base_url", "bfl_api_url", "gemini_api_url", "openai_api_url")
    @classmethod
    def http_url(cls, value: str) -> str:
        if value and not re.match(r"https?://", value):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("webhook_secret")
    @classmethod
    def standard_webhooks_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not is_webhook_secret(value.get_secret_value()):
            raise ValueError(
                "expected whsec_ followed by the base64 of 24 to 64 random bytes, such as "
                "the output of: echo whsec_$(openssl rand -base64 32)"
            )
        return value

    @model_validator(mode="after")
    def flux_needs_a_key(self) -> Settings:
        if self.edit_provider == EditProvider.FLUX and self.bfl_api_key is None:
            raise ValueError("EDIT_PROVIDER=flux needs BFL_API_KEY")
        return self

    @model_validator(mode="after")
    def metrics_port_needs_a_token(self) -> Settings:
        if self.metrics_port is not None and not (
            self.admin_token and self.admin_token.get_secret_value()
        ):
            raise ValueError("METRICS_PORT needs ADMIN_TOKEN: metrics are served to it only")
        return self

    @property
    def resolved_edit_provider(self) -> EditProvider:
        """`auto`: FLUX when a BFL key is configured, the offline editor otherwise."""
        if self.edit_provider != EditProvider.AUTO:
            return self.edit_provider
        return EditProvider.FLUX if self.bfl_api_key is not None else EditProvider.LOCAL

    @property
    def resolved_llm_model(self) -> str:
        return self.llm_model or DEFAULT_LLM_MODELS[self.llm_provider]

    @property
    def resolved_llm_api_key(self) -> SecretStr | None:
        """LLM_API_KEY, or GEMINI_API_KEY for Gemini (the reference's name for it)."""
        if self.llm_api_key is not None:
            return self.llm_api_key
        return self.gemini_api_key if self.llm_provider == LlmProvider.GEMINI else None

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'mizual.db').resolve()}"

    @property
    def database_backend(self) -> str:
        return self.resolved_database_url.split(":", 1)[0].split("+", 1)[0]

    @cached_property
    def base_url(self) -> str:
        """Where clients reach this API; image URLs are built from it."""
        if self.public_base_url:
            return self.public_base_url
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::", ""} else self.host  # noqa: S104
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def uses_s3(self) -> bool:
        """S3 when asked for, or (auto) when an endpoint or access key is configured."""
        if self.storage_backend == StorageBackend.AUTO:
            return self.s3_endpoint_url is not None or self.s3_access_key_id is not None
        return self.storage_backend == StorageBackend.S3

    @property
    def cors_policy(self) -> CorsPolicy:
        """Credentials (cookies, Authorization) in production only, as the reference has it."""
        return CorsPolicy(
            origins=tuple(self.allowed_origins),
            credentials=self.environment == Environment.PRODUCTION,
        )

    @property
    def burst_protection_enabled(self) -> bool:
        return self.rate_limit_burst_seconds > 0
