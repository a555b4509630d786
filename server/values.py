"""Read Helm values files and merge them the way Helm does.

Kept apart from the parsing of the settings so that both the server and the
offline ``validate`` command see exactly the same merged tree, and so that
every key can be traced back to the file (or ``--set``) that last wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from server.exceptions import ConfigError

__all__ = ["KeyPath", "MergedValues", "load_values", "parse_set_option", "read_yaml"]

KeyPath = tuple[str | int, ...]


@dataclass
class MergedValues:
    """The merged values tree plus, for every key path, the source that set it."""

    tree: dict[str, Any] = field(default_factory=dict)
    origins: dict[KeyPath, str] = field(default_factory=dict)

    def source_of(self, path: KeyPath) -> str:
        """Name the file that last wrote ``path`` (or its closest parent)."""
        for end in range(len(path), 0, -1):
            if (origin := self.origins.get(path[:end])) is not None:
                return origin
        return "(merged values)"

    def merge(self, layer: Mapping[str, Any], source: str) -> None:
        """Merge one layer over the tree: maps deep-merge, the rest replaces."""
        _merge_into(self.tree, layer, (), source, self.origins)


def _merge_into(
    target: dict[str, Any],
    layer: Mapping[str, Any],
    prefix: KeyPath,
    source: str,
    origins: dict[KeyPath, str],
) -> None:
    for key, value in layer.items():
        path = (*prefix, str(key))
        current = target.get(key)
        origins[path] = source
        if isinstance(value, Mapping) and isinstance(current, dict):
            _merge_into(current, value, path, source, origins)
        elif isinstance(value, Mapping):
            target[key] = {}
            _merge_into(target[key], value, path, source, origins)
        else:
            target[key] = value


def read_yaml(path: Path) -> Any:
    """Parse one YAML file, turning every failure into a `ConfigError`."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", source=source, path=()) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read file: {reason}", source=source, path=()) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{problem}{where}", source=source, path=()) from None


def parse_set_option(option: str) -> dict[str, Any]:
    """Turn a Helm-style ``--set a.b=value`` into a nested one-key mapping.

    The value is typed as Helm types it (``true``, numbers, ``null``), and
    ``{x,y}`` is a list of strings.
    """
    key, sep, raw = option.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError("expected KEY.PATH=VALUE", source=f"--set {option}", path=())
    value: Any
    if raw.startswith("{") and raw.endswith("}"):
        inner = raw[1:-1]
        value = [item.strip() for item in inner.split(",")] if inner else []
    else:
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, Mapping | list):
            value = raw
    nested: dict[str, Any] = {}
    node = nested
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return nested


def load_values(files: Sequence[Path], sets: Sequence[str] = ()) -> MergedValues:
    """Read and merge values files in order, then the ``--set`` options."""
    merged = MergedValues()
    for path in files:
        document = read_yaml(path)
        if document is None:
            continue
        if not isinstance(document, Mapping):
            raise ConfigError(
                f"expected a mapping at the top of the file, got {type(document).__name__}",
                source=str(path),
                path=(),
            )
        merged.merge(document, str(path))
    for option in sets:
        merged.merge(parse_set_option(option), f"--set {option.partition('=')[0]}")
    return merged
