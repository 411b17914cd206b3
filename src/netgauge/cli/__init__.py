"""Command line: thin wrappers that parse arguments and call the services.

The typer app is ``netgauge.cli.app.app``; nothing here imports it before a command line
needs it (see ``DIRECT_COMMANDS``).
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn


def _probe_icmp(argv: Sequence[str]) -> int:
    from netgauge.cli.probe_icmp import main as run

    return run(argv)


# Command lines run without typer: start-up is part of a one-shot probe's run time
# (``probe icmp`` over 10,000 targets is timed against fping in bench/icmp.py; typer and
# the pydantic models were 110 ms of it). Each takes the words after its own and returns
# the exit status. tests/unit/test_cli_startup.py checks what each one imports.
DIRECT_COMMANDS: dict[tuple[str, ...], Callable[[Sequence[str]], int]] = {
    ("probe", "icmp"): _probe_icmp,
}


def _load_commands() -> None:
    """Import every command module of this package: each registers its commands on ``app``."""
    import importlib
    import pkgutil

    import netgauge.cli as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in {"app"} and not module.name.startswith("_"):
            importlib.import_module(f"netgauge.cli.{module.name}")


def _direct_command(args: Sequence[str]) -> Callable[[], int] | None:
    """The direct command this command line runs, if any (``--help`` goes there too)."""
    for words, run in DIRECT_COMMANDS.items():
        if tuple(args[: len(words)]) == words:
            rest = list(args[len(words) :])
            return lambda: run(rest)
    return None


def _exit_now(command: Callable[[], int]) -> NoReturn:
    """Run a one-shot command and leave without the interpreter's teardown.

    Every object the command made lives until it ends, so the cyclic garbage collector
    only costs time (it ran about 15 times over the 10,000-target round), and freeing
    them one by one at exit was another 15 ms of ``probe icmp``'s wall time. The command
    has closed its sockets; the output is flushed here; nothing registers atexit work on
    this path (no logging, no storage).
    """
    gc.disable()
    try:
        code = command()
    except SystemExit as exc:  # argparse's --help
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # `netgauge probe icmp ... | head`: not an error
        pass
    os._exit(code)


def main() -> None:
    """Entry point of the ``netgauge`` script."""
    direct = _direct_command(sys.argv[1:])
    if direct is not None:
        _exit_now(direct)
    _load_commands()
    from netgauge.cli.app import app

    app()


__all__ = ["DIRECT_COMMANDS", "main"]
