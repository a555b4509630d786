"""The audit trail of credentials retrievals: one JSON line per retrieval.

Audit lines bypass the ``logging`` machinery, which cost more than the whole
rest of a credentials request: each line is encoded at once, and the lines of
one event-loop turn are written together, right after that turn, so a burst
of retrievals costs one write. Lines are in the same JSON shape as the
production log profile.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import TextIO

__all__ = ["AuditLog"]

_FIXED = json.dumps(
    {"severity": "info", "logger": "repertoire.audit", "event": "InfluxDB credentials retrieved"}
)[1:-1]
"""The fields every audit line has, encoded once."""


class AuditLog:
    """Writes audit lines to a stream, batched per event-loop turn."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending: list[str] = []

    def credentials_retrieved(self, username: str, databases: str | list[str]) -> None:
        """Record that ``username`` received the credentials of ``databases``."""
        if isinstance(databases, str):
            named = f'"database": {encode_basestring_ascii(databases)}'
        else:
            named = f'"databases": {json.dumps(databases)}'
        line = (
            f'{{"timestamp": "{datetime.now(UTC).isoformat()}", {_FIXED}, '
            f'"username": {encode_basestring_ascii(username)}, {named}}}\n'
        )
        first = not self._pending
        self._pending.append(line)
        if first:
            _schedule(self.flush)

    def flush(self) -> None:
        """Write every pending line now."""
        if self._pending:
            lines, self._pending = self._pending, []
            self._stream.write("".join(lines))
            self._stream.flush()

    async def lifespan(self, _: object) -> AsyncIterator[None]:
        """``cleanup_ctx`` hook: flush what is left when the application stops."""
        yield
        self.flush()


def _schedule(callback: Callable[[], None]) -> None:
    try:
        asyncio.get_running_loop().call_soon(callback)
    except RuntimeError:  # no loop (a synchronous caller): write at once
        callback()
