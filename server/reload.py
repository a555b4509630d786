"""Live reload: on SIGHUP, or when a watched file changes, load a new snapshot.

Watched files are the values files, the tokens file and the secret file of
every configured database. Kubernetes updates a mounted ConfigMap or Secret
by swapping a ``..data`` symlink, so a file's identity is taken from its
resolved path and the inode and mtime found there, not from its name; polling
that is cheap and needs no inotify (which misses symlink swaps of a parent).

A reload that fails keeps the last good snapshot and logs every problem with
its file and key. A good one becomes ``ServiceState.current`` in one
assignment: a request already running keeps the snapshot it read, so none is
dropped, and the discovery ETag, a hash of the body, only changes with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from server.config import InvalidConfigError, report_unserved_keys
from server.exceptions import format_key_path
from server.keys import STATE_KEY
from server.state import ServiceState, load_snapshot

__all__ = ["Reloader", "live_reload"]

_LOGGER = logging.getLogger("repertoire.reload")

Fingerprint = tuple[tuple[str, str | None, int, int], ...]


def _identity(path: Path) -> tuple[str, str | None, int, int]:
    """Where ``path`` leads now, and the inode and mtime of what is there."""
    try:
        stat = path.stat()
        return (str(path), os.path.realpath(path), stat.st_ino, stat.st_mtime_ns)
    except OSError:
        return (str(path), None, 0, 0)


class Reloader:
    """Reloads one service's configuration on request or on change."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self._requested = asyncio.Event()
        self._seen = self.fingerprint()

    def watched(self) -> list[Path]:
        """Values files, tokens file and the current databases' secret files."""
        settings = self.state.settings
        paths = list(settings.values_files)
        if settings.auth_mode == "tokens" and settings.tokens_file is not None:
            paths.append(settings.tokens_file)
        keys = self.state.current.credentials.secret_keys().values()
        paths += (settings.secrets_dir / key for key in sorted(keys))
        return paths

    def fingerprint(self) -> Fingerprint:
        """The identity of every watched file."""
        return tuple(_identity(path) for path in self.watched())

    def request(self) -> None:
        """Ask for a reload (the SIGHUP handler)."""
        self._requested.set()

    async def reload(self, reason: str) -> bool:
        """Load a new snapshot and swap it in; on failure keep the current one."""
        current = self.state.current
        self._seen = self.fingerprint()
        try:
            snapshot = await asyncio.to_thread(
                load_snapshot, self.state.settings, current.generation + 1
            )
        except InvalidConfigError as exc:
            for error in exc.errors:
                _LOGGER.error(
                    "Reload (%s) failed, still serving generation %d: %s",
                    reason, current.generation, error,
                    extra={"file": error.source, "key": format_key_path(error.path)},
                )
            return False
        if snapshot.config.path_prefix != current.config.path_prefix:
            _LOGGER.error(
                "Reload (%s) failed, still serving generation %d: config.pathPrefix"
                " changed from %s to %s, which needs a restart",
                reason, current.generation, current.config.path_prefix,
                snapshot.config.path_prefix,
            )
            return False
        self.state.current = snapshot
        self._seen = self.fingerprint()
        _LOGGER.info("Configuration reloaded (%s): generation %d", reason, snapshot.generation)
        report_unserved_keys(snapshot.config)
        snapshot.credentials.warn_unavailable_secrets()
        return True

    async def watch(self, interval: float) -> None:
        """Reload on request, and when a poll every ``interval`` sees a change."""
        while True:
            try:
                async with asyncio.timeout(interval):
                    await self._requested.wait()
            except TimeoutError:
                # A thousand stat calls take tens of milliseconds: off the loop.
                if await asyncio.to_thread(self.fingerprint) == self._seen:
                    continue
                await self.reload("files changed")
            else:
                self._requested.clear()
                await self.reload("SIGHUP")


async def live_reload(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx`` hook: watch while the application runs."""
    state = app[STATE_KEY]
    reloader = Reloader(state)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, reloader.request)
    task = asyncio.create_task(reloader.watch(state.settings.reload_interval))
    yield
    loop.remove_signal_handler(signal.SIGHUP)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
