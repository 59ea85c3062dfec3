"""The closed sets of values some variables take (ENVIRONMENT, EDIT_PROVIDER, …)."""

from __future__ import annotations

from enum import StrEnum


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
