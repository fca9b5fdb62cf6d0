"""``python -m devstack.jobrouter export`` / ``import``: copy a Job Router configuration through a JSON file.

``export`` reads policies, queues and (with ``--workers``) workers from any Job Router endpoint and writes
one document (:mod:`~devstack.jobrouter.config_document`); ``import FILE`` applies a document to an
endpoint, an emulator typically (the emulator's ``--import FILE`` does it at start-up). The endpoint is a
connection string (``--connection-string`` or ``$JOBROUTER_CONNECTION_STRING``: key auth) or an endpoint
URL (``--endpoint`` or ``$JOBROUTER_ENDPOINT``: Microsoft Entra ID through ``DefaultAzureCredential``).
Exit codes: 0 done, 1 the service failed or could not be reached, 2 bad input (a line says what).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from devstack.jobrouter.config_document import (
    RESOURCE_KINDS,
    ConfigDocument,
    ConfigDocumentError,
    build_document,
    parse_document,
)
from devstack.jobrouter.config_transfer import RouterClients, apply_configuration, connect, read_configuration
from offer_handlers.errors import ConfigurationError

__all__ = ["CONNECTION_STRING_ENV", "ENDPOINT_ENV", "apply_document_file", "main"]

CONNECTION_STRING_ENV: Final = "JOBROUTER_CONNECTION_STRING"
ENDPOINT_ENV: Final = "JOBROUTER_ENDPOINT"
EXIT_OK: Final = 0
EXIT_SERVICE: Final = 1
EXIT_BAD_INPUT: Final = 2


class _BadInput(Exception):
    """Something the user gave is wrong (exit 2)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.jobrouter",
        description="Export a Job Router configuration to a JSON document, or import one.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser(
        "export", help="write an endpoint's policies, queues (and workers) to a JSON document"
    )
    _connection_options(export)
    export.add_argument(
        "--workers", action="store_true", help="include workers (default: policies and queues)"
    )
    export.add_argument(
        "--output", "-o", type=Path, default=None, metavar="FILE", help="where to write (default: stdout)"
    )
    apply = commands.add_parser(
        "import", help="apply a JSON document to an endpoint (an emulator, typically)"
    )
    apply.add_argument("file", type=Path, metavar="FILE", help="a document written by export")
    _connection_options(apply)
    return parser


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--connection-string",
        default=None,
        metavar="CS",
        help=f"endpoint=...;accesskey=... (key auth; default ${CONNECTION_STRING_ENV}). The variable is "
        "safer: command lines are visible to other local users",
    )
    parser.add_argument(
        "--endpoint",
        default=None,
        metavar="URL",
        help=f"endpoint for Microsoft Entra ID auth via DefaultAzureCredential (default ${ENDPOINT_ENV})",
    )


def _clients(args: argparse.Namespace, environ: Mapping[str, str]) -> RouterClients:
    connection_string = args.connection_string or (
        None if args.endpoint else environ.get(CONNECTION_STRING_ENV)
    )
    endpoint = args.endpoint or environ.get(ENDPOINT_ENV)
    if connection_string is None and endpoint is None:
        raise _BadInput(
            f"give --connection-string (or set {CONNECTION_STRING_ENV}) or --endpoint (or set {ENDPOINT_ENV})"
        )
    try:
        return connect(connection_string=connection_string, endpoint=endpoint)
    except ConfigurationError:
        raise _BadInput(
            "the connection string must look like endpoint=https://<host>/;accesskey=<base64 key>"
        ) from None
    except ValueError as error:
        raise _BadInput(str(error)) from None


def _counts(resources: Mapping[str, Sequence[Any]]) -> str:
    return ", ".join(f"{len(resources[k])} {k}" for k in RESOURCE_KINDS if k in resources)


def _export(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    clients = _clients(args, environ)
    try:
        resources = read_configuration(clients, workers=args.workers)
    finally:
        clients.close()
    document = build_document(resources, exported_from=clients.endpoint)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as error:
            raise _BadInput(f"cannot write {args.output}: {error.strerror or error}") from None
    print(f"exported {_counts(resources)} from {clients.endpoint}", file=sys.stderr)
    if document["secrets"]:
        names = " ".join(sorted(document["secrets"]))
        print(f"secrets left out; set these variables before import: {names}", file=sys.stderr)
    return EXIT_OK


def read_document_file(path: Path) -> ConfigDocument:
    """Read and parse a document file; :class:`ConfigDocumentError` names the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigDocumentError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ConfigDocumentError(f"{path} is not UTF-8 text") from None
    return parse_document(text)


def apply_document_file(
    path: Path,
    clients: RouterClients,
    environ: Mapping[str, str],
    *,
    progress: Callable[[str, str], None] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Read a document, fill its secrets from ``environ`` and apply it; returns what was applied.

    Raises :class:`ConfigDocumentError` (bad file or missing secret) or the SDK's errors.
    """
    resources = read_document_file(path).with_secrets(environ)
    apply_configuration(clients, resources, progress=progress)
    return resources


def _import(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    document = read_document_file(args.file)
    resources = document.with_secrets(environ)  # before connecting: a missing secret is bad input
    clients = _clients(args, environ)
    try:
        apply_configuration(clients, resources)
    finally:
        clients.close()
    print(f"imported {_counts(resources)} into {clients.endpoint}", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run ``export`` or ``import``; returns the exit code."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError

    args = _parser().parse_args(argv)
    env = os.environ if environ is None else environ
    command = _export if args.command == "export" else _import
    try:
        return command(args, env)
    except (_BadInput, ConfigDocumentError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except HttpResponseError as error:
        print(f"error: the service answered {error.status_code}: {_service_message(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT if error.status_code == 400 else EXIT_SERVICE
    except ServiceRequestError as error:
        print(f"error: could not reach the endpoint: {error.message}", file=sys.stderr)
        return EXIT_SERVICE


def _service_message(error: Any) -> str:
    """The service's own error message (``communicationError.message``), else the SDK's."""
    try:
        body = json.loads(error.response.text())
        return str(body["communicationError"]["message"])
    except (AttributeError, KeyError, TypeError, ValueError):
        return str(error.message).splitlines()[0]
