"""Mizual: a self-hostable backend for AI image editing with natural-language prompts."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mizual")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
