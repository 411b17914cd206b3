"""Command line: thin wrappers that parse arguments and call the services."""

from __future__ import annotations

from netgauge.cli.app import app


def _load_commands() -> None:
    """Import every command module of this package: each registers its commands on ``app``."""
    import importlib
    import pkgutil

    import netgauge.cli as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in {"app"} and not module.name.startswith("_"):
            importlib.import_module(f"netgauge.cli.{module.name}")


def main() -> None:
    """Entry point of the ``netgauge`` script."""
    _load_commands()
    app()


__all__ = ["app", "main"]
