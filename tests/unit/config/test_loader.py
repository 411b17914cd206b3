"""Config validation: every rule reports the YAML path and line, exactly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netgauge.config import load_settings
from netgauge.config.base import parse_duration
from netgauge.config.loader import load_config, load_config_text
from netgauge.errors import ConfigError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "config"
INVALID = sorted(FIXTURES.glob("invalid-*.yaml"))


def expected(path: Path) -> str:
    """The first line of each invalid fixture says what the loader must print (minus the file).

    ``{known}`` stands for the registered probe kinds, which grow as probes are added.
    """
    from netgauge.probes.base import PROBES
    from netgauge.probes.builtin import load_builtin_probes

    load_builtin_probes()
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), path
    return first.removeprefix("# expect: ").replace("{known}", ", ".join(PROBES.names()))


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_each_invalid_file_reports_path_and_line(path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    printed = [str(p).removeprefix(f"{path}:") for p in info.value.problems]
    assert expected(path) in printed, printed


def test_valid_file_loads_everything() -> None:
    cfg = load_config(FIXTURES / "valid-full.yaml").config
    assert [t.name for t in cfg.targets] == ["gw", "v6"]
    assert cfg.jobs[0].interval == 30.0
    assert cfg.jobs[0].window is not None and cfg.jobs[0].window.days == ["fri", "sat"]
    assert cfg.settings == {"port": 9999, "log_level": "debug"}


def test_all_problems_are_reported_at_once() -> None:
    text = (
        "targets:\n  - {name: a, address: 127.0.0.1, site: x}\n"
        "  - {name: b, address: '::1', site: y}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "f.yaml")
    assert [str(p) for p in info.value.problems] == [
        "f.yaml:2: targets[0].site: unknown site 'x'",
        "f.yaml:3: targets[1].site: unknown site 'y'",
    ]


BROKEN_EVERYWHERE = """\
settings:
  port: 99999
  admin_password: hunter2
sites:
  - {name: lab, colour: blue}
targets:
  - {name: gw, address: 127.0.0.1, site: nowhere}
  - {name: bad, address: 127.0.0.1, tags: not-a-list}
  - {name: sw, address: 127.0.0.2, site: lab, credentials: missing}
jobs:
  - {name: ping, kind: icmp, params: {count: 0}, targets: [gw, ghost]}
  - {name: web, kind: htp, targets: [sw]}
  - {name: ping, kind: tcp, params: {port: 22}, interval: soon}
"""


def test_a_file_broken_in_every_way_gets_every_problem_in_one_pass() -> None:
    # model errors (a bad field, a bad duration), then the items that did validate are still
    # checked: settings, references, job kinds and params; no reference to a broken item
    # ("lab", whose entry has an unknown key) is called unknown
    with pytest.raises(ConfigError) as info:
        load_config_text(BROKEN_EVERYWHERE, "f.yaml")
    printed = [str(p) for p in info.value.problems]
    wanted = [
        "f.yaml:5: sites[0].colour: unknown key: remove it, or check its spelling",
        "f.yaml:8: targets[1].tags: must be a list",
        "f.yaml:2: settings.port: must be at most 65535",
        "f.yaml:3: settings.admin_password: secrets never go in the file",
        "f.yaml:7: targets[0].site: unknown site 'nowhere'",
        "f.yaml:9: targets[2].credentials: unknown credentials 'missing'",
        "f.yaml:11: jobs[0].targets[1]: unknown target 'ghost'",
        "f.yaml:12: jobs[1].kind: unknown check kind 'htp'",
        "f.yaml:11: jobs[0].params.count: must be at least 1",
    ]
    for line in wanted:
        assert any(p.startswith(line) for p in printed), (line, printed)
    assert not any("unknown site 'lab'" in p for p in printed), printed
    assert any(p.startswith("f.yaml:13: jobs[2].interval") for p in printed), printed


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_empty_file_is_an_empty_config() -> None:
    assert load_config_text("", "empty.yaml").config.targets == []


@pytest.mark.parametrize(
    ("text", "seconds"), [(30, 30.0), ("30s", 30.0), ("5m", 300.0), ("250ms", 0.25), ("1h", 3600.0)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_environment_overrides_file_and_flags_override_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NETGAUGE_PORT", "9100")
    monkeypatch.setenv("NETGAUGE_LOG_LEVEL", "debug")
    s = load_settings({"port": 9000, "log_level": "error", "max_concurrency": 7}, {"port": 9200})
    assert (s.port, s.log_level, s.max_concurrency) == (9200, "debug", 7)


def test_database_password_comes_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("NETGAUGE_DATABASE_PASSWORD_FILE", str(secret))
    s = load_settings({"database_url": "postgresql+psycopg://ng@db.invalid/ng"})
    assert s.inventory_url() == "postgresql+psycopg://ng:s3cret@db.invalid/ng"
    assert "s3cret" not in repr(s)


def test_check_config_cli_exit_codes(tmp_path: Path) -> None:
    from netgauge.cli import _load_commands
    from netgauge.cli.app import app

    _load_commands()
    runner = CliRunner()
    ok = runner.invoke(app, ["check-config", str(FIXTURES / "valid-full.yaml")])
    assert ok.exit_code == 0 and "OK (1 sites, 2 targets" in ok.output
    bad_path = FIXTURES / "invalid-unknown-target.yaml"
    bad = runner.invoke(app, ["check-config", str(bad_path)])
    assert bad.exit_code == 2
    assert f"{bad_path}:{expected(bad_path)}" in bad.output


def test_example_config_in_the_repo_is_valid() -> None:
    root = Path(__file__).resolve().parents[3]
    cfg = load_config(root / "examples" / "netgauge.yaml").config
    assert cfg.jobs and cfg.targets
    assert os.environ.get("NETGAUGE_CRED_LAB_SNMP_COMMUNITY") is None  # only a reference


def test_window_days_may_be_one_word() -> None:
    from netgauge.service import window_of

    text = (
        "targets: [{name: a, address: 127.0.0.1}]\n"
        "jobs: [{name: j, kind: icmp, targets: [a], window: {days: weekdays}}]\n"
    )
    window = window_of(load_config_text(text).config.jobs[0].window)
    assert window is not None and window.days == frozenset(range(5))


def test_a_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("targets: []\n# caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: <file>: not UTF-8 text (byte 17: invalid continuation byte)"
