"""Command line: ``repertoire serve``, ``validate``, ``check`` and ``token create``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from aiohttp import web
from aiohttp.log import access_logger

from server import check, validate
from server.app import create_app
from server.auth import create_token
from server.config import InvalidConfigError
from server.exceptions import ConfigError
from server.keys import STATE_KEY
from server.logs import configure_logging
from server.state import ServiceSettings

__all__ = ["main"]

EXIT_USAGE = 2
"""Exit code for unusable input: bad arguments or a bad configuration."""

DEMO_DIR = Path(str(files("server").joinpath("demo")))


def _serve_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="serve discovery and credentials (with no options: the bundled demo)",
        description="Serve discovery and credentials. With neither --values nor"
        " --secrets-dir, serve the bundled demo configuration with token auth.",
    )
    serve.add_argument("--values", action="append", type=Path, default=[], metavar="FILE",
                       help="Helm values file; repeat to merge in order")
    serve.add_argument("--set", action="append", default=[], dest="set_options",
                       metavar="KEY=VALUE", help="Helm-style override, e.g. config.baseHostname=x")
    serve.add_argument("--secrets-dir", type=Path, metavar="DIR",
                       help="directory holding one file per secret key")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--auth", choices=["gafaelfawr", "tokens"], default=None,
                       help="gafaelfawr (default) or tokens (standalone)")
    serve.add_argument("--tokens-file", type=Path, metavar="FILE",
                       help="YAML file of token hashes, for --auth tokens")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.add_argument("--reload-interval", type=_positive_seconds, default=2.0,
                       metavar="SECONDS", help="how often to check the values, tokens and"
                       " secret files for a change to reload (default 2); SIGHUP reloads now")


def _positive_seconds(text: str) -> float:
    seconds = float(text)
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return seconds


def _token_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = subparsers.add_parser("token", help="manage bearer tokens for --auth tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser(
        "create", help="generate a token, store its hash, print it once"
    )
    create.add_argument("--username", required=True)
    create.add_argument("--scope", action="append", required=True, dest="scopes")
    create.add_argument("--tokens-file", type=Path, required=True)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``repertoire`` command."""
    parser = argparse.ArgumentParser(prog="repertoire", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    _serve_parser(subparsers)
    validate.add_parser(subparsers)
    check.add_parser(subparsers)
    _token_parser(subparsers)
    return parser


def settings_from_args(args: argparse.Namespace) -> ServiceSettings:
    """Turn ``serve`` options into settings, filling in the demo when asked."""
    demo = not args.values and args.secrets_dir is None
    if demo:
        args.values = [DEMO_DIR / "values.yaml"]
        args.secrets_dir = DEMO_DIR / "secrets"
        args.auth = args.auth or "tokens"
        args.tokens_file = args.tokens_file or DEMO_DIR / "tokens.yaml"
    elif not args.values or args.secrets_dir is None:
        raise InvalidConfigError(
            [ConfigError("--values and --secrets-dir go together (or give neither"
                         " for the demo)", source="command line", path=())]
        )
    return ServiceSettings(
        values_files=tuple(args.values),
        secrets_dir=args.secrets_dir,
        set_options=tuple(args.set_options),
        auth_mode=args.auth or "gafaelfawr",
        tokens_file=args.tokens_file,
        access_log=args.access_log,
        reload_interval=args.reload_interval,
    )


def _serve(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    app = create_app(settings)
    config = app[STATE_KEY].current.config
    configure_logging(config.log_profile, config.log_level)
    try:
        web.run_app(
            app,
            host=args.host,
            port=args.port,
            access_log=access_logger if settings.access_log else None,
            print=None,
        )
    except OSError as exc:
        sys.stderr.write(f"repertoire: cannot listen on {args.host}:{args.port}: {exc.strerror}\n")
        return 1
    return 0


def _token_create(args: argparse.Namespace) -> int:
    token = create_token(args.tokens_file, args.username, args.scopes)
    sys.stdout.write(token + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; configuration faults print clearly and exit 2."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "validate":
            return validate.run(args)
        if args.command == "check":
            return check.run(args)
        return _token_create(args)
    except check.UnusableInputError as exc:
        sys.stderr.write(f"repertoire: {exc}\n")
        return EXIT_USAGE
    except InvalidConfigError as exc:
        for error in exc.errors:
            sys.stderr.write(f"repertoire: configuration error: {error}\n")
        return EXIT_USAGE
    except ConfigError as exc:
        sys.stderr.write(f"repertoire: configuration error: {exc}\n")
        return EXIT_USAGE
