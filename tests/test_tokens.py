"""``repertoire token create`` and the tokens file."""

from __future__ import annotations

import stat
from pathlib import Path

import yaml

from server.auth import hash_token, load_tokens_file
from tests.support.server import run_cli


def test_token_create_prints_token_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens.yaml"
    result = run_cli(
        [
            "token",
            "create",
            "--username",
            "alice",
            "--scope",
            "read:sasquatch",
            "--scope",
            "read:image",
            "--tokens-file",
            str(tokens_file),
        ]
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert len(token) > 40
    assert stat.S_IMODE(tokens_file.stat().st_mode) == 0o600
    text = tokens_file.read_text()
    assert token not in text
    entry = load_tokens_file(tokens_file)[hash_token(token)]
    assert entry.username == "alice"
    assert entry.scopes == {"read:sasquatch", "read:image"}


def test_token_create_appends(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens.yaml"
    first = run_cli(
        ["token", "create", "--username", "a", "--scope", "s", "--tokens-file", str(tokens_file)]
    ).stdout.strip()
    second = run_cli(
        ["token", "create", "--username", "b", "--scope", "s", "--tokens-file", str(tokens_file)]
    ).stdout.strip()
    assert first != second
    entries = load_tokens_file(tokens_file)
    assert {e.username for e in entries.values()} == {"a", "b"}
    assert len(yaml.safe_load(tokens_file.read_text())["tokens"]) == 2


def test_token_create_refuses_malformed_file(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens.yaml"
    tokens_file.write_text("tokens: 5\n")
    result = run_cli(
        ["token", "create", "--username", "a", "--scope", "s", "--tokens-file", str(tokens_file)]
    )
    assert result.returncode == 2
    assert f"{tokens_file}: tokens: must be a list" in result.stderr
    assert tokens_file.read_text() == "tokens: 5\n"
