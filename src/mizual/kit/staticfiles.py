"""Static files served with headers of our choosing (caching, nosniff) on every answer."""

from __future__ import annotations

import os
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope


class StaticFilesWithHeaders(StaticFiles):
    def __init__(self, *, directory: Path, headers: Mapping[str, str]) -> None:
        super().__init__(directory=directory)
        self.headers = dict(headers)

    def file_response(
        self,
        full_path: PathLike[str] | str,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(self.headers)
        return response
