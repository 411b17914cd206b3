"""CLI start-up: loading the commands imports no heavy optional library, and the direct
command lines (``probe icmp``) load only their own module yet still list every command
under ``--help``.

Each check runs in a fresh interpreter: the test process has imported half the package
(and httpx, sqlalchemy...) already, so its ``sys.modules`` proves nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys

# Optional libraries a command may use when it runs, never when the CLI starts.
HEAVY = (
    "httpx",
    "httpcore",
    "dns",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "uvicorn",
    "hypercorn",
    "asyncssh",
    "psutil",
)
EVERY_COMMAND = ("check-config", "serve", "probe", "agent")
EVERY_PROBE = ("icmp", "tcp", "http", "dns", "traceroute")


def run_python(code: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (this one's), failing the test on a crash."""
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done


def modules_after(load: str) -> set[str]:
    """Every module imported by ``import netgauge.cli as c`` followed by ``load``."""
    code = "\n".join(
        [
            "import sys, json",
            "import netgauge.cli as c",
            load,
            "print(json.dumps(sorted(sys.modules)))",
        ]
    )
    return set(json.loads(run_python(code).stdout))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(name for name in modules if name.split(".")[0] in HEAVY)


def test_loading_every_command_imports_no_heavy_optional_module() -> None:
    modules = modules_after("c._load_commands()")
    assert "netgauge.cli.probe_http" in modules  # the commands did load
    assert heavy_in(modules) == []


# What a direct command line may not import: its start-up is timed against fping.
NOT_DIRECT = ("typer", "click", "rich", "pydantic", "pydantic_core", *HEAVY)


def test_a_direct_command_line_imports_neither_typer_nor_pydantic() -> None:
    from netgauge.cli import DIRECT_COMMANDS

    assert ("probe", "icmp") in DIRECT_COMMANDS
    for words in DIRECT_COMMANDS:
        # -X importtime logs every module imported, to stderr: the command leaves with
        # os._exit, so nothing can be printed after it.
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "netgauge", *words, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0 and "usage:" in done.stdout, done.stderr
        modules = {
            line.rsplit("|", 1)[-1].strip()
            for line in done.stderr.splitlines()
            if line.startswith("import time:")
        }
        assert "netgauge.cli.probe_icmp" in modules  # the command did run
        assert sorted(m for m in modules if m.split(".")[0] in NOT_DIRECT) == [], words


_RESOLVE = """
import json, sys
import typer.main
import netgauge.cli as c
from netgauge.cli.app import app
c._load_commands()
command = typer.main.get_command(app)
for word in sys.argv[1:]:
    command = command.commands.get(word) if hasattr(command, "commands") else None
print(json.dumps(command is not None))
"""


def test_every_direct_command_is_on_the_typer_app_too() -> None:
    from netgauge.cli import DIRECT_COMMANDS

    for words in DIRECT_COMMANDS:
        assert json.loads(run_python(_RESOLVE, *words).stdout), words


_MAIN = "import sys\nimport netgauge.cli as c\nsys.argv = ['netgauge', *sys.argv[1:]]\nc.main()"


def help_text(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _MAIN, *args, "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_help_still_lists_every_command() -> None:
    top, probe = help_text(), help_text("probe")
    assert all(name in top for name in EVERY_COMMAND), top
    assert all(name in probe for name in EVERY_PROBE), probe


def test_help_of_a_direct_command_shows_its_options() -> None:
    assert "--pace" in help_text("probe", "icmp")
