"""A secret directory laid out and updated the way Kubernetes does it.

The kubelet's atomic writer projects a Secret volume as::

    <dir>/..2026_12_04_19_47_32.123456789/<key>   (the real files)
    <dir>/..data -> ..2026_12_04_19_47_32.123456789
    <dir>/<key> -> ..data/<key>

and updates it by writing a new timestamped directory, pointing a temporary
symlink ``..data_tmp`` at it, and renaming that onto ``..data`` (one atomic
``rename(2)``), then adding or removing the per-key symlinks and deleting the
old timestamped directory. A reader that opens ``<dir>/<key>`` therefore
always sees either the complete old content or the complete new content.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["DATA_DIR", "KubernetesSecretDir"]

DATA_DIR = "..data"
_DATA_TMP = "..data_tmp"


class KubernetesSecretDir:
    """Owns a Kubernetes-style projected secret directory at ``path``."""

    def __init__(self, path: Path, data: Mapping[str, str | bytes]) -> None:
        self.path = path
        self.path.mkdir(parents=True, exist_ok=True)
        self._counter = 0
        self.update(data)

    def __repr__(self) -> str:
        return f"KubernetesSecretDir({str(self.path)!r}, keys={self.keys()!r})"

    def keys(self) -> list[str]:
        """Keys currently projected."""
        data = self.path / DATA_DIR
        if not data.exists():
            return []
        return sorted(p.name for p in data.iterdir())

    def current_target(self) -> str | None:
        """Name of the timestamped directory ``..data`` points at."""
        data = self.path / DATA_DIR
        return str(data.readlink()) if data.is_symlink() else None

    def _new_timestamp_dir(self) -> Path:
        # Same shape as the kubelet's names; a counter keeps two updates in
        # the same nanosecond apart.
        self._counter += 1
        stamp = time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime())
        name = f"..{stamp}.{time.time_ns() % 1_000_000_000:09d}{self._counter:03d}"
        path = self.path / name
        path.mkdir(mode=0o755)
        return path

    def update(self, data: Mapping[str, str | bytes]) -> None:
        """Replace the whole secret with ``data`` atomically."""
        for key in data:
            if not key or "/" in key or key.startswith(".."):
                raise ValueError(f"Invalid secret key {key!r}")
        old_target = self.current_target()
        old_keys = set(self.keys())

        new_dir = self._new_timestamp_dir()
        for key, value in data.items():
            content = value.encode() if isinstance(value, str) else value
            file = new_dir / key
            file.write_bytes(content)
            file.chmod(0o644)

        tmp_link = self.path / _DATA_TMP
        if tmp_link.is_symlink() or tmp_link.exists():
            tmp_link.unlink()
        tmp_link.symlink_to(new_dir.name)
        # Path.replace is os.replace: one atomic rename(2) over the old link.
        tmp_link.replace(self.path / DATA_DIR)

        for key in data:
            link = self.path / key
            if not link.is_symlink():
                link.symlink_to(f"{DATA_DIR}/{key}")
        for key in old_keys - set(data):
            (self.path / key).unlink(missing_ok=True)

        if old_target is not None and old_target != new_dir.name:
            shutil.rmtree(self.path / old_target, ignore_errors=True)
