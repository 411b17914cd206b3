"""SSH device poller: CPU, memory, disk, temperature, interface rates and uptime of a Linux
host, read with one shell command per poll.

Why one command: every round trip costs a WAN latency and every ``exec`` a fork on a small
device. :data:`POLL_COMMAND` runs one POSIX ``sh`` script that prints each source after a
marker line (``@@netgauge <section>``); pure functions parse the text
(:func:`parse_output`), so the parsing is tested on captured output without any SSH.

=========================  =================================================================
metric                     source and computation
=========================  =================================================================
``cpu_percent``            /proc/stat ``cpu`` line, between two polls: busy jiffies / all
                           (idle and iowait are idle). The first poll has no value yet.
``memory_percent``         /proc/meminfo: (MemTotal - MemAvailable) / MemTotal
``disk_percent``           ``df -P -k -l`` without tmpfs, devtmpfs, overlay, squashfs:
                           used / (used + available), the Capacity column of df (blocks
                           reserved for root count as unavailable: 100 % is a disk ordinary
                           users can no longer write to)
``temperature_celsius``    /sys/class/thermal zones (label: the zone type) and hwmon
                           ``temp*_input`` (label: chip name and the input's label, else
                           ``tempN``); millidegrees / 1000
``net_*_bytes_per_sec``    /proc/net/dev byte counters, 64-bit, through ``RateTracker``;
                           an interface's type is its ``/sys/class/net/<if>/type`` (ARPHRD)
                           as an SNMP agent would name it (``selection.ARPHRD_TO_IANA``)
``uptime_seconds``         /proc/uptime; going down means a reboot: rate and CPU baselines
                           start again
=========================  =================================================================

The disk share is df's on purpose (``df`` is what users check the alert against); SNMP's
hrStorage gives used / size, lower by the reserved blocks (5 % of an ext4 file system).

The job's ``interfaces`` and ``disks`` (:mod:`selection`) choose among what the host lists:
interfaces by name and type (loopbacks left out by default), disks by mount point and the
file system type of ``/proc/mounts``, after ``mounts`` or the default rule.

A source the host lacks (no thermal sensor in a container, no MemAvailable before Linux
3.14) leaves its metric *absent*, with a line in ``errors`` saying so, never 0.

States. OFFLINE: nothing answered (connection refused, unreachable, name not resolved, no
SSH handshake within the connect timeout). DEGRADED with no metrics: an SSH server answered
but could not be read: **authentication refused** (``authentication failed: ...``), host
key refused (``host key CHANGED ...`` / ``host key ... is unknown``), a failed handshake, the
command not finishing within the command timeout, or output that is not ours (the login
shell is no POSIX shell). An authentication failure is not OFFLINE on purpose: the device is
up and its credentials or authorized_keys are wrong, which is a different alert and a
different fix. ONLINE otherwise, absent sources listed in ``errors``.

Host keys are always checked, against a known_hosts file (default ``~/.ssh/known_hosts``,
hashed entries, markers and ``[host]:port`` entries as OpenSSH writes them). A host that
file does not list is refused unless the poller accepts new keys (``accept_new_host_keys``,
OpenSSH's ``StrictHostKeyChecking accept-new``): then its key is appended to that file and
trusted from then on. A host the file lists with another key is **always** refused: the key
changed, which is what a man in the middle looks like.

Connections are kept per (host, port, credentials) between polls and reused (other
credentials for the same host get a connection of their own); one left without a poll for
``idle_timeout`` seconds is closed, and :meth:`SshPoller.close` closes them all. A reused
connection that fails (the device rebooted, or dropped it) is closed and the poll
tries once more on a new one. Every wait is bounded: connecting (TCP, handshake and
authentication) by ``connect_timeout``, the command (opening its channel included) by
``command_timeout``.

Secrets: the password is handed to asyncssh only; it is in no error line, repr or log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shlex
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from netgauge.errors import NetgaugeError
from netgauge.pollers import filesystems
from netgauge.pollers.rates import CounterReading, RateTracker
from netgauge.pollers.readings import (
    CPU_PERCENT,
    DISK_PERCENT,
    MEMORY_PERCENT,
    NET_IN_BYTES_PER_SEC,
    NET_OUT_BYTES_PER_SEC,
    TEMPERATURE_CELSIUS,
    UPTIME_SECONDS,
    DeviceReading,
    DeviceState,
    Metric,
)
from netgauge.pollers.selection import ARPHRD_TO_IANA, DiskSelection, InterfaceSelection
from netgauge.pollers.validation import Rejections

KIND = "ssh"
DEFAULT_PORT = 22
DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
MARKER = "@@netgauge "
SECTIONS = (
    "stat",
    "uptime",
    "meminfo",
    "thermal",
    "hwmon",
    "netdev",
    "iftype",
    "df",
    "mounts",
    "end",
)

_log = logging.getLogger(__name__)

# One command line per line (the login shell may be bash, dash, ash or zsh: all take a
# multi-line ``sh -c`` argument). Unreadable sysfs files print nothing (2>/dev/null): a
# sensor that cannot be read is skipped, not 0. df: local file systems without the pseudo
# ones; BusyBox's df has no -l/-x, so it is run plainly when the first prints nothing (and
# parse_df drops pseudo file systems by name).
_SCRIPT = r"""LC_ALL=C
export LC_ALL
echo @@netgauge stat
grep '^cpu ' /proc/stat
echo @@netgauge uptime
cat /proc/uptime
echo @@netgauge meminfo
grep -E '^(MemTotal|MemAvailable):' /proc/meminfo
echo @@netgauge thermal
for z in /sys/class/thermal/thermal_zone*; do
  [ -r "$z/temp" ] || continue
  printf '%s\t%s\t%s\n' "${z##*/}" "$(cat "$z/type")" "$(cat "$z/temp")"
done 2>/dev/null
echo @@netgauge hwmon
for t in /sys/class/hwmon/hwmon*/temp*_input; do
  [ -r "$t" ] || continue
  h="${t%/*}"
  printf '%s\t%s\t%s\t%s\t%s\n' "${h##*/}" "$(cat "$h/name")" "${t##*/}" \
    "$(cat "${t%_input}_label")" "$(cat "$t")"
done 2>/dev/null
echo @@netgauge netdev
cat /proc/net/dev
echo @@netgauge iftype
for i in /sys/class/net/*; do
  [ -r "$i/type" ] && printf '%s\t%s\n' "${i##*/}" "$(cat "$i/type")"
done 2>/dev/null
echo @@netgauge df
d="$(df -P -k -l -x tmpfs -x devtmpfs -x overlay -x squashfs 2>/dev/null)"
[ -n "$d" ] || d="$(df -P -k 2>/dev/null)"
printf '%s\n' "$d"
echo @@netgauge mounts
cat /proc/mounts 2>/dev/null
echo @@netgauge end
"""
POLL_COMMAND = "sh -c " + shlex.quote(_SCRIPT)
"""The one command a poll runs: every source, each after its marker line."""


class SshSetupError(NetgaugeError):
    """A local SSH setting cannot be used: an unreadable or encrypted key file, a broken
    known_hosts file. (Failures of the *device* are readings, never exceptions.)"""


# -- what is polled, as whom -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SshEndpoint:
    """Where an SSH server listens: an IP address or host name, and a TCP port; ``address``,
    when given, is the IP to dial (already resolved and checked), while known_hosts still
    names the host by ``host``."""

    host: str
    port: int = DEFAULT_PORT
    address: str | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class SshCredentials:
    """Who logs in: a user with a private key file, a password, or both (key tried first).

    The password is never shown (``repr=False``) and never in an error line.
    """

    username: str
    key_file: Path | None = None
    password: str | None = field(default=None, repr=False)
    key_text: str | None = field(default=None, repr=False)  # a key stored in netgauge

    def __post_init__(self) -> None:
        if self.key_file is None and self.password is None and self.key_text is None:
            raise ValueError("SSH credentials need a key file, a stored key or a password")

    def methods(self) -> str:
        """How this user authenticates, for error lines: ``key /k``, ``password``."""
        ways = [f"key {self.key_file}"] if self.key_file is not None else []
        ways += ["stored key"] if self.key_text is not None else []
        return " or ".join([*ways, *(["password"] if self.password is not None else [])])


def import_client_key(text: str) -> asyncssh.SSHKey:
    """A private key stored in netgauge (OpenSSH or PEM, unencrypted)."""
    try:
        return asyncssh.import_private_key(text)
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise SshSetupError(f"the stored key cannot be used: {exc}") from exc


def load_client_key(path: Path) -> asyncssh.SSHKey:
    """The private key in ``path`` (OpenSSH or PEM, unencrypted); SshSetupError if unusable."""
    try:
        return asyncssh.read_private_key(str(path))
    except OSError as exc:
        raise SshSetupError(f"cannot read key file {path}: {exc.strerror or exc}") from exc
    except asyncssh.KeyImportError as exc:
        raise SshSetupError(f"key file {path} cannot be used: {exc}") from exc


def load_known_hosts(path: Path) -> asyncssh.SSHKnownHosts:
    """The entries of a known_hosts file (none while it does not exist); SshSetupError when
    it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise SshSetupError(f"cannot read known_hosts {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SshSetupError(f"known_hosts {path} is not UTF-8 text") from exc
    try:
        return asyncssh.import_known_hosts(text)
    except ValueError as exc:
        raise SshSetupError(f"invalid known_hosts {path}: {exc}") from exc


def known_hosts_name(host: str, port: int) -> str:
    """The host as known_hosts names it: ``host`` on port 22, else ``[host]:port``."""
    return host if port == DEFAULT_PORT else f"[{host}]:{port}"


# -- parsing the command's output (pure) -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class CpuJiffies:
    """The ``cpu`` line of /proc/stat summed up: busy and all jiffies since boot."""

    busy: int
    total: int


@dataclass(frozen=True, slots=True)
class InterfaceBytes:
    """The byte counters of one interface in /proc/net/dev."""

    received: int
    sent: int


@dataclass(frozen=True, slots=True)
class HostSample:
    """Everything one poll's output says, parsed; ``problems`` name the absent sources."""

    cpu: CpuJiffies | None = None
    uptime_s: float | None = None
    memory_percent: float | None = None
    disks: Mapping[str, float] = field(default_factory=dict)
    temperatures: Mapping[str, float] = field(default_factory=dict)
    interfaces: Mapping[str, InterfaceBytes] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def split_sections(text: str) -> dict[str, str]:
    """The text after each marker line, by section name (only sections that were marked)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith(MARKER):
            current = sections.setdefault(line[len(MARKER) :].strip(), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


def _integers(words: Iterable[str]) -> list[int] | None:
    try:
        return [int(word) for word in words]
    except ValueError:
        return None


def parse_cpu(text: str) -> CpuJiffies | None:
    """/proc/stat's ``cpu`` line: user nice system idle iowait irq softirq steal (guest and
    guest_nice are already in user and nice). Idle and iowait are idle, the rest is busy."""
    for line in text.splitlines():
        words = line.split()
        if not words or words[0] != "cpu":
            continue
        values = _integers(words[1:9])
        if values is None or len(values) < 4:
            return None
        total = sum(values)
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return CpuJiffies(total - idle, total)
    return None


def cpu_percent(before: CpuJiffies, after: CpuJiffies) -> float | None:
    """Busy share of the jiffies between two readings; None when none passed (or a reset).

    iowait may go down on some kernels, so the share is clamped to 0..100.
    """
    elapsed = after.total - before.total
    if elapsed <= 0:
        return None
    share = (after.busy - before.busy) / elapsed
    return 100.0 * min(max(share, 0.0), 1.0)


def parse_uptime(text: str) -> float | None:
    """Seconds since boot: the first number of /proc/uptime."""
    words = text.split()
    try:
        return float(words[0]) if words else None
    except ValueError:
        return None


def parse_meminfo(text: str) -> float | None:
    """Used memory %: (MemTotal - MemAvailable) / MemTotal; None when either is missing."""
    found: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        words = rest.split()
        if words and words[0].isdigit():
            found[name.strip()] = int(words[0])
    total, available = found.get("MemTotal"), found.get("MemAvailable")
    if not total or available is None:
        return None
    return 100.0 * (total - available) / total


def parse_net_dev(text: str) -> dict[str, InterfaceBytes]:
    """Received and sent bytes per interface from /proc/net/dev (``name: rx ... tx ...``;
    old kernels print no space after the colon)."""
    interfaces: dict[str, InterfaceBytes] = {}
    for line in text.splitlines():
        name, colon, rest = line.partition(":")
        if not colon or "|" in line:
            continue
        values = _integers(rest.split())
        if values is None or len(values) < 9 or not name.strip():
            continue
        interfaces[name.strip()] = InterfaceBytes(values[0], values[8])
    return interfaces


def parse_if_types(text: str) -> dict[str, str]:
    """Interface -> type from ``name<TAB>ARPHRD number`` lines (``/sys/class/net/*/type``),
    named as an SNMP agent would (``lo`` 772: ``softwareLoopback``); a number without an
    IANA name is ``arphrd<number>`` (never a bare number: that would read as an ifType)."""
    types: dict[str, str] = {}
    for line in text.splitlines():
        name, tab, number = line.partition("\t")
        if tab and number.strip().isdigit():
            arphrd = int(number)
            types[name.strip()] = ARPHRD_TO_IANA.get(arphrd, f"arphrd{arphrd}")
    return types


def parse_mounts(text: str) -> dict[str, tuple[str, bool]]:
    """mount point -> (file system type, read-only) from ``/proc/mounts`` (its octal escapes,
    such as ``\\040`` for a space, undone); the last mount of a point wins, as it hides the
    others."""
    found: dict[str, tuple[str, bool]] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) < 4:
            continue
        mount = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), words[1])
        found[mount] = (words[2], "ro" in words[3].split(","))
    return found


def parse_df(text: str) -> dict[str, float]:
    """Used % per mount point from ``df -P -k``: used / (used + available), as df's Capacity
    column (without its rounding up). Pseudo file systems and empty ones are left out."""
    disks: dict[str, float] = {}
    for line in text.splitlines():
        words = line.split(None, 5)
        # (by name too: BusyBox's df cannot leave pseudo file systems out itself)
        if len(words) < 6 or words[0] in filesystems.NOT_DISKS:
            continue
        values = _integers(words[1:4])
        if values is None:
            continue  # the header line
        size, used, available = values
        if size <= 0 or used + available <= 0:
            continue
        disks[words[5]] = 100.0 * used / (used + available)
    return disks


def _millidegrees(text: str) -> float | None:
    value = text.strip()
    if not value.lstrip("-").isdigit():
        return None
    return int(value) / 1000.0


def _unique(entries: Iterable[tuple[str, str, float]]) -> dict[str, float]:
    """{label: value} from (label, where, value): a label met twice gets ``(where)``."""
    rows = list(entries)
    seen: dict[str, int] = {}
    for label, _, _ in rows:
        seen[label] = seen.get(label, 0) + 1
    return {(label if seen[label] == 1 else f"{label} ({where})"): v for label, where, v in rows}


def thermal_entries(text: str) -> list[tuple[str, str, float]]:
    """(sensor label, zone, °C) of each readable thermal zone: ``zone<TAB>type<TAB>temp``."""
    entries = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 3:
            continue
        zone, kind, raw = parts
        celsius = _millidegrees(raw)
        if celsius is not None:
            entries.append((kind.strip() or zone, zone, celsius))
    return entries


def hwmon_entries(text: str) -> list[tuple[str, str, float]]:
    """(sensor label, chip, °C) of each readable hwmon input:
    ``hwmonN<TAB>name<TAB>tempN_input<TAB>label<TAB>temp``; the label is ``name label``,
    ``name tempN`` when the input has no label."""
    entries = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 5:
            continue
        chip, name, input_file, label, raw = parts
        celsius = _millidegrees(raw)
        if celsius is None:
            continue
        sensor = label.strip() or input_file.removesuffix("_input")
        entries.append((f"{name.strip() or chip} {sensor}", chip, celsius))
    return entries


def parse_output(
    text: str,
    selected: Sequence[str] = (),
    interfaces: InterfaceSelection | None = None,
    disks: DiskSelection | None = None,
) -> HostSample | None:
    """The whole output of :data:`POLL_COMMAND`, with the job's ``mounts`` (``selected``),
    ``interfaces`` and ``disks`` applied; None when it is not ours at all (no marker: the
    command did not run in a POSIX shell)."""
    sections = split_sections(text)
    if not sections:
        return None
    problems: list[str] = []
    if "end" not in sections:
        problems.append("the poll command's output ended early (no end marker)")
    cpu = parse_cpu(sections.get("stat", ""))
    if cpu is None:
        problems.append(f"{CPU_PERCENT}: no cpu line in /proc/stat")
    uptime = parse_uptime(sections.get("uptime", ""))
    if uptime is None:
        problems.append(f"{UPTIME_SECONDS}: /proc/uptime not readable")
    memory = parse_meminfo(sections.get("meminfo", ""))
    if memory is None:
        problems.append(f"{MEMORY_PERCENT}: no MemTotal and MemAvailable in /proc/meminfo")
    chosen = disks if disks is not None else DiskSelection()
    mounts = parse_mounts(sections.get("mounts", ""))
    used: dict[str, float] = {}
    for mount, percent in parse_df(sections.get("df", "")).items():
        fstype, read_only = mounts.get(mount, (None, False))
        if filesystems.is_disk(
            mount, fstype=fstype, read_only=read_only, selected=selected, disks=chosen
        ):
            used[mount] = percent
    if not used:
        problems.append(f"{DISK_PERCENT}: df lists no local fixed file system")
    temperatures = _unique(
        [*thermal_entries(sections.get("thermal", "")), *hwmon_entries(sections.get("hwmon", ""))]
    )
    if not temperatures:
        problems.append(
            f"{TEMPERATURE_CELSIUS}: no readable sensor in /sys/class/thermal or /sys/class/hwmon"
        )
    listed = parse_net_dev(sections.get("netdev", ""))
    types = parse_if_types(sections.get("iftype", ""))
    keep = interfaces if interfaces is not None else InterfaceSelection()
    counters = {name: c for name, c in listed.items() if keep.keeps(name, types.get(name))}
    if not listed:
        problems.append("net_*_bytes_per_sec: no interface in /proc/net/dev")
    elif not counters:
        problems.append(
            f"net_*_bytes_per_sec: the job's selection leaves out all {len(listed)} interfaces"
        )
    return HostSample(cpu, uptime, memory, used, temperatures, counters, tuple(problems))


# -- samples into metrics (what is kept between polls) ---------------------------------------


class HostTracker:
    """What is kept between polls of each device: its CPU jiffies and counter baselines;
    turns a sample into metrics and error lines."""

    def __init__(self) -> None:
        self._rates = RateTracker()
        self._cpu: dict[str, CpuJiffies] = {}

    def metrics(
        self, device: str, sample: HostSample, now_ns: int
    ) -> tuple[list[Metric], list[str]]:
        """The metrics of ``sample`` (rates against the previous one) and the problems."""
        metrics: list[Metric] = []
        errors = list(sample.problems)
        if sample.uptime_s is not None:
            if self._rates.device_restarted(device, sample.uptime_s):
                self._cpu.pop(device, None)
                errors.append("device restarted (uptime went down): rates start again")
            metrics.append(Metric(UPTIME_SECONDS, sample.uptime_s))
        self._cpu_percent(device, sample.cpu, metrics, errors)
        if sample.memory_percent is not None:
            metrics.append(Metric(MEMORY_PERCENT, sample.memory_percent))
        for mount, percent in sample.disks.items():
            metrics.append(Metric(DISK_PERCENT, percent, {"mount": mount}))
        for sensor, celsius in sample.temperatures.items():
            metrics.append(Metric(TEMPERATURE_CELSIUS, celsius, {"sensor": sensor}))
        self._interface_rates(device, sample.interfaces, now_ns, metrics, errors)
        return metrics, errors

    def forget(self, device: str) -> None:
        """Drop the baselines of ``device`` (removed from the inventory)."""
        self._cpu.pop(device, None)
        self._rates.forget(device)

    def _cpu_percent(
        self, device: str, now: CpuJiffies | None, metrics: list[Metric], errors: list[str]
    ) -> None:
        if now is None:
            return
        before, self._cpu[device] = self._cpu.get(device), now
        if before is None:
            errors.append(f"{CPU_PERCENT}: first /proc/stat reading; the value comes next poll")
            return
        percent = cpu_percent(before, now)
        if percent is None:
            errors.append(f"{CPU_PERCENT}: /proc/stat did not advance since the last poll")
        else:
            metrics.append(Metric(CPU_PERCENT, percent))

    def _interface_rates(
        self,
        device: str,
        interfaces: Mapping[str, InterfaceBytes],
        now_ns: int,
        metrics: list[Metric],
        errors: list[str],
    ) -> None:
        found = False
        for name in sorted(interfaces):
            counters = interfaces[name]
            for metric, value in (
                (NET_IN_BYTES_PER_SEC, counters.received),
                (NET_OUT_BYTES_PER_SEC, counters.sent),
            ):
                reading = CounterReading(value, now_ns, 64)
                rate = self._rates.rate(device, f"{metric}.{name}", reading)
                if rate is not None:
                    metrics.append(Metric(metric, rate, {"interface": name}))
                    found = True
        if interfaces and not found:
            errors.append("net_*_bytes_per_sec: first counter reading; rates come next poll")


# -- host keys -------------------------------------------------------------------------------


class _HostKeyCheck:
    """Decides on a host key that known_hosts does not list for the host, and keeps why it
    refused one (asyncssh's own error only says "not trusted")."""

    def __init__(self, path: Path, accept_new: bool) -> None:
        self.path = path
        self.known = load_known_hosts(path)
        self.accept_new = accept_new
        self.refusal: str | None = None

    def unlisted_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        name = known_hosts_name(host, port)
        offered = f"{key.get_algorithm()} {key.get_fingerprint()}"
        listed = asyncssh.match_known_hosts(
            self.known, host, addr, None if port == DEFAULT_PORT else port
        )
        if listed[0] or listed[1]:
            self.refusal = (
                f"host key CHANGED for {name}: it offered {offered}, not the key {self.path} "
                f"holds for it; refused (someone may be intercepting; if the host was "
                f"reinstalled, remove its old key: ssh-keygen -R '{name}' -f {self.path})"
            )
            return False
        if not self.accept_new:
            self.refusal = (
                f"host key of {name} is unknown: {offered} is not in {self.path} "
                f"(check its fingerprint and add it, or accept new host keys)"
            )
            return False
        try:
            _append_known_host(self.path, name, key)
        except OSError as exc:
            self.refusal = f"host key of {name} is new but cannot be added to {self.path}: {exc}"
            return False
        _log.warning("added the new host key of %s (%s) to %s", name, offered, self.path)
        return True


def _append_known_host(path: Path, name: str, key: asyncssh.SSHKey) -> None:
    """Append ``name keytype base64`` to the known_hosts file (made, with ~/.ssh, if need be)."""
    algorithm, data = key.export_public_key("openssh").decode("ascii").split()[:2]
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    existing = path.read_bytes() if path.exists() else b""
    newline = "\n" if existing and not existing.endswith(b"\n") else ""
    # 0600 when made here: the data directory's files are its owner's only
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as file:
        file.write(f"{newline}{name} {algorithm} {data}\n")


class _Client(asyncssh.SSHClient):
    """asyncssh's per-connection callbacks: only the host key decision is ours."""

    def __init__(self, check: _HostKeyCheck) -> None:
        self._check = check

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        return self._check.unlisted_key(host, addr, port, key)


# -- failures as data ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a poll read nothing: the state to report and its one error line."""

    state: DeviceState
    message: str


def connect_failure(
    endpoint: SshEndpoint,
    credentials: SshCredentials,
    exc: BaseException,
    timeout_s: float,
    host_key_refusal: str | None = None,
) -> Failure:
    """What a failed connection attempt means: OFFLINE when nothing answered, DEGRADED when
    an SSH server answered but refused us (authentication, host key) or broke the handshake."""
    degraded, offline = DeviceState.DEGRADED, DeviceState.OFFLINE
    if isinstance(exc, asyncssh.PermissionDenied):
        return Failure(
            degraded,
            f"authentication failed: {endpoint} refused user {credentials.username!r} "
            f"with {credentials.methods()}",
        )
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return Failure(degraded, host_key_refusal or f"host key refused: {exc.reason}")
    if isinstance(exc, asyncssh.Error):
        return Failure(degraded, f"SSH handshake with {endpoint} failed: {exc}")
    if isinstance(exc, TimeoutError):  # before OSError, its base class
        return Failure(offline, f"no SSH answer from {endpoint} within {timeout_s:g} s")
    if isinstance(exc, ConnectionRefusedError):
        return Failure(offline, f"{endpoint} refused the connection (no SSH server there)")
    if isinstance(exc, socket.gaierror):
        return Failure(offline, f"cannot resolve {endpoint.host}: {exc.strerror or exc}")
    if isinstance(exc, OSError):
        return Failure(offline, f"cannot reach {endpoint}: {exc.strerror or exc}")
    return Failure(degraded, f"SSH connection to {endpoint} failed: {exc!r}")


@dataclass(frozen=True, slots=True)
class CommandOutput:
    """What the poll command printed, and how it ended."""

    stdout: str
    stderr: str
    exit_status: int | None


def not_ours(endpoint: SshEndpoint, output: CommandOutput) -> str:
    """The error line of output without any marker: the login shell did not run it."""
    said = next((line.strip() for line in output.stderr.splitlines() if line.strip()), "")
    detail = f": {said}" if said else ""
    return (
        f"{endpoint} did not run the poll command in a POSIX shell "
        f"(exit status {output.exit_status}){detail}"
    )


# -- the poller ------------------------------------------------------------------------------


@dataclass
class _Cached:
    """One open connection and the timer that closes it when it is left idle."""

    connection: asyncssh.SSHClientConnection
    idle: asyncio.TimerHandle | None = None


_Key = tuple[str, int, SshCredentials]  # other credentials, another connection


class SshPoller:
    """Polls Linux hosts over SSH, one command per poll, reusing connections between polls."""

    kind = KIND

    def __init__(
        self,
        *,
        known_hosts: Path | None = None,
        accept_new_host_keys: bool = False,
        connect_timeout: float = 10.0,
        command_timeout: float = 10.0,
        idle_timeout: float = 300.0,
        clock_ns: Callable[[], int] = time.time_ns,
        rejections: Rejections | None = None,
        mounts: Sequence[str] = (),
        interfaces: InterfaceSelection | None = None,
        disks: DiskSelection | None = None,
    ) -> None:
        self.known_hosts = (known_hosts or DEFAULT_KNOWN_HOSTS).expanduser()
        self.mounts = tuple(mounts)  # patterns of the mounts to report (filesystems.is_disk)
        self.interfaces = interfaces if interfaces is not None else InterfaceSelection()
        self.disks = disks if disks is not None else DiskSelection()
        self.accept_new_host_keys = accept_new_host_keys
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._idle_timeout = idle_timeout
        self._clock_ns = clock_ns
        # shared by every poller of a service, so refusals are counted in one place
        self.rejections = rejections if rejections is not None else Rejections()
        self._tracker = HostTracker()
        self._keys: dict[Path, tuple[int, asyncssh.SSHKey]] = {}  # path -> (mtime, key)
        self._connections: dict[_Key, _Cached] = {}
        self._locks: dict[_Key, asyncio.Lock] = {}

    async def poll(
        self, device: str, endpoint: SshEndpoint, credentials: SshCredentials
    ) -> DeviceReading:
        """One poll of ``device``: ONLINE with its metrics, OFFLINE when nothing answers,
        DEGRADED (no metrics) when its SSH server refuses us or does not run the command.

        Raises SshSetupError only for local settings (key file, known_hosts file)."""
        outcome = await self._output(endpoint, credentials)
        now_ns = self._clock_ns()
        if isinstance(outcome, Failure):
            return DeviceReading(device, KIND, now_ns, outcome.state, (), (outcome.message,))
        sample = parse_output(outcome.stdout, self.mounts, self.interfaces, self.disks)
        if sample is None:
            message = not_ours(endpoint, outcome)
            return DeviceReading(device, KIND, now_ns, DeviceState.DEGRADED, (), (message,))
        metrics, errors = self._tracker.metrics(device, sample, now_ns)
        kept, refused = self.rejections.screen(metrics)
        return DeviceReading(
            device, KIND, now_ns, DeviceState.ONLINE, tuple(kept), (*errors, *refused)
        )

    def forget(self, device: str) -> None:
        """Drop what is kept about ``device`` (removed from the inventory)."""
        self._tracker.forget(device)

    @property
    def open_connections(self) -> int:
        """How many connections are kept open for the next polls."""
        return sum(not c.connection.is_closed() for c in self._connections.values())

    async def close(self) -> None:
        """Close every connection (and wait, 5 s at most, until each is closed)."""
        cached = list(self._connections.values())
        for key in list(self._connections):
            self._discard(key)
        for entry in cached:
            try:
                await asyncio.wait_for(entry.connection.wait_closed(), 5.0)
            except (TimeoutError, OSError, asyncssh.Error):
                entry.connection.abort()

    async def __aenter__(self) -> SshPoller:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- connections -------------------------------------------------------------------------

    async def _output(
        self, endpoint: SshEndpoint, credentials: SshCredentials
    ) -> CommandOutput | Failure:
        """The poll command's output, on the kept connection or a new one."""
        key: _Key = (endpoint.host, endpoint.port, credentials)
        async with self._locks.setdefault(key, asyncio.Lock()):
            try:
                return await self._output_locked(key, endpoint, credentials)
            except asyncio.CancelledError:
                # cut short (the runner's deadline) mid-command: the connection may be stuck
                # in that command, so the next poll must not find it kept
                self._discard(key)
                raise

    async def _output_locked(
        self, key: _Key, endpoint: SshEndpoint, credentials: SshCredentials
    ) -> CommandOutput | Failure:
        cached = self._connections.get(key)
        if cached is not None and not cached.connection.is_closed():
            result = await self._run(cached.connection)
            if not isinstance(result, Failure):
                self._keep(key, cached)
                return result
        self._discard(key)  # gone, dropped or stuck: once more on a new connection
        connected = await self._connect(endpoint, credentials)
        if isinstance(connected, Failure):
            return connected
        cached = _Cached(connected)
        self._connections[key] = cached
        result = await self._run(connected)
        if isinstance(result, Failure):
            self._discard(key)
        else:
            self._keep(key, cached)
        return result

    async def _connect(
        self, endpoint: SshEndpoint, credentials: SshCredentials
    ) -> asyncssh.SSHClientConnection | Failure:
        check = _HostKeyCheck(self.known_hosts, self.accept_new_host_keys)
        keys = [self._client_key(credentials.key_file)] if credentials.key_file else None
        if credentials.key_text is not None:
            keys = [*(keys or []), import_client_key(credentials.key_text)]
        try:
            return await asyncssh.connect(
                endpoint.address or endpoint.host,
                endpoint.port,
                host_key_alias=endpoint.host if endpoint.address else None,
                username=credentials.username,
                password=credentials.password,
                client_keys=keys,
                known_hosts=check.known,
                client_factory=lambda: _Client(check),
                connect_timeout=self._connect_timeout,
                # nothing of this host's SSH setup: no ~/.ssh/config, agent or default keys
                config=None,
                agent_path=None,
                x509_trusted_certs=None,
                gss_host=None,
                host_based_auth=False,
                keepalive_interval=30,  # notice a dead kept connection between polls
            )
        except (OSError, asyncssh.Error) as exc:
            return connect_failure(endpoint, credentials, exc, self._connect_timeout, check.refusal)

    def _client_key(self, path: Path) -> asyncssh.SSHKey:
        """The key in ``path``, read again when the file changed (a rotated key needs no
        restart)."""
        try:
            stamp = path.stat().st_mtime_ns
        except OSError as exc:
            raise SshSetupError(f"cannot read key file {path}: {exc.strerror or exc}") from exc
        cached = self._keys.get(path)
        if cached is None or cached[0] != stamp:
            self._keys[path] = (stamp, load_client_key(path))
        return self._keys[path][1]

    async def _run(self, connection: asyncssh.SSHClientConnection) -> CommandOutput | Failure:
        """Run the poll command; the timeout covers opening its channel too."""
        try:
            async with asyncio.timeout(self._command_timeout):
                done = await connection.run(
                    POLL_COMMAND, check=False, encoding="utf-8", errors="replace"
                )
        except TimeoutError:
            return Failure(
                DeviceState.DEGRADED,
                f"the poll command did not finish within {self._command_timeout:g} s",
            )
        except asyncssh.ChannelOpenError as exc:
            return Failure(DeviceState.DEGRADED, f"no session channel: {exc.reason}")
        except (OSError, asyncssh.Error) as exc:
            return Failure(DeviceState.OFFLINE, f"SSH connection lost: {exc}")
        return CommandOutput(_text(done.stdout), _text(done.stderr), done.exit_status)

    def _keep(self, key: _Key, cached: _Cached) -> None:
        """Keep the connection for the next poll; close it after ``idle_timeout`` without."""
        if cached.idle is not None:
            cached.idle.cancel()
        loop = asyncio.get_running_loop()
        cached.idle = loop.call_later(self._idle_timeout, self._expire, key, cached)

    def _expire(self, key: _Key, cached: _Cached) -> None:
        if self._connections.get(key) is cached:
            self._discard(key)

    def _discard(self, key: _Key) -> None:
        cached = self._connections.pop(key, None)
        if cached is None:
            return
        if cached.idle is not None:
            cached.idle.cancel()
        cached.connection.close()


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
