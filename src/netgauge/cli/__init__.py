"""Command line: thin wrappers that parse arguments and call the services."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from netgauge.cli.app import app

# Command lines that load only the module registering their command: start-up is part of
# a one-shot probe's run time (``probe icmp`` over 10,000 targets is timed against fping
# in bench/icmp.py). Every other command line, ``--help`` included, loads every module
# so that every command is listed. tests/unit/test_cli_startup.py checks each entry.
DIRECT_COMMANDS: dict[tuple[str, ...], str] = {("probe", "icmp"): "probe"}


def _load_commands() -> None:
    """Import every command module of this package: each registers its commands on ``app``."""
    import importlib
    import pkgutil

    import netgauge.cli as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in {"app"} and not module.name.startswith("_"):
            importlib.import_module(f"netgauge.cli.{module.name}")


def _load_commands_for(args: Sequence[str]) -> None:
    """Import the one module a direct command line needs, else every command module."""
    for words, module in DIRECT_COMMANDS.items():
        if tuple(args[: len(words)]) == words:
            import importlib

            importlib.import_module(f"netgauge.cli.{module}")
            return
    _load_commands()


def main() -> None:
    """Entry point of the ``netgauge`` script."""
    _load_commands_for(sys.argv[1:])
    app()


__all__ = ["app", "main"]
