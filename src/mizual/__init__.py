"""Mizual: a self-hostable backend for AI image editing with natural-language prompts."""

import sys
from importlib.metadata import PackageNotFoundError, version

# httpx imports its command-line tool whenever click, rich and pygments are installed (rich is, for
# our CLI): about 6 MB in every process, API and workers alike, for a tool none of them runs.
# Marking the module absent before httpx is first imported makes httpx skip it.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

try:
    __version__ = version("mizual")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
