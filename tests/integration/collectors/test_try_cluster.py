"""README "Scaling out", as written: ``scripts/try-cluster --check`` brings up PostgreSQL,
VictoriaMetrics, two ``serve`` peers behind HAProxy and two collectors in each of three
network namespaces (the sites), checks that every target is measured by its site's
collectors, kills the leading peer with SIGKILL, checks that the other leads and every
target is measured again, and takes it all down: no namespace, link or process left."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXIT_MISSING = 77


def leftovers() -> list[str]:
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    found = [line.split()[0] for line in namespaces.splitlines() if line.startswith("ngc-")]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += [line.split()[1] for line in links.splitlines() if line.split()[1].startswith("ngc")]
    procs = subprocess.run(
        ["pgrep", "-f", "scripts/try_cluster.py"], capture_output=True, text=True
    )
    return found + procs.stdout.split()


def test_the_readmes_cluster_comes_up_survives_its_leaders_death_and_goes() -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / "try-cluster"), "--check", "--sites", "3", "--hosts", "2",
         "--collectors", "2", "--interval", "3"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    out = done.stdout + done.stderr
    if done.returncode == EXIT_MISSING:
        pytest.skip(out.strip().splitlines()[-1])
    print(out)
    assert done.returncode == 0, out
    assert "try-cluster: check passed" in out
    assert out.count("online, ") == 6  # two collectors in each of three sites
    assert "leads after" in out and "measured again" in out
    assert leftovers() == []
