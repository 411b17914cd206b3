"""The upgrade path: a collector and a central of adjacent versions work together, in both
orders of upgrade (central first, or collectors first).

The previous version is this repository's own history: ``PREVIOUS`` is the last commit
before the collector protocol last changed (the sync answer gained the sites' calendars),
its ``src`` taken with ``git archive`` and run as a real process beside this one. When the
protocol changes again, ``PREVIOUS`` moves to the commit before that change.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NetgaugeServe, wait_for
from tests.integration.collectors.test_collectors_e2e import (
    Collectors,
    listing,
    series_of,
    stamps,
)

PREVIOUS = "17a85dab905ecd82e997a4d0c6e439cc7588e237"  # main before the calendars (protocol 1)
ROOT = Path(__file__).resolve().parents[3]
POLL_S = 0.5
CONFIG = """
schedules:
  - {name: office, open: [{days: daily, start: "00:00", end: "00:00"}]}
sites:
  - {name: east, schedule: office}
targets:
  - {name: e1, address: 127.0.0.1, site: east}
  - {name: e2, address: 127.0.0.1, site: east}
jobs:
  - {name: reach, kind: tcp, params: {port: PORT}, targets: [e1, e2], interval: 2s,
     run_when: open}
"""


@pytest.fixture(scope="module")
def previous_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous version's ``src`` (skips when this checkout lacks the history)."""
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", PREVIOUS, "src"],
            capture_output=True, check=True, timeout=60,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"git history with commit {PREVIOUS[:10]} is needed (a full clone): {exc}")
    into = tmp_path_factory.mktemp("previous")
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    src = into / "src"
    found = subprocess.run(
        [sys.executable, "-c", "import netgauge; print(netgauge.__file__)"],
        env={**os.environ, "PYTHONPATH": str(src)}, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert found.startswith(str(src)), f"the previous version is not what runs: {found}"
    return src


class OlderCollectors(Collectors):
    """Collector processes of the previous version."""

    def __init__(self, central: NetgaugeServe, tmp: Path, src: Path) -> None:
        super().__init__(central, tmp)
        self.src = src

    def start(self, name: str, token: str) -> subprocess.Popen[bytes]:
        before = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = str(self.src)  # Collectors.start passes os.environ on
        try:
            return super().start(name, token)
        finally:
            if before is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = before


def central_of(tmp_path: Path, port: int, src: Path | None) -> NetgaugeServe:
    config = tmp_path / "central.yaml"
    config.write_text(CONFIG.replace("PORT", str(port)))
    env: dict[str, Any] = {"NETGAUGE_COLLECTOR_POLL_S": str(POLL_S),
                           "NETGAUGE_COLLECTOR_DEAD_AFTER_S": "2"}  # fmt: skip
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return NetgaugeServe(tmp_path / "data", config, env=env, log=tmp_path / "central.log")


def answer_has_calendars(central: NetgaugeServe, collectors: Collectors) -> bool:
    """Whether this central's sync answer carries calendars: which version answers."""
    token = collectors.register("look", "east")
    r = central.http.post("/api/v1/collector/sync", json={"version": "t"},
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert central.http.delete("/api/v1/collectors/look").status_code == 204
    return "calendars" in r.json()


def both_checked_by(central: NetgaugeServe, collector: str) -> None:
    wait_for(lambda: listing(central).get(collector, {}).get("targets") == 2, timeout=30,
             what=f"{collector} running e1 and e2")  # fmt: skip
    metric = f'tcp.connect_ms{{vantage="{collector}"}}'
    wait_for(lambda: all(len(stamps(central, t, metric)) >= 2 for t in ("e1", "e2")),
             timeout=30, what=f"two results of each target from {collector}")  # fmt: skip
    for target in ("e1", "e2"):
        assert {m for m in series_of(central, target) if "vantage" in m} >= {metric}


@pytest.fixture
def accepting_port() -> Iterator[int]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(256)
        yield int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "upgraded",
    [
        # the central first: its answers carry calendars the collector does not know
        "central",
        # the collectors first: the answers have no calendars (it runs around the clock, as
        # the previous version did)
        "collectors",
    ],
)
def test_a_collector_and_a_central_one_version_apart_work_together(
    tmp_path: Path, previous_src: Path, accepting_port: int, upgraded: str
) -> None:
    central_first = upgraded == "central"
    central = central_of(tmp_path, accepting_port, None if central_first else previous_src)
    central.start()
    collectors = (
        OlderCollectors(central, tmp_path, previous_src)
        if central_first
        else Collectors(central, tmp_path)
    )
    try:
        assert answer_has_calendars(central, collectors) is central_first  # which answers
        collectors.start("c1", collectors.register("c1", "east"))
        both_checked_by(central, "c1")
        assert collectors.procs["c1"].poll() is None, (tmp_path / "c1.log").read_text()
    finally:
        collectors.stop_all()
        central.stop()
