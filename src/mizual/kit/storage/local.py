"""Images in a local folder, served by the API under `/images/`.

With a `UrlSigner` (LOCAL_URL_SIGNING=true) every link carries an expiry and a signature, and the
route serving `/images/` refuses a link without a valid one (`check_link`)."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from mizual.kit.storage.base import ObjectNotFound, StorageError, is_safe_key
from mizual.kit.urlsigning import UrlSigner, Verdict

IMAGES_ROUTE = "/images"


class LocalStorage:
    def __init__(self, *, root: Path, base_url: str, signer: UrlSigner | None = None) -> None:
        self.root = root.resolve()
        self.base_url = base_url
        self.signer = signer
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        if not is_safe_key(key):
            raise ObjectNotFound(key)
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ObjectNotFound(key)
        return path

    def put(self, key: str, data: bytes, *, content_type: str) -> None:  # noqa: ARG002
        path = self.path_for(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename, so a reader never sees half a file and a crash leaves none.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise _failed(f"could not write {key}", exc) from exc

    def get(self, key: str) -> bytes:
        try:
            return self.path_for(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise _failed(f"could not read {key}", exc) from exc

    def exists(self, key: str) -> bool:
        try:
            return self.path_for(key).is_file()
        except ObjectNotFound:
            return False

    def delete(self, key: str) -> None:
        try:
            self.path_for(key).unlink(missing_ok=True)
        except ObjectNotFound:
            return
        except OSError as exc:
            raise _failed(f"could not delete {key}", exc) from exc

    def url(self, key: str) -> str:
        path = f"{IMAGES_ROUTE}/{key}"
        if self.signer is None:
            return f"{self.base_url}{path}"
        # The signature covers the route's path, not the base URL: a link stays valid whichever
        # host name or proxy prefix it reached the API through.
        return f"{self.base_url}{path}?{self.signer.query(path)}"

    def check_link(self, key: str, *, expires: str | None, signature: str | None) -> Verdict:
        """May a request for `key` with this query be served? Always, when links are unsigned."""
        if self.signer is None:
            return Verdict(None)
        return self.signer.verify(f"{IMAGES_ROUTE}/{key}", expires=expires, signature=signature)

    def close(self) -> None:
        return None


# A folder Mizual may not write is a setup to fix; anything else (a full disk, a network volume
# gone for a moment) may pass.
_REFUSALS = {errno.EACCES, errno.EPERM, errno.EROFS}


def _failed(what: str, exc: OSError) -> StorageError:
    return StorageError(f"{what}: {exc.strerror}", transient=exc.errno not in _REFUSALS)
