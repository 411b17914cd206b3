"""The deployment recipes in deploy/ against independent judges.

* the systemd units: ``systemd-analyze verify`` (systemd's own parser; skipped without it),
  and their restart rules against the exit codes the code defines;
* every ``netgauge ...`` command line in the units, the Containerfile and compose.yaml:
  the real CLI, in a subprocess (each option in ``SUB --help``, and the whole line parsed
  by click: an unknown option or a missing value is exit 2 even with ``--help``);
* compose.yaml: a YAML parser, the services it must name;
* secrets: only *_FILE variables and credential paths, no token-, password- or key-like
  value anywhere under deploy/.

Not checked here: building or running the image (no container runtime on this machine).
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
CENTRAL_UNIT = UNITS / "netgauge.service"
COLLECTOR_UNIT = UNITS / "netgauge-collector@.service"
DROP_IN = UNITS / "netgauge.service.d" / "credentials.conf.example"
CONTAINERFILE = DEPLOY / "container" / "Containerfile"
COMPOSE = DEPLOY / "container" / "compose.yaml"
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|KEY", re.IGNORECASE)
# What the units' ${VARIABLES} stand for when a command line is checked.
PLACEHOLDERS = {
    "STATE_DIRECTORY": "/var/lib/netgauge",
    "CREDENTIALS_DIRECTORY": "/run/credentials/netgauge-collector@site1.service",
    "NETGAUGE_CENTRAL_URL": "https://nms.example.org",
}


# -- reading the recipes ---------------------------------------------------------------------
def unit_entries(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) of each assignment, in order (systemd keys may repeat)."""
    entries, section = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit_values(path: Path, key: str) -> list[str]:
    """Every value of ``key`` in the unit's [Service] section."""
    return [v for s, k, v in unit_entries(path) if s == "Service" and k == key]


def compose() -> dict[str, Any]:
    """compose.yaml as a YAML parser reads it (merge keys resolved)."""
    data: dict[str, Any] = YAML(typ="safe").load(COMPOSE.read_text())
    return data


def _substituted(word: str) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: PLACEHOLDERS[m.group(1)], word)


def _containerfile_instruction(name: str) -> list[str]:
    for line in CONTAINERFILE.read_text().splitlines():
        if line.startswith(f"{name} "):
            words: list[str] = json.loads(line[len(name) + 1 :])
            return words
    raise AssertionError(f"no {name} in the Containerfile")


def netgauge_command_lines() -> Iterator[tuple[str, list[str]]]:
    """(where, the words after ``netgauge``) of every netgauge command line in the recipes."""
    for unit in (CENTRAL_UNIT, COLLECTOR_UNIT):
        for line in unit_values(unit, "ExecStart"):
            program, *args = shlex.split(line)
            assert program.endswith("/netgauge"), f"{unit.name}: {program}"
            yield unit.name, [_substituted(a) for a in args]
    assert _containerfile_instruction("ENTRYPOINT") == ["netgauge"]
    yield "Containerfile CMD", _containerfile_instruction("CMD")
    for name, service in compose()["services"].items():
        if service.get("image") == "localhost/netgauge:latest":
            yield f"compose {name}", list(service["command"])


COMMAND_LINES = list(netgauge_command_lines())


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m netgauge ARGS`` with this checkout's source, as a user would run it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "netgauge", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


# -- the command lines against the real CLI --------------------------------------------------
def test_the_recipes_run_serve_and_collector() -> None:
    subcommands = {args[0] for _, args in COMMAND_LINES}
    assert subcommands == {"serve", "collector"}
    assert len(COMMAND_LINES) >= 6  # 2 units + CMD + 3 compose services


@pytest.mark.parametrize("subcommand", ["serve", "collector"])
def test_every_option_used_is_in_the_subcommands_help(subcommand: str) -> None:
    done = run_cli(subcommand, "--help")
    assert done.returncode == 0, done.stderr
    for where, args in COMMAND_LINES:
        if args[0] != subcommand:
            continue
        for option in (a for a in args[1:] if a.startswith("-")):
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", done.stdout), (
                f"{where}: {option} is not an option of netgauge {subcommand}"
            )


@pytest.mark.parametrize("where,args", COMMAND_LINES, ids=[w for w, _ in COMMAND_LINES])
def test_each_command_line_parses(where: str, args: list[str]) -> None:
    """The whole line through click's parser: --help runs only when every option before it
    exists and has its value (else usage error, exit 2)."""
    done = run_cli(*args, "--help")
    assert done.returncode == 0, f"{where}: {args}: {done.stderr}"
    assert "Usage:" in done.stdout


def test_the_parse_check_catches_an_unknown_option() -> None:
    done = run_cli("collector", "--server", "https://nms", "--token", "x", "--help")
    assert done.returncode == 2


def test_the_collector_reads_its_token_from_a_credential_file() -> None:
    (line,) = unit_values(COLLECTOR_UNIT, "ExecStart")
    args = shlex.split(line)
    assert args[args.index("--token-file") + 1] == "${CREDENTIALS_DIRECTORY}/token"
    assert args[args.index("--data-dir") + 1] == "${STATE_DIRECTORY}"
    assert unit_values(COLLECTOR_UNIT, "LoadCredential") == [
        "token:/etc/netgauge/collectors/%i.token"
    ]
    assert unit_values(COLLECTOR_UNIT, "StateDirectory") == ["netgauge-collector/%i"]


# -- restart rules against the code's exit codes ---------------------------------------------
def test_the_collector_is_not_restarted_when_its_token_is_refused_or_input_is_bad() -> None:
    from netgauge.cli.app import EXIT_BAD_INPUT
    from netgauge.collector.main import EXIT_FAILED, EXIT_REFUSED

    (prevent,) = unit_values(COLLECTOR_UNIT, "RestartPreventExitStatus")
    assert {int(code) for code in prevent.split()} == {EXIT_REFUSED, EXIT_BAD_INPUT}
    # A failed task ends the collector with EXIT_FAILED: restarted, never prevented.
    assert EXIT_FAILED not in {int(code) for code in prevent.split()}
    assert unit_values(COLLECTOR_UNIT, "Restart") == ["always"]


def test_the_central_is_restarted_on_failure_but_not_for_a_bad_config() -> None:
    from netgauge.cli.app import EXIT_BAD_INPUT

    assert unit_values(CENTRAL_UNIT, "Restart") == ["on-failure"]
    assert unit_values(CENTRAL_UNIT, "RestartPreventExitStatus") == [str(EXIT_BAD_INPUT)]


@pytest.mark.parametrize("unit", [CENTRAL_UNIT, COLLECTOR_UNIT], ids=lambda p: p.name)
def test_the_units_are_hardened_with_only_cap_net_raw(unit: Path) -> None:
    expected = {
        "DynamicUser": "yes",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "AmbientCapabilities": "CAP_NET_RAW",
        "CapabilityBoundingSet": "CAP_NET_RAW",
        "EnvironmentFile": "-/etc/netgauge/netgauge.env",
    }
    for key, value in expected.items():
        assert value in unit_values(unit, key), f"{unit.name}: {key}={value}"


# -- systemd's own verdict -------------------------------------------------------------------
def _verify_copy(tmp_path: Path, patch: dict[str, str] | None = None) -> Path:
    """The units in ``tmp_path``, ExecStart pointing at an executable that exists there
    (verify checks it), the drop-in example installed as a drop-in."""
    fake = tmp_path / "bin" / "netgauge"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    for unit in (CENTRAL_UNIT, COLLECTOR_UNIT):
        text = unit.read_text().replace("/opt/netgauge/bin/netgauge", str(fake))
        for old, new in (patch or {}).items():
            text = text.replace(old, new)
        (tmp_path / unit.name).write_text(text)
    (tmp_path / "netgauge.service.d").mkdir()
    shutil.copy(DROP_IN, tmp_path / "netgauge.service.d" / "credentials.conf")
    return tmp_path


def _systemd_verify(directory: Path) -> tuple[int, list[str]]:
    """systemd-analyze verify of the central and one collector instance: its exit status
    and the lines it says about them (warnings such as "Unknown key" keep exit 0)."""
    done = subprocess.run(
        ["systemd-analyze", "verify", "netgauge.service", "netgauge-collector@site1.service"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    said = [line for line in (done.stdout + done.stderr).splitlines() if "netgauge" in line]
    return done.returncode, said


needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here"
)


@needs_systemd_analyze
def test_systemd_analyze_verify_finds_nothing_to_say(tmp_path: Path) -> None:
    code, said = _systemd_verify(_verify_copy(tmp_path))
    assert code == 0 and said == [], said


@needs_systemd_analyze
def test_systemd_analyze_verify_reads_these_files(tmp_path: Path) -> None:
    """The check has teeth: a bad value in the template and in the drop-in are both named."""
    directory = _verify_copy(tmp_path, {"Restart=always": "Restart=sometimes"})
    drop_in = directory / "netgauge.service.d" / "credentials.conf"
    drop_in.write_text(drop_in.read_text() + "NoSuchKey=1\n")
    _, said = _systemd_verify(directory)
    assert any("sometimes" in line for line in said), said
    assert any("NoSuchKey" in line for line in said), said


@needs_systemd_analyze
@pytest.mark.parametrize("unit", ["netgauge.service", "netgauge-collector@site1.service"])
def test_systemd_rates_the_units_exposure_low(tmp_path: Path, unit: str) -> None:
    """systemd's own hardening score (0 best, 10 worst; "OK" up to 3.9): at most 2.0."""
    help_text = subprocess.run(
        ["systemd-analyze", "security", "--help"], capture_output=True, text=True, check=False
    ).stdout
    if "--offline" not in help_text:
        pytest.skip("this systemd-analyze cannot score a unit file offline (systemd < 250)")
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--threshold=20", "--no-pager", unit],
        cwd=_verify_copy(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    overall = [line for line in done.stdout.splitlines() if "Overall exposure" in line]
    assert done.returncode == 0, overall or done.stderr


def _setpriv_as_the_unit(unit: Path) -> list[str]:
    """setpriv arguments giving a process what the unit gives netgauge: only the ambient
    and bounding capabilities it names, no new privileges (uid 0 without root's implicit
    capabilities: securebits noroot, so only the ambient set counts, as for a plain user)."""
    (ambient,) = unit_values(unit, "AmbientCapabilities")
    (bounding,) = unit_values(unit, "CapabilityBoundingSet")
    assert unit_values(unit, "NoNewPrivileges") == ["yes"]

    def caps(names: str) -> str:
        return ",".join(["-all"] + [f"+{n.removeprefix('CAP_').lower()}" for n in names.split()])

    return [
        "setpriv",
        "--securebits=+noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked",
        f"--inh-caps={caps(ambient)}",
        f"--ambient-caps={caps(ambient)}",
        f"--bounding-set={caps(bounding)}",
        "--no-new-privs",
    ]


def _raw_ping_loopback(setpriv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "NETGAUGE_ICMP_SOCKET": "raw"}
    probe = ["probe", "icmp", "-c", "2", "--interval", "0.05", "--json", "127.0.0.1"]
    return subprocess.run(
        [*setpriv, sys.executable, "-m", "netgauge", *probe],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.privileged
@pytest.mark.network
@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv"
)
@pytest.mark.parametrize("unit", [CENTRAL_UNIT, COLLECTOR_UNIT], ids=lambda p: p.name)
def test_the_units_capabilities_are_enough_for_raw_icmp(unit: Path) -> None:
    """The kernel judges: with only the unit's capabilities a raw ICMP socket opens and
    loopback answers; with none it is refused (so the first result is the capability's)."""
    setpriv = _setpriv_as_the_unit(unit)
    done = _raw_ping_loopback(setpriv)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["sent"], result["received"]) == (2, 2)
    without = [a if not a.startswith("--ambient") else "--ambient-caps=-all" for a in setpriv]
    without = [a if not a.startswith("--inh") else "--inh-caps=-all" for a in without]
    refused = _raw_ping_loopback(without)
    assert refused.returncode == 2 and "Operation not permitted" in refused.stderr


# -- compose.yaml ----------------------------------------------------------------------------
def test_compose_names_its_services_and_builds_the_containerfile() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "victoria-metrics", "central-a", "central-b", "collector"}
    for name in ("central-a", "central-b"):
        central = services[name]
        assert central["build"]["dockerfile"] == "deploy/container/Containerfile"
        assert (COMPOSE.parent / central["build"]["context"]).resolve() == ROOT
        assert central["command"] == ["serve"]
    assert services["central-a"]["volumes"] != services["central-b"]["volumes"]
    # Two first starts at once on an empty database race in the migration: one at a time.
    assert services["central-b"]["depends_on"]["central-a"] == {"condition": "service_healthy"}
    assert "healthcheck" in services["central-a"]
    assert services["collector"]["command"][0] == "collector"


def test_compose_secrets_are_files_the_services_read_by_path() -> None:
    data = compose()
    declared = data["secrets"]
    for name, secret in declared.items():
        assert set(secret) == {"file"} and secret["file"] == f"./secrets/{name}"
    for name, service in data["services"].items():
        for secret in service.get("secrets", []):
            assert secret in declared, f"{name}: {secret}"
        for key, value in service.get("environment", {}).items():
            if SECRET_NAME.search(key):
                assert key.endswith("_FILE"), f"{name}: {key} carries a secret itself"
                assert value.startswith("/run/secrets/"), f"{name}: {key}={value}"
                assert value.rsplit("/", 1)[1] in service["secrets"], f"{name}: {key}"


# -- no secret values anywhere ---------------------------------------------------------------
_VALUE = r"""\s*['"]?(?![/\[$%])[^\s'"#,\]]{6,}"""  # a value, not a path, list or variable
SECRET_VALUES = [
    re.compile(r"ngc_[A-Za-z0-9_-]{8,}"),  # a collector token
    re.compile(r"://[^/\s:@]+:[^/\s@]+@"),  # a URL carrying a password
    re.compile(r"\b[A-Z0-9_]*(PASSWORD|TOKEN|SECRET|KEY)[A-Z0-9_]*\s*[=:]" + _VALUE),  # env
    re.compile(r"^\s*-?\s*[a-z_]*(password|token|secret|key)[a-z_]*\s*:" + _VALUE),  # YAML
]


_WORD = re.compile(r"[A-Za-z0-9+/_-]+")  # base64 (url-safe too); "=" and "." split words


def random_looking(word: str) -> bool:
    """A word like a generated key or token: long, mixed case with digits, high entropy."""
    if len(word) < 24 or word.startswith("/"):
        return False
    if not (re.search(r"\d", word) and re.search("[a-z]", word) and re.search("[A-Z]", word)):
        return False
    counts = [word.count(c) / len(word) for c in set(word)]
    return -sum(p * math.log2(p) for p in counts) > 3.5


def secret_like(text: str) -> list[str]:
    """Values in ``text`` that look like a secret rather than a path to one."""
    found = []
    for line in text.splitlines():
        for pattern in SECRET_VALUES:
            found += [f"{m.group(0)!r} in {line.strip()!r}" for m in pattern.finditer(line)]
        found += [f"{w!r} in {line.strip()!r}" for w in _WORD.findall(line) if random_looking(w)]
    return found


def test_the_secret_scan_catches_secrets() -> None:
    assert secret_like("NETGAUGE_DATABASE_PASSWORD=hunter2hunter2")
    assert secret_like("NETGAUGE_DATABASE_URL: postgresql+psycopg://ng:hunter2@db/ng")
    assert secret_like("--token-file x # ngc_AbCdEf0123456789AbCdEf")
    assert secret_like("  secret_key: hunter2hunter2")
    assert secret_like("# the key: kQ3v9ZpL2xWm7RtY8uHn4BcD6fGj1sAe")  # base64 of 24 random bytes
    assert not secret_like("NETGAUGE_DATABASE_PASSWORD_FILE: /run/secrets/db_password")
    assert not secret_like("Environment=NETGAUGE_SECRET_KEY_FILE=%d/secret_key")
    assert not secret_like("    secrets: [db_password, secret_key]")
    assert not secret_like("LoadCredential=token:/etc/netgauge/collectors/%i.token")


def test_no_recipe_holds_a_secret_value() -> None:
    recipes = [p for p in sorted(DEPLOY.rglob("*")) if p.is_file()]
    assert {CENTRAL_UNIT, COLLECTOR_UNIT, DROP_IN, CONTAINERFILE, COMPOSE} <= set(recipes)
    found = {p.name: secret_like(p.read_text()) for p in recipes}
    assert {name: hits for name, hits in found.items() if hits} == {}
    for unit in (CENTRAL_UNIT, COLLECTOR_UNIT, DROP_IN):
        assert unit_values(unit, "SetCredential") == []
        for assignment in unit_values(unit, "Environment"):
            key = assignment.split("=", 1)[0]
            assert not SECRET_NAME.search(key) or key.endswith("_FILE"), assignment
