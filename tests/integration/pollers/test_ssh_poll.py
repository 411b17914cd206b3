"""The SSH poller against a real OpenSSH sshd on loopback (same machine): what netgauge
reports agrees with /proc, /sys and df read here in the test; one connection serves every
poll and is closed when idle; host keys: a changed one is refused, an unknown one only added
when asked; a key the server does not authorize is an authentication failure (degraded), not
offline; password login as a throwaway user; the CLI's JSON and exit codes.

Traffic goes only to the sshd of the ``sshd`` fixture on 127.0.0.1 (or to a closed port
there).
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import asyncssh
import pytest

from netgauge.pollers.readings import DeviceReading, DeviceState
from netgauge.pollers.ssh import SshCredentials, SshEndpoint, SshPoller
from tests.lab.daemon import free_tcp_port
from tests.lab.host import local_memory_percent, local_uptime
from tests.lab.sshd import Sshd, keygen, missing_throwaway_user, throwaway_user

NO_HOME = "/nonexistent-netgauge-test-home"
DF = ["df", "-P", "-k", "-l", "-x", "tmpfs", "-x", "devtmpfs", "-x", "overlay", "-x", "squashfs"]


def endpoint(sshd: Sshd) -> SshEndpoint:
    return SshEndpoint(sshd.address, sshd.port)


def root(sshd: Sshd) -> SshCredentials:
    return SshCredentials("root", sshd.client_key)


def poller(
    known_hosts: Path, *, accept_new_host_keys: bool = False, idle_timeout: float = 300.0
) -> SshPoller:
    return SshPoller(
        known_hosts=known_hosts,
        accept_new_host_keys=accept_new_host_keys,
        connect_timeout=5.0,
        command_timeout=10.0,
        idle_timeout=idle_timeout,
    )


async def poll_once(sshd: Sshd, credentials: SshCredentials | None = None) -> DeviceReading:
    async with poller(sshd.known_hosts) as ssh:
        return await ssh.poll("lab", endpoint(sshd), credentials or root(sshd))


def values(reading: DeviceReading) -> dict[str, float]:
    return {metric.series(): metric.value for metric in reading.metrics}


async def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    """Let the event loop run until ``condition()``; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        await asyncio.sleep(0.02)


# -- what this machine says, read directly -------------------------------------------------


def local_cpu_jiffies() -> int:
    words = Path("/proc/stat").read_text().splitlines()[0].split()
    return sum(int(word) for word in words[1:9])


ARPHRD_LOOPBACK = 772  # linux/if_arp.h


def local_interfaces() -> set[str]:
    """/proc/net/dev's interfaces but loopbacks (their /sys/class/net type is
    ARPHRD_LOOPBACK): those a job watches by default."""
    lines = Path("/proc/net/dev").read_text().splitlines()[2:]
    names = {line.split(":")[0].strip() for line in lines if ":" in line}
    return {name for name in names if local_arphrd(name) != ARPHRD_LOOPBACK}


def local_arphrd(name: str) -> int | None:
    try:
        return int(Path(f"/sys/class/net/{name}/type").read_text())
    except (OSError, ValueError):
        return None


def local_disks() -> dict[str, tuple[float, int]]:
    """mount -> (used %, df's own rounded-up Capacity %) from df run here."""
    done = subprocess.run(DF, capture_output=True, text=True, timeout=30, check=False)
    disks = {}
    for line in done.stdout.splitlines()[1:]:
        _, size, used, available, capacity, mount = line.split(None, 5)
        if int(size) > 0:
            percent = 100.0 * int(used) / (int(used) + int(available))
            disks[mount] = (percent, int(capacity.rstrip("%")))
    return disks


def local_sensor_count() -> int:
    paths = glob.glob("/sys/class/thermal/thermal_zone*/temp")
    paths += glob.glob("/sys/class/hwmon/hwmon*/temp*_input")
    count = 0
    for path in paths:
        try:
            count += Path(path).read_text().strip().lstrip("-").isdigit()
        except OSError:
            pass
    return count


# -- polls ---------------------------------------------------------------------------------


async def test_a_poll_agrees_with_proc_and_df_read_here(sshd: Sshd) -> None:
    async with poller(sshd.known_hosts) as ssh:
        first = await ssh.poll("lab", endpoint(sshd), root(sshd))
        assert first.state is DeviceState.ONLINE, first.errors
        assert any(e.startswith("cpu_percent: first /proc/stat reading") for e in first.errors)
        assert not any(m.name.startswith("net_") for m in first.metrics)  # rates need two
        jiffies = local_cpu_jiffies()
        await wait_until(lambda: local_cpu_jiffies() > jiffies + 5, "/proc/stat to advance")
        uptime_before, memory = local_uptime(), local_memory_percent()
        disks = local_disks()
        second = await ssh.poll("lab", endpoint(sshd), root(sshd))
        uptime_after = local_uptime()
    assert second.state is DeviceState.ONLINE, second.errors
    got = values(second)
    assert uptime_before - 2.0 <= got["uptime_seconds"] <= uptime_after + 2.0
    assert got["memory_percent"] == pytest.approx(memory, abs=2.0)
    assert 0.0 <= got["cpu_percent"] <= 100.0
    assert disks, "df lists at least one local fixed file system here"
    polled_mounts = {m.labels["mount"] for m in second.metrics if m.name == "disk_percent"}
    assert polled_mounts == set(disks)
    for mount, (percent, capacity) in disks.items():
        value = got[f'disk_percent{{mount="{mount}"}}']
        assert value == pytest.approx(percent, abs=0.5)
        assert capacity - 1 < value <= capacity  # df's Capacity column is rounded up
    for name in ("net_in_bytes_per_sec", "net_out_bytes_per_sec"):
        polled = {m.labels["interface"] for m in second.metrics if m.name == name}
        assert polled == local_interfaces(), name
    temperatures = [m for m in second.metrics if m.name == "temperature_celsius"]
    if local_sensor_count() == 0:  # a container: absent with a reason, never 0
        assert temperatures == []
        assert any(e.startswith("temperature_celsius: no readable sensor") for e in second.errors)
    else:
        assert temperatures


async def test_one_connection_serves_every_poll_and_is_closed_when_idle(sshd: Sshd) -> None:
    logins = sshd.accepted_logins()
    ssh = poller(sshd.known_hosts, idle_timeout=0.5)
    try:
        for _ in range(3):
            reading = await ssh.poll("lab", endpoint(sshd), root(sshd))
            assert reading.state is DeviceState.ONLINE, reading.errors
        assert sshd.accepted_logins() == logins + 1  # three polls, one login
        assert ssh.open_connections == 1
        await wait_until(lambda: ssh.open_connections == 0, "the idle connection to close")
        reading = await ssh.poll("lab", endpoint(sshd), root(sshd))
        assert reading.state is DeviceState.ONLINE, reading.errors
        assert sshd.accepted_logins() == logins + 2  # a new one after the idle close
    finally:
        await ssh.close()
    assert ssh.open_connections == 0


async def test_a_connection_the_server_dropped_is_replaced_within_the_poll(sshd: Sshd) -> None:
    logins = sshd.accepted_logins()
    async with poller(sshd.known_hosts) as ssh:
        first = await ssh.poll("lab", endpoint(sshd), root(sshd))
        sshd.drop_connections()  # as a reboot of the device would
        second = await ssh.poll("lab", endpoint(sshd), root(sshd))
        assert ssh.open_connections == 1
    assert first.state is DeviceState.ONLINE and second.state is DeviceState.ONLINE, second
    assert sshd.accepted_logins() == logins + 2


async def test_a_command_that_does_not_finish_in_time_is_degraded_and_not_kept(
    sshd: Sshd,
) -> None:
    ssh = SshPoller(known_hosts=sshd.known_hosts, connect_timeout=5.0, command_timeout=1e-4)
    async with ssh:
        reading = await ssh.poll("lab", endpoint(sshd), root(sshd))
        assert ssh.open_connections == 0
    assert reading.state is DeviceState.DEGRADED and reading.metrics == ()
    assert reading.errors == ("the poll command did not finish within 0.0001 s",)


async def test_a_changed_host_key_is_refused_even_when_accepting_new_keys(
    sshd: Sshd, tmp_path: Path
) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    known = sshd.write_known_hosts(" ".join(other.split()[:2]), tmp_path / "known_hosts")
    listed, logins = known.read_text(), sshd.accepted_logins()
    for accept_new in (False, True):
        async with poller(known, accept_new_host_keys=accept_new) as ssh:
            reading = await ssh.poll("lab", endpoint(sshd), root(sshd))
        assert reading.state is DeviceState.DEGRADED and reading.metrics == ()
        (error,) = reading.errors
        assert error.startswith(f"host key CHANGED for {sshd.known_hosts_name}: "), error
        assert str(known) in error and "refused" in error
    assert known.read_text() == listed  # neither replaced nor added to
    assert sshd.accepted_logins() == logins  # refused before logging in


async def test_an_unknown_host_key_is_added_only_when_new_keys_are_accepted(
    sshd: Sshd, tmp_path: Path
) -> None:
    known = tmp_path / "dot-ssh" / "known_hosts"  # neither the file nor its directory exist
    async with poller(known) as ssh:
        refused = await ssh.poll("lab", endpoint(sshd), root(sshd))
    assert refused.state is DeviceState.DEGRADED and refused.metrics == ()
    assert refused.errors[0].startswith(f"host key of {sshd.known_hosts_name} is unknown: ")
    assert not known.exists()

    async with poller(known, accept_new_host_keys=True) as ssh:
        accepted = await ssh.poll("lab", endpoint(sshd), root(sshd))
    assert accepted.state is DeviceState.ONLINE, accepted.errors
    assert known.read_text() == f"{sshd.known_hosts_name} {sshd.host_public_key}\n"

    async with poller(known) as ssh:  # from now on known_hosts alone trusts it
        again = await ssh.poll("lab", endpoint(sshd), root(sshd))
    assert again.state is DeviceState.ONLINE, again.errors


async def test_a_key_the_server_does_not_authorize_is_an_authentication_failure(
    sshd: Sshd, tmp_path: Path
) -> None:
    keygen(tmp_path / "stranger", "not-authorized")
    reading = await poll_once(sshd, SshCredentials("root", tmp_path / "stranger"))
    assert reading.state is DeviceState.DEGRADED  # the device is up: not offline
    assert reading.metrics == ()
    (error,) = reading.errors
    assert error.startswith(f"authentication failed: {endpoint(sshd)} refused user 'root'")


async def test_a_port_without_an_ssh_server_is_offline(tmp_path: Path) -> None:
    closed = SshEndpoint("127.0.0.1", free_tcp_port())
    started = time.monotonic()
    async with poller(tmp_path / "known_hosts") as ssh:
        reading = await ssh.poll("gone", closed, SshCredentials("root", password="unused"))
    assert reading.state is DeviceState.OFFLINE and reading.metrics == ()
    assert "refused the connection" in reading.errors[0]
    assert time.monotonic() - started < 5.0


async def test_password_login_as_a_throwaway_user(sshd: Sshd) -> None:
    reason = missing_throwaway_user()
    if reason:
        pytest.skip(reason)
    with throwaway_user() as (name, password):
        async with poller(sshd.known_hosts) as ssh:
            ok = await ssh.poll("lab", endpoint(sshd), SshCredentials(name, password=password))
            wrong = await ssh.poll(
                "lab", endpoint(sshd), SshCredentials(name, password=password[::-1] + "x")
            )
        cli = run_cli(
            sshd.target, "--user", name, "--known-hosts", str(sshd.known_hosts), "--json",
            "--rate-interval", "0", env={"NETGAUGE_SSH_PASSWORD": password},
        )  # fmt: skip
    assert ok.state is DeviceState.ONLINE, ok.errors
    assert "memory_percent" in values(ok)
    assert wrong.state is DeviceState.DEGRADED
    assert wrong.errors[0].startswith("authentication failed:")
    assert "with password" in wrong.errors[0]
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["status"] == "online"
    for text in (repr(ok), repr(wrong), cli.stdout, cli.stderr):
        assert password not in text  # the secret is never shown


# -- the CLI -------------------------------------------------------------------------------


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``netgauge poll ssh ...`` with no NETGAUGE_SSH_* but ``env``; HOME is a directory that
    does not exist, so this host's ~/.ssh is never read or written."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NETGAUGE_SSH")}
    clean.update(HOME=NO_HOME, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "netgauge", "poll", "ssh", *args],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
    )


def test_the_cli_prints_json_and_exits_0(sshd: Sshd) -> None:
    done = run_cli(
        sshd.target, "--user", "root", "--key-file", str(sshd.client_key),
        "--known-hosts", str(sshd.known_hosts), "--json", "--rate-interval", "0.2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert row["status"] == "online" and row["device"] == sshd.target
    names = {metric["name"] for metric in row["metrics"]}
    assert {"uptime_seconds", "memory_percent", "cpu_percent", "net_in_bytes_per_sec"} <= names


def test_the_cli_exits_1_when_the_host_key_is_unknown(sshd: Sshd, tmp_path: Path) -> None:
    done = run_cli(
        sshd.target, "--user", "root", "--key-file", str(sshd.client_key),
        "--known-hosts", str(tmp_path / "known_hosts"),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert f"{sshd.target}: degraded" in done.stdout and "is unknown" in done.stdout


def test_the_cli_exits_2_with_one_line_on_bad_input(tmp_path: Path) -> None:
    neither = run_cli("127.0.0.1:1", "--user", "root")
    assert neither.returncode == 2 and neither.stdout == ""
    assert neither.stderr.count("\n") == 1 and "NETGAUGE_SSH_PASSWORD" in neither.stderr
    assert "--key-file" in neither.stderr

    no_user = run_cli("127.0.0.1:1", env={"NETGAUGE_SSH_PASSWORD": "x"})
    assert no_user.returncode == 2 and no_user.stderr.count("\n") == 1, no_user.stderr

    bad_port = run_cli("127.0.0.1:70000", "--user", "root", env={"NETGAUGE_SSH_PASSWORD": "x"})
    assert bad_port.returncode == 2 and "invalid port" in bad_port.stderr

    missing_key = run_cli("127.0.0.1:1", "--user", "root", "--key-file", str(tmp_path / "no"))
    assert missing_key.returncode == 2 and missing_key.stderr.count("\n") == 1
    assert "cannot read key file" in missing_key.stderr
