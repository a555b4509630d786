"""``repertoire validate``: lint one environment's files before they are deployed.

The configuration itself is checked by `server.config.parse_config`, the
same code that ``serve`` runs, so both report a fault with the same message;
this module adds what only the files taken together reveal: secrets that are
not declared, not used or not on disk, databases in the base values file, and
empty maps that Helm's merge silently ignores.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from server.config import InvalidConfigError, parse_config
from server.exceptions import ConfigError, format_key_path
from server.phalanx_secrets import SecretDeclarations, load_secret_declarations
from server.secrets import SecretStore
from server.values import KeyPath, MergedValues, load_values, read_yaml

__all__ = ["Finding", "add_parser", "run", "validate"]

Severity = Literal["error", "warning"]

EXIT_FINDINGS = 1
"""Exit code when validation finds errors (or, with ``--strict``, warnings)."""

_DATABASES: KeyPath = ("config", "influxdbDatabases")
_SERVE_HINT = "repertoire serve refuses to start with this value; correct it"
_PHALANX_HINT = (
    "Phalanx refuses this declaration when syncing secrets; see"
    " https://phalanx.lsst.io/developers/define-secrets.html"
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: where it is, what it is, and how to fix it."""

    severity: Severity
    source: str
    path: KeyPath
    message: str
    hint: str

    @classmethod
    def from_error(cls, error: ConfigError, hint: str) -> Finding:
        """A finding with exactly the message the loader gave."""
        return cls("error", error.source, error.path, error.reason, hint)

    @property
    def key(self) -> str:
        """The key path as an operator writes it."""
        return format_key_path(self.path)

    def as_dict(self) -> dict[str, str]:
        """The JSON form."""
        return {"severity": self.severity, "file": self.source, "key": self.key,
                "message": self.message, "hint": self.hint}


@dataclass(frozen=True, slots=True)
class _PasswordKey:
    label: str
    key: str
    path: KeyPath
    source: str


def _node(tree: Any, path: KeyPath) -> Any:
    for part in path:
        if not isinstance(tree, Mapping):
            return None
        tree = tree.get(part)
    return tree


def _password_keys(merged: MergedValues) -> list[_PasswordKey]:
    """Every string ``passwordKey`` of the merged databases, even of a bad stanza."""
    databases = _node(merged.tree, _DATABASES)
    found: list[_PasswordKey] = []
    for label, stanza in sorted((databases or {}).items() if isinstance(databases, Mapping)
                                else []):
        path = (*_DATABASES, str(label), "passwordKey")
        key = _node(stanza, ("passwordKey",))
        if isinstance(key, str) and key:
            found.append(_PasswordKey(str(label), key, path, merged.source_of(path)))
    return found


def _secret_references(node: Any) -> Iterator[str]:
    """Values of every ``passwordKey``/``*PasswordKey`` key: secrets the chart uses."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if str(key).lower().endswith("passwordkey") and isinstance(value, str):
                yield value
            else:
                yield from _secret_references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _secret_references(item)


def _config_findings(merged: MergedValues) -> list[Finding]:
    try:
        parse_config(merged)
    except InvalidConfigError as exc:
        return [Finding.from_error(error, _SERVE_HINT) for error in exc.errors]
    return []


def _base_databases(base_source: str, base: Any) -> Iterator[Finding]:
    databases = _node(base, _DATABASES)
    for label in sorted(databases or {}) if isinstance(databases, Mapping) else []:
        yield Finding(
            "error", base_source, (*_DATABASES, str(label)),
            "database in the base values file: every environment would serve it",
            "move it to the values-<env>.yaml of the environment that has this database",
        )


def _empty_overrides(layers: Sequence[tuple[str, Any]]) -> Iterator[Finding]:
    """Empty maps over non-empty ones: Helm keeps the earlier keys, so nothing changes."""
    so_far = MergedValues()
    for index, (source, tree) in enumerate(layers):
        if not isinstance(tree, Mapping):
            continue
        if index:
            yield from _empty_maps_in(source, tree, (), so_far)
        so_far.merge(tree, source)


def _empty_maps_in(source: str, layer: Mapping[str, Any], prefix: KeyPath,
                   so_far: MergedValues) -> Iterator[Finding]:
    for key, value in layer.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and value:
            yield from _empty_maps_in(source, value, path, so_far)
        elif isinstance(value, Mapping):
            kept = _node(so_far.tree, path)
            if isinstance(kept, Mapping) and kept:
                names = ", ".join(sorted(map(str, kept)))
                yield Finding(
                    "warning", source, path,
                    f"empty map does nothing: Helm's merge keeps the keys {names} set by"
                    f" {so_far.source_of(path)}",
                    "to remove a key, set it to null here (e.g. "
                    f"{key}: {{{sorted(map(str, kept))[0]}: null}})",
                )


def _declaration_findings(keys: Sequence[_PasswordKey], merged: MergedValues,
                          secrets: SecretDeclarations) -> Iterator[Finding]:
    files = ", ".join(Path(name).name for name in secrets.files)
    for entry in keys:
        declaration = secrets.declarations.get(entry.key)
        if declaration is None:
            yield Finding(
                "error", entry.source, entry.path,
                f"{entry.key!r} is not declared in {files}",
                f"declare {entry.key} with a description in secrets-<env>.yaml,"
                " or correct passwordKey",
            )
        elif not declaration.applies(merged.tree):
            yield Finding(
                "error", entry.source, entry.path,
                f"{entry.key!r} is declared in {declaration.source} only"
                f" if {declaration.condition}, which is not true here",
                f"set {declaration.condition} or drop the condition",
            )
    used = set(_secret_references(merged.tree.get("config")))
    for declaration in secrets.declarations.values():
        if (declaration.key.endswith("-password") and declaration.key not in used
                and declaration.applies(merged.tree)):
            yield Finding(
                "warning", declaration.source, (declaration.key,),
                "declared password secret that no database uses",
                "point a database's passwordKey at it, or remove the declaration",
            )


def _convention_findings(keys: Sequence[_PasswordKey]) -> Iterator[Finding]:
    for entry in keys:
        if entry.key != f"{entry.label}-password":
            yield Finding(
                "warning", entry.source, entry.path,
                f"{entry.key!r} does not follow the convention <label>-password",
                f"name the secret {entry.label}-password",
            )


def _secret_file_findings(keys: Sequence[_PasswordKey], store: SecretStore) -> Iterator[Finding]:
    for entry in keys:
        status = store.status(entry.key)
        if not status.available:
            yield Finding(
                "error", entry.source, entry.path,
                f"secret file {store.directory / entry.key}: {status.reason}",
                "create the secret with a non-empty value (the credentials route"
                " answers 503 until then)",
            )


def validate(
    values_files: Sequence[Path],
    set_options: Sequence[str] = (),
    secrets_files: Sequence[Path] = (),
    secrets_dir: Path | None = None,
) -> list[Finding]:
    """Every finding for these files, errors first; `ConfigError` if one is unusable."""
    layers = [(str(path), read_yaml(path)) for path in values_files]
    merged = load_values(values_files, set_options)
    keys = _password_keys(merged)
    findings = _config_findings(merged)
    findings += _base_databases(*layers[0])
    findings += _empty_overrides(layers)
    findings += _convention_findings(keys)
    if secrets_files:
        secrets = load_secret_declarations(secrets_files)
        findings += (Finding.from_error(e, _PHALANX_HINT) for e in secrets.errors)
        findings += _declaration_findings(keys, merged, secrets)
    if secrets_dir is not None:
        findings += _secret_file_findings(keys, SecretStore(secrets_dir))
    return sorted(findings, key=lambda f: (f.severity != "error", f.source, f.key, f.message))


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``validate`` subcommand."""
    parser = subparsers.add_parser(
        "validate",
        help="lint an environment's values and secrets files before deploying",
        description="Report every problem at once, each with file, key and fix."
        " Exit 0 when clean, 1 with errors (or warnings with --strict),"
        " 2 when a file is unusable.",
    )
    parser.add_argument("--values", action="append", type=Path, required=True,
                        metavar="FILE", help="values.yaml first, then values-<env>.yaml")
    parser.add_argument("--set", action="append", default=[], dest="set_options",
                        metavar="KEY=VALUE", help="Helm-style override, as for serve")
    parser.add_argument("--secrets", action="append", type=Path, default=[],
                        metavar="FILE", help="secrets.yaml, then secrets-<env>.yaml")
    parser.add_argument("--secrets-dir", type=Path, metavar="DIR",
                        help="also check that every database's secret file is there")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--strict", action="store_true", help="warnings also fail")


def _error_count(findings: Sequence[Finding]) -> int:
    return sum(f.severity == "error" for f in findings)


def _render_text(findings: Sequence[Finding]) -> str:
    lines = []
    for finding in findings:
        lines.append(f"{finding.severity}: {finding.source}: {finding.key}: {finding.message}")
        lines.append(f"    fix: {finding.hint}")
    errors = _error_count(findings)
    lines.append(f"{errors} error(s), {len(findings) - errors} warning(s)")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """Run ``validate``; raises `ConfigError` for an unusable file (exit 2)."""
    findings = validate(args.values, args.set_options, args.secrets, args.secrets_dir)
    if args.format == "json":
        errors = _error_count(findings)
        document = {"findings": [f.as_dict() for f in findings],
                    "errors": errors, "warnings": len(findings) - errors}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write(_render_text(findings))
    failing = [f for f in findings if f.severity == "error" or args.strict]
    return EXIT_FINDINGS if failing else 0
