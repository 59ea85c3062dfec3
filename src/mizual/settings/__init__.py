"""Every environment variable Mizual reads, typed, with its default.

`ENVIRONMENT` picks a profile (`production` or `preview`) whose values apply to the variables
the environment leaves unset; an explicit variable always wins. A few fields are also read under
the reference's names (`ALIASES`). `docs/configuration.md` lists every field of `Settings`; keep
the two in step.

A bad value is reported as one sentence per variable (`load_settings`); a variable that looks
like one of ours but is not gets a warning (`new_configuration_warnings`), printed by the CLI.

The parts: `enums` (the closed sets of values), `parsing` (a variable's text to a value),
`model` (`Settings` and the profiles), `variables` (the names read), `report` (what a person is
told), `loading` (`load_settings`).
"""

from mizual.settings.enums import EditProvider, Environment, FluxModel, LlmProvider, StorageBackend
from mizual.settings.loading import ConfigurationError, load_settings
from mizual.settings.model import DEFAULT_LLM_MODELS, PROFILES, Settings
from mizual.settings.parsing import (
    FLUX_API_URL_SHAPE,
    ByteSize,
    ImageTypeList,
    NetworkList,
    OriginList,
    parse_byte_size,
    parse_csv,
    parse_flux_api_url,
    parse_image_types,
    parse_networks,
    split_flux_api_url,
)
from mizual.settings.report import check_variables, new_configuration_warnings
from mizual.settings.variables import ALIASES, SECRET_FIELDS, VARIABLES, field_names

__all__ = [
    "ALIASES",
    "DEFAULT_LLM_MODELS",
    "FLUX_API_URL_SHAPE",
    "PROFILES",
    "SECRET_FIELDS",
    "VARIABLES",
    "ByteSize",
    "ConfigurationError",
    "EditProvider",
    "Environment",
    "FluxModel",
    "ImageTypeList",
    "LlmProvider",
    "NetworkList",
    "OriginList",
    "Settings",
    "StorageBackend",
    "check_variables",
    "field_names",
    "load_settings",
    "new_configuration_warnings",
    "parse_byte_size",
    "parse_csv",
    "parse_flux_api_url",
    "parse_image_types",
    "parse_networks",
    "split_flux_api_url",
]
