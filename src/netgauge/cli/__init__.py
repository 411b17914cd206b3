"""Command line: thin wrappers that parse arguments and call the services."""

from __future__ import annotations

from netgauge.cli.app import app


def _load_commands() -> None:
    # Importing the command modules registers their commands on ``app``.
    from netgauge.cli import config_cmd, probe, serve  # noqa: F401


def main() -> None:
    """Entry point of the ``netgauge`` script."""
    _load_commands()
    app()


__all__ = ["app", "main"]
