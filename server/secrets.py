"""Read database passwords from a Kubernetes-style secrets directory.

Kubernetes rotates a mounted secret by swapping the ``..data`` symlink
atomically, so reading ``<dir>/<key>`` afresh on every request serves a
rotated password at once and never a half-written one. The files are a few
bytes on a local volume: a plain read is cheaper than a thread hop.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from server.urls import is_plain_name

__all__ = ["SecretStatus", "SecretStore", "SecretUnreadableError"]

_LOGGER = logging.getLogger("repertoire.secrets")

_RACY_WINDOW_NS = 2_000_000_000


class SecretUnreadableError(Exception):
    """A secret file is missing, unreadable or empty (never carries its content)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"secret {key!r} is unavailable: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SecretStatus:
    """Whether a secret can be served right now, and why not if not."""

    key: str
    available: bool
    reason: str | None = None


class SecretStore:
    """Secrets as files named by key in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._files: dict[str, str] = {}
        self._values: dict[str, tuple[tuple[int, int, int, int], str]] = {}

    def path_of(self, key: str) -> Path:
        """The file holding ``key``; keys are plain names, checked at load."""
        if not is_plain_name(key):
            raise SecretUnreadableError(key, "not a plain file name")
        return self.directory / key

    def read(self, key: str) -> str:
        """The secret's value with one trailing newline (CRLF or LF) stripped.

        The file is checked on every call, but read only when its identity
        (device, inode, modification time, size) has changed: one system call
        instead of four on the hot path, and a rotation is still seen at once.
        As in git's index, a file modified in the last two seconds is always
        re-read: two writes within one clock tick could share an identity.
        """
        file = self._file_of(key)
        try:
            info = os.stat(file)  # noqa: PTH116 (a str path: pathlib costs more)
            identity = (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)
            cached = self._values.get(key)
            settled = time.time_ns() - info.st_mtime_ns > _RACY_WINDOW_NS
            if cached is not None and cached[0] == identity and settled:
                return cached[1]
            data = _read_file(file)
        except FileNotFoundError:
            raise SecretUnreadableError(key, "file not found") from None
        except IsADirectoryError:
            raise SecretUnreadableError(key, "is a directory") from None
        except OSError as exc:
            raise SecretUnreadableError(key, os.strerror(exc.errno or 0)) from None
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretUnreadableError(key, "not UTF-8 text") from None
        value = value.removesuffix("\n").removesuffix("\r")
        if not value:
            raise SecretUnreadableError(key, "file is empty")
        self._values[key] = (identity, value)
        return value

    def _file_of(self, key: str) -> str:
        """``path_of`` as a string, remembered: pathlib costs more than the read."""
        file = self._files.get(key)
        if file is None:
            file = self._files[key] = str(self.path_of(key))
        return file

    def status(self, key: str) -> SecretStatus:
        """Check a secret without returning its value."""
        try:
            self.read(key)
        except SecretUnreadableError as exc:
            return SecretStatus(key=key, available=False, reason=exc.reason)
        return SecretStatus(key=key, available=True)

    def warn_unavailable(self, keys_by_label: dict[str, str]) -> list[str]:
        """Log a warning for each database whose secret cannot be read now."""
        missing: list[str] = []
        for label, key in sorted(keys_by_label.items()):
            status = self.status(key)
            if not status.available:
                missing.append(label)
                _LOGGER.warning(
                    "Secret %s for database %s is unavailable (%s) in %s;"
                    " its credentials route will answer 503 until it appears",
                    key,
                    label,
                    status.reason,
                    self.directory,
                )
        return missing


def _read_file(file: str) -> bytes:
    """The whole file, read with bare system calls (no buffered file object)."""
    descriptor = os.open(file, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(descriptor, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(descriptor)
