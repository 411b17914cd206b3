"""The SSH poller's pure parts, on captured output: the sections of the poll command, each
source's parser (/proc/stat, /proc/uptime, /proc/meminfo, /proc/net/dev, df -P, thermal
zones and hwmon), CPU and rates between polls, reboots, absent sources, and what a failed
connection means. The shell script itself runs here once, on a fake /sys/class."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import asyncssh
import pytest

from netgauge.pollers.readings import DeviceState, Metric
from netgauge.pollers.ssh import (
    POLL_COMMAND,
    CommandOutput,
    CpuJiffies,
    HostSample,
    HostTracker,
    InterfaceBytes,
    SshCredentials,
    SshEndpoint,
    connect_failure,
    cpu_percent,
    hwmon_entries,
    known_hosts_name,
    not_ours,
    parse_cpu,
    parse_df,
    parse_meminfo,
    parse_net_dev,
    parse_output,
    parse_uptime,
    split_sections,
    thermal_entries,
)

# The poll command's output in a container (Debian 12, no thermal sensors), as captured.
CONTAINER = """\
@@netgauge stat
cpu  49793 0 17177 462115 753 0 2884 27 0 0
@@netgauge uptime
2685.79 4621.15
@@netgauge meminfo
MemTotal:       24684092 kB
MemAvailable:   24148084 kB
@@netgauge thermal
@@netgauge hwmon
@@netgauge netdev
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1011901248 2309191    0    0    0     0          0         0 1011901248 2309191    0    0    0     0       0          0
  ifb0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  eth0: 164266642    4744    0    0    0     0          0         0   334712    2675    0    0    0     0       0          0
@@netgauge df
Filesystem     1024-blocks     Used Available Capacity Mounted on
/dev/vda         264212084 23229068  83161844      22% /
@@netgauge end
"""  # noqa: E501

# thermal and hwmon sections of a laptop: two ACPI zones of one type, two NVMe drives
THERMAL = (
    "thermal_zone0\tacpitz\t27800\n"
    "thermal_zone1\tINT3400 Thermal\t20000\n"
    "thermal_zone2\tx86_pkg_temp\t45000\n"
    "thermal_zone3\tacpitz\t29800\n"
    "thermal_zone4\tbroken\t\n"
)
HWMON = (
    "hwmon2\tcoretemp\ttemp1_input\tPackage id 0\t45000\n"
    "hwmon2\tcoretemp\ttemp2_input\tCore 0\t43000\n"
    "hwmon3\tnvme\ttemp1_input\tComposite\t38850\n"
    "hwmon4\tnvme\ttemp1_input\tComposite\t40850\n"
    "hwmon5\tacpitz\ttemp1_input\t\t27800\n"
    "hwmon6\tiwlwifi_1\ttemp1_input\t\t\n"
    "hwmon7\t\ttemp1_input\t\t-5000\n"
)


def test_sections_split_at_the_marker_lines() -> None:
    sections = split_sections("noise before\n@@netgauge a\n1\n2\n@@netgauge b\n@@netgauge c\n3")
    assert sections == {"a": "1\n2", "b": "", "c": "3"}


def test_the_captured_container_output() -> None:
    sample = parse_output(CONTAINER)
    assert sample is not None
    assert sample.cpu == CpuJiffies(busy=49793 + 17177 + 2884 + 27, total=532749)
    assert sample.uptime_s == 2685.79
    assert sample.memory_percent == pytest.approx(100 * (24684092 - 24148084) / 24684092)
    assert sample.disks == {"/": pytest.approx(100 * 23229068 / (23229068 + 83161844))}
    assert sample.interfaces == {
        "lo": InterfaceBytes(1011901248, 1011901248),
        "ifb0": InterfaceBytes(0, 0),
        "eth0": InterfaceBytes(164266642, 334712),
    }
    assert sample.temperatures == {}
    assert sample.problems == (
        "temperature_celsius: no readable sensor in /sys/class/thermal or /sys/class/hwmon",
    )


def test_cpu_idle_and_iowait_are_idle_and_guest_is_not_counted_twice() -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice
    jiffies = parse_cpu("cpu0 1 1 1 1\ncpu  100 10 50 800 40 0 0 0 70 0\n")
    assert jiffies == CpuJiffies(busy=160, total=1000)
    assert parse_cpu("cpu  100 10 50 800\n") == CpuJiffies(busy=160, total=960)  # old kernels
    assert parse_cpu("cpu  1 2\n") is None
    assert parse_cpu("") is None


def test_cpu_percent_is_the_busy_share_of_the_jiffies_between_two_readings() -> None:
    before = CpuJiffies(busy=1000, total=5000)
    assert cpu_percent(before, CpuJiffies(busy=1250, total=6000)) == pytest.approx(25.0)
    assert cpu_percent(before, before) is None  # no jiffy passed: no value, not 0
    assert cpu_percent(before, CpuJiffies(busy=10, total=100)) is None  # counters restarted
    # iowait going down (some kernels) must not make busy exceed the interval
    assert cpu_percent(before, CpuJiffies(busy=1200, total=5100)) == 100.0
    assert cpu_percent(before, CpuJiffies(busy=990, total=5100)) == 0.0


def test_uptime_and_meminfo() -> None:
    assert parse_uptime("350735.47 234388.90\n") == 350735.47
    assert parse_uptime("") is None and parse_uptime("soon") is None
    meminfo = "MemTotal:  1000 kB\nMemFree:  100 kB\nMemAvailable:  250 kB\n"
    assert parse_meminfo(meminfo) == pytest.approx(75.0)
    assert parse_meminfo("MemTotal:  1000 kB\nMemFree:  100 kB\n") is None  # before Linux 3.14
    assert parse_meminfo("MemTotal:  0 kB\nMemAvailable:  0 kB\n") is None


def test_net_dev_counters_by_interface() -> None:
    text = (
        "Inter-|   Receive |  Transmit\n"
        " face |bytes    packets|bytes    packets\n"
        "  eth0:123 4 0 0 0 0 0 0 456 7 0 0 0 0 0 0\n"  # old kernels: no space after ':'
        "wlp2s0: 18446744073709551615 1 0 0 0 0 0 0 9 1 0 0 0 0 0 0\n"  # 64-bit values
        "  bad: 1 2 3\n"
    )
    assert parse_net_dev(text) == {
        "eth0": InterfaceBytes(123, 456),
        "wlp2s0": InterfaceBytes(2**64 - 1, 9),
    }


def test_df_gives_used_over_used_plus_available_per_local_fixed_mount() -> None:
    text = (
        "Filesystem     1024-blocks     Used Available Capacity Mounted on\n"
        "/dev/sda1         1000       600       300      67% /\n"
        "/dev/sdb1         2000         0      2000       0% /mnt/my disk\n"
        "tmpfs              100        10        90      10% /run\n"  # BusyBox df: no -x
        "/dev/loop0           0         0         0       - /snap/core/1\n"
    )
    assert parse_df(text) == {"/": pytest.approx(200 / 3), "/mnt/my disk": 0.0}
    assert parse_df("") == {}


def test_temperatures_are_labelled_by_zone_type_and_chip_label() -> None:
    thermal, hwmon = thermal_entries(THERMAL), hwmon_entries(HWMON)
    assert ("x86_pkg_temp", "thermal_zone2", 45.0) in thermal
    assert ("coretemp temp2", "hwmon2", 43.0) not in hwmon  # temp2 has a label
    assert ("coretemp Core 0", "hwmon2", 43.0) in hwmon
    assert ("hwmon7 temp1", "hwmon7", -5.0) in hwmon  # no chip name: the hwmon directory
    sample = parse_output(f"@@netgauge thermal\n{THERMAL}@@netgauge hwmon\n{HWMON}@@netgauge end\n")
    assert sample is not None
    assert sample.temperatures == {
        "acpitz (thermal_zone0)": 27.8,
        "INT3400 Thermal": 20.0,
        "x86_pkg_temp": 45.0,
        "acpitz (thermal_zone3)": 29.8,
        "coretemp Package id 0": 45.0,
        "coretemp Core 0": 43.0,
        "nvme Composite (hwmon3)": 38.85,
        "nvme Composite (hwmon4)": 40.85,
        "acpitz temp1": 27.8,
        "hwmon7 temp1": -5.0,
    }  # the unreadable zone and wifi sensor are left out, not 0


def test_missing_sections_leave_their_metrics_absent_with_a_reason() -> None:
    sample = parse_output("@@netgauge stat\n@@netgauge meminfo\nMemTotal: 10 kB\n")
    assert sample is not None
    assert sample == HostSample(problems=sample.problems)  # nothing at all was read
    assert sample.problems == (
        "the poll command's output ended early (no end marker)",
        "cpu_percent: no cpu line in /proc/stat",
        "uptime_seconds: /proc/uptime not readable",
        "memory_percent: no MemTotal and MemAvailable in /proc/meminfo",
        "disk_percent: df lists no local fixed file system",
        "temperature_celsius: no readable sensor in /sys/class/thermal or /sys/class/hwmon",
        "net_*_bytes_per_sec: no interface in /proc/net/dev",
    )


def test_output_without_any_marker_is_not_ours() -> None:
    assert parse_output("% Invalid input detected at '^' marker.\n") is None
    output = CommandOutput("", "fish: Unknown command: sh\n", 127)
    assert not_ours(SshEndpoint("192.0.2.1"), output) == (
        "192.0.2.1:22 did not run the poll command in a POSIX shell (exit status 127): "
        "fish: Unknown command: sh"
    )


def test_the_script_reads_thermal_zones_and_hwmon_from_sysfs(tmp_path: Path) -> None:
    """The shell part, run by this machine's sh on a fake /sys/class."""
    zone = tmp_path / "thermal" / "thermal_zone0"
    silent = tmp_path / "thermal" / "thermal_zone1"  # no temp file: skipped
    chip = tmp_path / "hwmon" / "hwmon0"
    for directory in (zone, silent, chip):
        directory.mkdir(parents=True)
    (zone / "type").write_text("x86_pkg_temp\n")
    (zone / "temp").write_text("51000\n")
    (silent / "type").write_text("acpitz\n")
    (chip / "name").write_text("coretemp\n")
    (chip / "temp1_input").write_text("48000\n")
    (chip / "temp1_label").write_text("Package id 0\n")
    (chip / "temp2_input").write_text("47000\n")
    command = POLL_COMMAND.replace("/sys/class/", f"{tmp_path}/")
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    sample = parse_output(done.stdout)
    assert sample is not None
    assert sample.temperatures == {
        "x86_pkg_temp": 51.0,
        "coretemp Package id 0": 48.0,
        "coretemp temp2": 47.0,
    }
    assert sample.uptime_s is not None and sample.interfaces  # this machine's /proc


# -- between polls ---------------------------------------------------------------------------

S = 1_000_000_000


def sample(uptime: float, busy: int, total: int, rx: int, tx: int) -> HostSample:
    return HostSample(
        cpu=CpuJiffies(busy, total),
        uptime_s=uptime,
        memory_percent=50.0,
        interfaces={"eth0": InterfaceBytes(rx, tx)},
    )


def series(metrics: list[Metric]) -> dict[str, float]:
    return {m.series(): m.value for m in metrics}


def test_first_poll_has_no_cpu_or_rates_the_second_has_both() -> None:
    tracker = HostTracker()
    metrics, errors = tracker.metrics("r1", sample(100.0, 0, 1000, 0, 0), 10 * S)
    assert series(metrics) == {"uptime_seconds": 100.0, "memory_percent": 50.0}
    assert errors == [
        "cpu_percent: first /proc/stat reading; the value comes next poll",
        "net_*_bytes_per_sec: first counter reading; rates come next poll",
    ]
    metrics, errors = tracker.metrics("r1", sample(102.0, 100, 1400, 4000, 1000), 12 * S)
    assert errors == []
    assert series(metrics) == {
        "uptime_seconds": 102.0,
        "cpu_percent": 25.0,
        "memory_percent": 50.0,
        'net_in_bytes_per_sec{interface="eth0"}': 2000.0,
        'net_out_bytes_per_sec{interface="eth0"}': 500.0,
    }


def test_a_reboot_starts_cpu_and_rates_again() -> None:
    tracker = HostTracker()
    tracker.metrics("r1", sample(1000.0, 500, 9000, 10**9, 10**9), 10 * S)
    metrics, errors = tracker.metrics("r1", sample(5.0, 10, 200, 100, 100), 12 * S)
    assert "device restarted (uptime went down): rates start again" in errors
    assert "cpu_percent: first /proc/stat reading; the value comes next poll" in errors
    assert set(series(metrics)) == {"uptime_seconds", "memory_percent"}  # nothing negative
    metrics, _ = tracker.metrics("r1", sample(7.0, 60, 400, 300, 100), 14 * S)
    assert series(metrics)['net_in_bytes_per_sec{interface="eth0"}'] == 100.0


def test_other_devices_keep_their_own_baselines() -> None:
    tracker = HostTracker()
    tracker.metrics("a", sample(10.0, 0, 100, 0, 0), 1 * S)
    metrics, _ = tracker.metrics("b", sample(10.0, 50, 200, 10, 10), 2 * S)
    assert "cpu_percent" not in series(metrics)
    tracker.forget("a")
    metrics, _ = tracker.metrics("a", sample(11.0, 10, 200, 10, 10), 3 * S)
    assert "cpu_percent" not in series(metrics)


# -- credentials, names and failures ---------------------------------------------------------


def test_credentials_need_a_key_or_a_password_and_never_show_it() -> None:
    with pytest.raises(ValueError):
        SshCredentials("root")
    credentials = SshCredentials("admin", Path("/k"), password="s3cret-Pa55")
    assert "s3cret-Pa55" not in repr(credentials)
    assert credentials.methods() == "key /k or password"
    assert str(SshEndpoint("2001:db8::1", 2222)) == "[2001:db8::1]:2222"
    assert known_hosts_name("10.0.0.1", 22) == "10.0.0.1"
    assert known_hosts_name("10.0.0.1", 2222) == "[10.0.0.1]:2222"


ENDPOINT = SshEndpoint("192.0.2.7", 2222)
USER = SshCredentials("admin", password="s3cret-Pa55")


@pytest.mark.parametrize(
    ("exc", "state", "start"),
    [
        (ConnectionRefusedError(111, "Connection refused"), DeviceState.OFFLINE, "192.0.2.7:2222"),
        (TimeoutError(), DeviceState.OFFLINE, "no SSH answer from 192.0.2.7:2222 within 5 s"),
        (OSError(113, "No route to host"), DeviceState.OFFLINE, "cannot reach 192.0.2.7:2222"),
        (socket.gaierror(-2, "Name or service not known"), DeviceState.OFFLINE, "cannot resolve"),
        (
            asyncssh.PermissionDenied("Permission denied"),
            DeviceState.DEGRADED,
            "authentication failed: 192.0.2.7:2222 refused user 'admin' with password",
        ),
        (asyncssh.KeyExchangeFailed("no matching host key"), DeviceState.DEGRADED, "SSH hand"),
    ],
)
def test_what_a_failed_connection_means(exc: BaseException, state: DeviceState, start: str) -> None:
    failure = connect_failure(ENDPOINT, USER, exc, 5.0)
    assert failure.state is state
    assert failure.message.startswith(start), failure.message
    assert "s3cret-Pa55" not in failure.message


def test_a_refused_host_key_says_why() -> None:
    exc = asyncssh.HostKeyNotVerifiable("Host key is not trusted")
    why = "host key CHANGED for [192.0.2.7]:2222: ..."
    assert connect_failure(ENDPOINT, USER, exc, 5.0, why).message == why
    assert connect_failure(ENDPOINT, USER, exc, 5.0).state is DeviceState.DEGRADED
