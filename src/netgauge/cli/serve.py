"""``netgauge serve``: run the scheduler, the stores and the API in one process."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError

from netgauge.cli.app import app
from netgauge.errors import ConfigError

if TYPE_CHECKING:  # the config and web stacks load only when `serve` runs
    from netgauge.config import ConfigFile, Settings


def _claim_port(host: str, port: int) -> int:
    """The port to serve on (a free one for 0), checked before anything starts.

    The default config needs the real port up front (it TCP-checks netgauge itself), and a
    port already in use should be one clear line, not a half-started service.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds it
        try:
            sock.bind((host, port))
        except OSError as exc:
            typer.echo(
                f"netgauge: cannot listen on {host}:{port}: {exc.strerror} "
                "(choose another with --port/--host or NETGAUGE_PORT/NETGAUGE_HOST)",
                err=True,
            )
            raise typer.Exit(1) from None
        return int(sock.getsockname()[1])


def _fail(message: str) -> NoReturn:
    typer.echo(f"netgauge: {message}", err=True)
    raise typer.Exit(1)


def _prepare_data_dir(path: Path) -> bool:
    """Make the data directory (0700) before anything starts; True when this run made it
    (then a failed start removes it again: no half-made data directory is left behind).
    A path that cannot be one is a single line naming it and how to choose another."""
    from netgauge.datadir import private_dir

    existed = path.exists()
    if existed and not path.is_dir():
        _fail(f"data directory {path} is not a directory (choose one with --data-dir)")
    try:
        private_dir(path)
    except OSError as exc:
        _fail(
            f"cannot use data directory {path}: {exc.strerror or exc} (choose one with --data-dir)"
        )
    return not existed


def _check_admin_password(settings: Settings) -> None:
    """The first admin's password, when given, meets the password rules; else one line
    naming the variable it came from (the service would only find out inside its start)."""
    from netgauge.auth.passwords import argon2_profile, check_strength

    try:
        argon2_profile()  # an unknown hashing profile stops the start, not the first login
    except ValueError as exc:
        _fail(str(exc))

    try:
        given, variable = settings.given_admin_password()
    except OSError as exc:
        _fail(
            f"NETGAUGE_ADMIN_PASSWORD_FILE: cannot read {settings.admin_password_file}: "
            f"{exc.strerror}"
        )
    if given is None:
        return
    try:
        check_strength(given)
    except ValueError as exc:
        _fail(f"{variable}: {exc}")


class _NoTracebacks(logging.Filter):
    """uvicorn logs a failed start's traceback; netgauge says why in one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Traceback (most recent call last)")


def _settings(
    config: Path | None, cli: dict[str, object]
) -> tuple[Settings, ConfigFile | None, str]:
    from netgauge.config import load_settings
    from netgauge.config.defaults import DEFAULTS_SOURCE
    from netgauge.config.loader import load_config

    if config is None:
        return load_settings({}, cli), None, DEFAULTS_SOURCE
    data_dir = cli.get("data_dir")  # the files jobs name must lie in the one it will use
    loaded = load_config(config, data_dir=data_dir if isinstance(data_dir, Path) else None)
    return load_settings(loaded.config.settings, cli), loaded.config, str(config)


@app.command("serve")
def serve(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="YAML config file; without it netgauge watches this host."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Directory of the SQLite files \\[default: ./netgauge-data]."),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Listen address \\[default: 127.0.0.1].")] = None,
    port: Annotated[
        int | None, typer.Option(help="Listen port \\[default: 8470; 0 = any free].")
    ] = None,
) -> None:
    """Run netgauge: probes on schedule, embedded storage, REST API (Ctrl-C stops cleanly)."""
    try:
        settings, cfg, source = _settings(
            config, {"data_dir": data_dir, "host": host, "port": port}
        )
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None
    except ValidationError as exc:
        typer.echo(
            f"invalid setting: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}", err=True
        )
        raise typer.Exit(2) from None
    _run(settings, cfg, source)


def _run(settings: Settings, cfg: ConfigFile | None, source: str) -> None:
    # imported here so that `netgauge probe ...` starts without loading the web stack
    import uvicorn

    from netgauge.api import create_app
    from netgauge.api.server import Server
    from netgauge.config.defaults import default_config
    from netgauge.logs import configure_logging
    from netgauge.service import Service

    settings = settings.model_copy(update={"port": _claim_port(settings.host, settings.port)})
    _check_admin_password(settings)
    # whatever this process writes is its owner's only (the data directory's files are made
    # 0600 explicitly too; this covers what a library writes on its own)
    os.umask(0o077)
    made_data_dir = _prepare_data_dir(settings.data_dir)
    configure_logging(settings.log_level, settings.log_format)
    logging.getLogger("uvicorn.error").addFilter(_NoTracebacks())
    service = Service(settings, cfg or default_config(settings.port), source)
    url_host = f"[{settings.host}]" if ":" in settings.host else settings.host

    def announce() -> None:
        typer.echo(f"netgauge serving on http://{url_host}:{settings.port}/ (API docs at /docs)")
        typer.echo(f"data directory: {settings.data_dir.resolve()}")
        typer.echo(f"configuration: {source}")

    server = Server(
        uvicorn.Config(
            create_app(service, on_started=announce),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            # forwarded headers are believed only from settings.trusted_proxies (create_app)
            proxy_headers=False,
            lifespan="on",
        )
    )
    try:
        asyncio.run(server.serve())
    except SystemExit:  # uvicorn exits 3 when the lifespan start fails; we say why below
        if service.start_error is None:
            raise
    if service.start_error is not None:
        if made_data_dir:  # nothing in it is worth keeping: this run made all of it
            shutil.rmtree(settings.data_dir, ignore_errors=True)
        one_line = " ".join(str(service.start_error).split())  # a driver's text may wrap
        typer.echo(f"netgauge: cannot start: {one_line}", err=True)
        raise typer.Exit(1)
    if not server.started:
        raise typer.Exit(1)
