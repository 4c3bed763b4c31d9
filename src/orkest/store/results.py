"""FileResultFiles: large results as files under a root directory (ResultFiles port).

A key maps to a path below the root ('/' makes subdirectories). A file is written under
a temporary name in the same directory and renamed into place, so a reader (or a
process killed half-way) sees the whole old file or the whole new one, never a part.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from orkest.errors import StoreError


class FileResultFiles:
    """ResultFiles on the local file system; `fsync=True` also survives a power loss."""

    def __init__(self, root: Path | str, *, fsync: bool = False) -> None:
        self.root = Path(root).expanduser()
        self._fsync = fsync

    def __repr__(self) -> str:
        return f"FileResultFiles({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """Where `key` lives; a key must stay below the root."""
        parts = key.split("/")
        if "\\" in key or any(p in ("", ".", "..") for p in parts):
            raise StoreError(f"Invalid result key {key!r}: use relative names joined by '/'.")
        return self.root.joinpath(*parts)

    def put(self, key: str, data: bytes) -> None:
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                       dir=target.parent)
        except OSError as exc:
            raise StoreError(f"Cannot write result {key!r} under {self.root}: {exc}") from exc
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                if self._fsync:
                    file.flush()
                    os.fsync(file.fileno())
            os.replace(tmp, target)
        except BaseException as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            if isinstance(exc, OSError):
                raise StoreError(f"Cannot write result {key!r} to {target}: {exc}") from exc
            raise

    def get(self, key: str) -> bytes:
        target = self.path(key)
        try:
            return target.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"No result file for key {key!r}: {target} does not exist.") from None
        except OSError as exc:
            raise StoreError(f"Cannot read result {key!r} from {target}: {exc}") from exc
