"""Every environment variable Mizual reads, typed, with its default.

`ENVIRONMENT` picks a profile (`production` or `preview`) whose values apply to the variables
the environment leaves unset; an explicit variable always wins. A few fields are also read under
the reference's names (`ALIASES`). `docs/configuration.md` lists every field here; keep the two
in step.

A bad value is reported as one sentence per variable (`load_settings`); a variable that looks
like one of ours but is not gets a warning (`new_configuration_warnings`), printed by the CLI.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mizual.kit.cors import CorsPolicy, parse_origins


class Environment(StrEnum):
    PRODUCTION = "production"
    PREVIEW = "preview"


class StorageBackend(StrEnum):
    AUTO = "auto"
    LOCAL = "local"
    S3 = "s3"


class EditProvider(StrEnum):
    AUTO = "auto"
    LOCAL = "local"
    FLUX = "flux"
    NOOP = "noop"


class FluxModel(StrEnum):
    PRO = "flux-kontext-pro"
    MAX = "flux-kontext-max"


class LlmProvider(StrEnum):
    GEMINI = "gemini"
    OPENAI = "openai"


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

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}


def parse_byte_size(value: Any) -> int:
    """Accept `600MB`, `20MiB`, `1048576` or an int."""
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", str(value))
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ValueError("expected a size in bytes, such as 10485760 or 20MiB")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


_FORMAT_ALIASES = {"jpg": "jpeg", "jpe": "jpeg", "tif": "tiff", "heif": "heic"}


def parse_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip().lower() for item in value.split(",") if item.strip()]
    return value


def parse_image_types(value: Any) -> Any:
    """Lower-case format names; common spellings (jpg, tif, heif) mean their format."""
    items = parse_csv(value)
    if isinstance(items, list):
        return [_FORMAT_ALIASES.get(str(item).lower(), str(item).lower()) for item in items]
    return items


def parse_networks(value: Any) -> Any:
    """`10.0.0.1, 192.168.0.0/16, ::1`: addresses or networks, comma-separated."""
    items = parse_csv(value)
    if not isinstance(items, list):
        return items
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(str(item), strict=False))
        except ValueError:
            raise ValueError(
                "expected comma-separated IP addresses or networks, such as "
                f"10.0.0.0/8, 192.168.1.7; {str(item)!r} is neither"
            ) from None
    return networks


ByteSize = Annotated[int, BeforeValidator(parse_byte_size)]
OriginList = Annotated[list[str], NoDecode, BeforeValidator(parse_origins)]
NetworkList = Annotated[
    list[ipaddress.IPv4Network | ipaddress.IPv6Network], NoDecode, BeforeValidator(parse_networks)
]
ImageTypeList = Annotated[list[str], NoDecode, BeforeValidator(parse_image_types)]


_FLUX_ENDPOINT = re.compile(r"(https?://[^\s?#]+?)/v1/([^/?#\s]+)/?")
FLUX_API_URL_SHAPE = (
    "expected a BFL endpoint ending in "
    + " or ".join(f"/v1/{model.value}" for model in FluxModel)
    + f", such as https://api.bfl.ai/v1/{FluxModel.PRO.value}"
)


def split_flux_api_url(url: str) -> tuple[str, FluxModel] | None:
    """`https://api.bfl.ai/v1/flux-kontext-max` → (`https://api.bfl.ai`, the max model), as
    the FLUX client builds `{BFL_API_URL}/v1/{BFL_MODEL}`; None for any other shape or model."""
    match = _FLUX_ENDPOINT.fullmatch(url.strip())
    if match is None:
        return None
    try:
        return match.group(1), FluxModel(match.group(2).lower())
    except ValueError:
        return None


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

    # Database
    database_url: SecretStr | None = None
    database_schema: str = "public"
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_pgbouncer: bool = False

    # Queue and workers
    celery_broker_url: str = "redis://localhost:6379/0"
    celery_result_backend: str = "redis://localhost:6379/0"
    redis_url: str | None = None
    max_workers: int = Field(default=3, ge=1, le=64)
    celery_concurrency: int = Field(default=3, ge=1, le=64)
    celery_worker_memory_limit: ByteSize = 600 * 1000**2
    celery_visibility_timeout: int = Field(default=3600, ge=10)
    stuck_edit_timeout_seconds: int = Field(default=1200, ge=10)
    sweep_interval_seconds: float = Field(default=60, gt=0)
    events_heartbeat_seconds: float = Field(default=15, gt=0, le=300)

    # Metrics (GET /metrics; see mizual.metrics)
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
    def apply_profile(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        raw_env = next((v for k, v in data.items() if k.lower() == "environment"), None)
        try:
            environment = Environment(str(raw_env or Environment.PRODUCTION).lower())
        except ValueError:
            return data  # the field validator reports the bad value
        given = {key.lower() for key in data}
        return {**{k: v for k, v in PROFILES[environment].items() if k not in given}, **data}

    @model_validator(mode="before")
    @classmethod
    def read_flux_api_url(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        url = next((v for k, v in data.items() if k.lower() == "flux_api_url"), None)
        parts = split_flux_api_url(url) if isinstance(url, str) else None
        if parts is None:
            return data  # unset, or `flux_endpoint` reports it
        given = {key.lower() for key in data}
        derived = {"bfl_api_url": parts[0], "bfl_model": parts[1].value}
        return {**{k: v for k, v in derived.items() if k not in given}, **data}

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
        if value is None or not value.strip():
            return None
        if split_flux_api_url(value) is None:
            raise ValueError(FLUX_API_URL_SHAPE)
        return value.strip()

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


SECRET_FIELDS = {
    name for name, field in Settings.model_fields.items() if "SecretStr" in str(field.annotation)
}


def field_names(field: str) -> list[str]:
    """The variables that set a field, upper-case, the one that wins first."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return [choice.upper() for choice in alias.choices if isinstance(choice, str)]
    return [field.upper()]


# Other names a variable is read under (the reference's), upper-case → its field.
ALIASES: dict[str, str] = {
    name: field
    for field in Settings.model_fields
    for name in field_names(field)
    if name != field.upper()
}

# Every variable Mizual reads, aliases included.
VARIABLES: frozenset[str] = frozenset(
    {field.upper() for field in Settings.model_fields} | set(ALIASES)
)


class ConfigurationError(Exception):
    """Raised at start-up when a variable has an invalid value; the message names it."""


def load_settings(*, distributed: bool = False, **overrides: Any) -> Settings:
    """Read the settings. `distributed` (API and worker processes): Redis defaults to the
    broker's, so the cache and the limits are shared without a second variable."""
    try:
        settings = Settings(**overrides)
        if distributed and settings.redis_url is None:
            settings = Settings(**overrides, redis_url=settings.celery_broker_url)
        return settings
    except ValidationError as exc:
        from mizual.settings_report import describe_errors, variable_sources

        problems = describe_errors(exc, sources=[overrides, *variable_sources()])
        raise ConfigurationError("invalid configuration: " + "; ".join(problems)) from None
