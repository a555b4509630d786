"""Parse Phalanx secret declarations (``secrets.yaml``, ``secrets-<env>.yaml``).

Phalanx only rejects a malformed declaration when secrets are synced, long
after the values change that needs it was merged; parsing the same rules here
lets ``repertoire validate`` report it first. Declarations may carry a fixed
``value``: only whether one is present is kept, never the value itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.config import ConfigReader
from server.exceptions import ConfigError
from server.values import KeyPath, MergedValues, read_yaml

__all__ = [
    "CopyRule",
    "GenerateRule",
    "SecretDeclaration",
    "SecretDeclarations",
    "condition_holds",
    "load_secret_declarations",
    "parse_secret_declarations",
]

_ENTRY_KEYS = ("description", "if", "copy", "generate", "onepassword", "value")
_COPY_KEYS = ("application", "key", "if")
_GENERATE_KEYS = ("type", "source", "if")
_SIMPLE_TYPES = ("password", "gafaelfawr-token", "fernet-key", "rsa-private-key")
_SOURCE_TYPES = ("bcrypt-password-hash", "mtime")


@dataclass(frozen=True, slots=True)
class CopyRule:
    """``copy``: take the value of another application's secret."""

    application: str
    key: str
    condition: str | None = None


@dataclass(frozen=True, slots=True)
class GenerateRule:
    """``generate``: Phalanx creates the value (from ``source`` for some types)."""

    type: str
    source: str | None = None
    condition: str | None = None


@dataclass(frozen=True, slots=True)
class SecretDeclaration:
    """One declared secret key, as the file that declared it last says."""

    key: str
    source: str
    description: str | None
    condition: str | None = None
    copy: CopyRule | None = None
    generate: GenerateRule | None = None
    onepassword_encoded: bool = False
    has_value: bool = False

    def applies(self, values: Mapping[str, Any]) -> bool:
        """Whether Phalanx creates this secret for an environment with ``values``."""
        return self.condition is None or condition_holds(self.condition, values)


@dataclass
class SecretDeclarations:
    """Every declaration of the given files (later files override earlier ones)."""

    files: list[str] = field(default_factory=list)
    declarations: dict[str, SecretDeclaration] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)


def condition_holds(condition: str, values: Mapping[str, Any]) -> bool:
    """Evaluate a Phalanx ``if:``: the dotted values key must be set to a true value."""
    node: Any = values
    for part in condition.split("."):
        if not isinstance(node, Mapping):
            return False
        node = node.get(part)
    return bool(node)


def _unknown_keys(reader: ConfigReader, node: Mapping[str, Any], path: KeyPath,
                  allowed: Sequence[str]) -> None:
    for key in sorted(set(map(str, node)) - set(allowed)):
        reader.fail((*path, key), f"unknown key (Phalanx accepts {', '.join(allowed)})")


def _copy_rule(reader: ConfigReader, node: Any, path: KeyPath) -> CopyRule | None:
    rule = reader.mapping(node, path)
    if not rule:
        return None
    _unknown_keys(reader, rule, path, _COPY_KEYS)
    application = reader.string(rule.get("application"), (*path, "application"))
    key = reader.string(rule.get("key"), (*path, "key"))
    condition = reader.string(rule.get("if"), (*path, "if"), required=False)
    if application is None or key is None:
        return None
    return CopyRule(application, key, condition)


def _generate_rule(reader: ConfigReader, node: Any, path: KeyPath) -> GenerateRule | None:
    rule = reader.mapping(node, path)
    if not rule:
        return None
    _unknown_keys(reader, rule, path, _GENERATE_KEYS)
    kind = reader.string(rule.get("type"), (*path, "type"))
    source = reader.string(rule.get("source"), (*path, "source"), required=False)
    condition = reader.string(rule.get("if"), (*path, "if"), required=False)
    if kind is None:
        return None
    if kind not in _SIMPLE_TYPES + _SOURCE_TYPES:
        reader.fail((*path, "type"), f"must be one of {', '.join(_SIMPLE_TYPES + _SOURCE_TYPES)},"
                    f" got {kind!r}")
        return None
    if kind in _SOURCE_TYPES and source is None:
        reader.fail((*path, "source"), f"is required for type {kind}")
    if kind in _SIMPLE_TYPES and source is not None:
        reader.fail((*path, "source"),
                    f"may only be set for type {' or '.join(_SOURCE_TYPES)}, not {kind}")
    return GenerateRule(kind, source, condition)


def _declaration(reader: ConfigReader, key: str, node: Any, source: str) -> SecretDeclaration:
    path: KeyPath = (key,)
    entry = reader.mapping(node, path)
    _unknown_keys(reader, entry, path, _ENTRY_KEYS)
    copy = _copy_rule(reader, entry.get("copy"), (*path, "copy"))
    generate = _generate_rule(reader, entry.get("generate"), (*path, "generate"))
    onepassword = reader.mapping(entry.get("onepassword"), (*path, "onepassword"))
    _unknown_keys(reader, onepassword, (*path, "onepassword"), ("encoded",))
    has_value = reader.string(entry.get("value"), (*path, "value"), required=False) is not None
    if copy and generate and copy.condition is None and generate.condition is None:
        reader.fail(path, "both copy and generate may not be set unconditionally")
    if has_value and ((copy and copy.condition is None)
                      or (generate and generate.condition is None)):
        reader.fail((*path, "value"), "may not be set if copy or generate is set")
    return SecretDeclaration(
        key=key,
        source=source,
        description=reader.string(entry.get("description"), (*path, "description")),
        condition=reader.string(entry.get("if"), (*path, "if"), required=False),
        copy=copy,
        generate=generate,
        onepassword_encoded=reader.boolean(
            onepassword.get("encoded"), (*path, "onepassword", "encoded"), default=False
        ),
        has_value=has_value,
    )


def parse_secret_declarations(
    document: Any, source: str
) -> tuple[list[SecretDeclaration], list[ConfigError]]:
    """Parse one secrets file's content; every problem is returned, none raised."""
    if document is not None and not isinstance(document, Mapping):
        error = ConfigError("must be a mapping of secret keys to declarations",
                            source=source, path=())
        return [], [error]
    tree = MergedValues()
    tree.merge(document or {}, source)
    reader = ConfigReader(tree)
    declarations = [
        _declaration(reader, str(key), node, source)
        for key, node in (document or {}).items()
    ]
    return declarations, reader.errors


def load_secret_declarations(paths: Sequence[Path]) -> SecretDeclarations:
    """Read secrets files in order; raises `ConfigError` only for an unreadable file."""
    result = SecretDeclarations()
    for path in paths:
        declarations, errors = parse_secret_declarations(read_yaml(path), str(path))
        result.files.append(str(path))
        result.errors.extend(errors)
        result.declarations.update((d.key, d) for d in declarations)
    return result
