"""A real SNMP agent on loopback: net-snmp's snmpd, read with net-snmp's own client tools.

* :class:`Snmpd` runs Debian's ``/usr/sbin/snmpd`` in the foreground on
  ``udp:127.0.0.1:<free port>``, reading only the config written here (``-C -c``): a v2c
  read-only community and SNMPv3 authPriv users (SHA + AES, and SHA-256 / SHA-512 + AES when
  this net-snmp has them), every secret random per instance; the whole tree readable; known
  sysLocation and sysContact. Its persistent state (engine ID, boots, users) lives in a
  temporary directory (``SNMP_PERSISTENT_DIR``), never /var/lib/snmp; no MIB files are loaded
  and smux is off, so it needs no MIBs and opens nothing but its UDP port.
* :meth:`Snmpd.snmpget` and :meth:`Snmpd.snmpwalk` run net-snmp's ``snmpget``/``snmpwalk``
  against it (numeric OIDs, raw numbers), so tests can compare netgauge's values with the
  agent's own. They read no config of this host either (``SNMPCONFPATH`` is the temp dir).

What Debian's snmpd serves by default, and these tests rely on: SNMPv2-MIB system
(sysUpTime...), IF-MIB ifTable and ifXTable (ifHCInOctets), HOST-RESOURCES-MIB hrStorage and
hrProcessorLoad, UCD-SNMP-MIB memory (memTotalReal, memAvailReal) and systemStats
(ssCpuRaw*). Two of them warm up: ssCpuRaw* read 0 until the agent's first /proc/stat sample
(about 5 s), and hrProcessorLoad is noSuchInstance for about a minute, until a
one-minute average exists (:meth:`Snmpd.wait_for_hr_processor_load`). Tests that need CPU
values should share one session-scoped agent (the ``snmpd`` fixture of
``tests/integration/pollers``) so that the wait is paid once per run.

:meth:`Snmpd.stop` (or leaving the ``with`` block) terminates the agent (SIGTERM, SIGKILL
after a deadline), reaps it and removes the temporary directory. Nothing here sends to any
address but 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tests.lab.daemon import Daemon, free_udp_port

SNMPD = "/usr/sbin/snmpd"

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_CONTACT = "1.3.6.1.2.1.1.4.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
SYS_LOCATION = "1.3.6.1.2.1.1.6.0"
HR_PROCESSOR_LOAD = "1.3.6.1.2.1.25.3.3.1.2"
NO_SUCH_INSTANCE = "No Such Instance currently exists at this OID"
NO_SUCH_OBJECT = "No Such Object available on this agent at this OID"
END_OF_MIB_VIEW = "No more variables left in this MIB View (It is past the end of the MIB tree)"

_START_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 5.0
_BIND_ATTEMPTS = 5
_BIND_FAILED = "Error opening specified endpoint"
# "OID = TYPE: value" lines of -On output; a value may go on over further lines
_VARBIND = re.compile(r"^\.?(\d+(?:\.\d+)*) = (.*)$")
_TYPED = {
    "STRING",
    "Hex-STRING",
    "INTEGER",
    "Counter32",
    "Counter64",
    "Gauge32",
    "Timeticks",
    "OID",
    "IpAddress",
    "Opaque",
    "BITS",
    "Network Address",
}
# the extra v3 users, by auth protocol, made when this net-snmp supports the protocol
_EXTRA_AUTH = ("SHA-256", "SHA-512")


class SnmpError(RuntimeError):
    """snmpget/snmpwalk failed (timeout, authentication failure...); the message is theirs."""


def missing_snmpd() -> str | None:
    """Why the agent or its client tools cannot be used here (one line naming the package)."""
    if not os.access(SNMPD, os.X_OK):
        return "snmpd not installed (Debian package snmpd)"
    for tool in ("snmpget", "snmpwalk"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (Debian package snmp)"
    return None


@functools.cache
def supported_auth_protocols() -> tuple[str, ...]:
    """The SNMPv3 auth protocols of this net-snmp, as ``snmpget -h`` lists them."""
    help_text = subprocess.run(
        ["snmpget", "-h"], capture_output=True, text=True, timeout=10, check=False
    )
    found = re.search(r"-a PROTOCOL\s+.*?\(([^)]*)\)", help_text.stdout + help_text.stderr)
    return tuple(found.group(1).split("|")) if found else ("MD5", "SHA")


@dataclasses.dataclass(frozen=True)
class V3User:
    """An SNMPv3 USM user of the agent, at security level authPriv."""

    name: str
    auth_protocol: str  # as net-snmp spells it: "SHA", "SHA-256", "SHA-512"
    auth_key: str  # the passphrases (net-snmp -A / -X), not localized keys
    priv_protocol: str  # "AES" (AES-128 CFB)
    priv_key: str

    def cli_args(self) -> list[str]:
        """The snmpget/snmpwalk options that authenticate as this user."""
        return [
            "-v3",
            "-l",
            "authPriv",
            "-u",
            self.name,
            "-a",
            self.auth_protocol,
            "-A",
            self.auth_key,
            "-x",
            self.priv_protocol,
            "-X",
            self.priv_key,
        ]


def parse_varbinds(output: str) -> dict[str, str]:
    """net-snmp's ``-On -Ot -Oe`` output as {numeric OID without leading dot: value}.

    Values are normalized: STRING unquoted and unescaped, Hex-STRING as its hex pairs
    separated by one space ("BE 79 5C 09 57 F9"), OID without the leading dot, numbers
    (integers, counters, gauges, timeticks in hundredths of a second) as digits, IpAddress
    dotted. SNMP exceptions stay as net-snmp words them (:data:`NO_SUCH_INSTANCE`...).
    """
    raw: dict[str, str] = {}
    last: str | None = None
    for line in output.splitlines():
        match = _VARBIND.match(line)
        if match:
            last = match.group(1)
            raw[last] = match.group(2)
        elif last is not None:
            raw[last] += "\n" + line
    return {oid: _normalize(value) for oid, value in raw.items()}


def _normalize(value: str) -> str:
    kind, sep, rest = value.partition(": ")
    if not sep or kind not in _TYPED:
        return "" if value == '""' else value.strip()
    if kind == "STRING":
        text = rest.strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = re.sub(r"\\(.)", r"\1", text[1:-1], flags=re.DOTALL)
        return text
    if kind == "Hex-STRING":
        return " ".join(rest.split())
    if kind == "OID":
        return rest.strip().removeprefix(".")
    return rest.strip()


def _is_exception(value: str) -> bool:
    return value in (NO_SUCH_INSTANCE, NO_SUCH_OBJECT) or value.startswith("No more variables")


class Snmpd(Daemon):
    """net-snmp's snmpd on ``udp:127.0.0.1:<port>`` with random credentials; a context manager.

    Credentials: :attr:`community` (v2c, read-only), :attr:`v3` (SHA + AES authPriv user,
    also as :attr:`v3_user` / :attr:`auth_key` / :attr:`priv_key`) and :attr:`v3_users`
    (auth protocol -> user: "SHA", and "SHA-256" / "SHA-512" when supported).
    """

    what = "snmpd"
    start_timeout_s = _START_TIMEOUT_S
    bind_failed = (_BIND_FAILED,)
    poll_s = 0.1

    address = "127.0.0.1"

    def __init__(
        self,
        *,
        sys_location: str | None = None,
        sys_contact: str | None = None,
        sys_name: str | None = None,
        community: str | None = None,
        netns: str | None = None,
        address: str | None = None,
        clients: str | None = None,
    ) -> None:
        """``netns``/``address``: run inside a lab namespace on a lab host's address, port
        161, answering ``clients`` (a network; default: the agent's own address)."""
        token = secrets.token_hex(4)
        self.netns = netns
        if address is not None:
            self.address = address
        self.clients = clients or self.address
        self.sys_name = sys_name
        self.sys_location = sys_location or f"netgauge lab rack {token}"
        self.sys_contact = sys_contact or f"lab-{token}@example.invalid"
        self.community = community or secrets.token_hex(8)
        protocols = supported_auth_protocols() if not missing_snmpd() else ("SHA",)
        self.v3_users: dict[str, V3User] = {
            auth: V3User(
                name=f"ng-{auth.lower().replace('-', '')}",
                auth_protocol=auth,
                auth_key=secrets.token_hex(8),
                priv_protocol="AES",
                priv_key=secrets.token_hex(8),
            )
            for auth in ("SHA", *_EXTRA_AUTH)
            if auth in protocols
        }
        self.v3 = self.v3_users["SHA"]
        self.v3_user = self.v3.name
        self.auth_key = self.v3.auth_key
        self.priv_key = self.v3.priv_key
        self.port = 161 if netns is not None else free_udp_port(self.address)
        super().__init__()

    # -- paths and command lines -------------------------------------------------------------

    @property
    def target(self) -> str:
        """The agent address as net-snmp's tools take it: ``udp:127.0.0.1:<port>``."""
        return f"udp:{self.address}:{self.port}"

    def config(self) -> str:
        """The snmpd.conf text: our community, users, view and system strings, nothing else."""
        lines = [
            "# written by tests/lab/snmpd.py for one test agent",
            "view all included .1",
            f"rocommunity {self.community} {self.clients} -V all",
        ]
        for user in self.v3_users.values():
            lines.append(
                f"createUser {user.name} {user.auth_protocol} {user.auth_key}"
                f" {user.priv_protocol} {user.priv_key}"
            )
            lines.append(f"rouser {user.name} priv -V all")
        lines += [
            f"sysLocation {self.sys_location}",
            f"sysContact {self.sys_contact}",
            *([f"sysName {self.sys_name}"] if self.sys_name else []),
            "dontLogTCPWrappersConnects yes",
        ]
        return "\n".join(lines) + "\n"

    def command(self) -> list[str]:
        """The snmpd command line: foreground, our config only, no MIBs, no smux, loopback."""
        directory = self.directory
        inside = ["ip", "netns", "exec", self.netns] if self.netns else []
        return [
            *inside,
            SNMPD,
            "-f",
            "-C",
            "-c",
            str(directory / "snmpd.conf"),
            "-Lf",
            str(directory / "snmpd.log"),
            "-M",
            str(directory / "mibs"),
            "-I",
            "-smux,mteTrigger,mteTriggerConf",
            "-p",
            str(directory / "snmpd.pid"),
            self.target,
        ]

    def _env(self) -> dict[str, str]:
        directory = self.directory
        env = dict(os.environ)
        env.update(
            SNMPCONFPATH=str(directory / "conf"),  # no snmp.conf of this host or user
            SNMP_PERSISTENT_DIR=str(directory / "persist"),
            MIBS="",
            MIBDIRS=str(directory / "mibs"),
        )
        return env

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of snmpd's log and stderr (for failure messages)."""
        if self._dir is None:
            return ""
        text = ""
        for name in ("snmpd.log", "snmpd.stderr"):
            path = self._dir / name
            if path.exists():
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def where(self) -> str:
        return self.target

    def _answers(self) -> bool:
        try:
            self.snmpget([SYS_UPTIME], timeout_s=0.3, retries=0)
        except SnmpError:
            return False
        return True

    def start(self) -> Snmpd:
        """Start the agent and wait (15 s at most) until it answers a v2c get of sysUpTime.

        When another process took the port first, tries again on a new port (5 tries).
        """
        if self._proc is not None:
            return self
        self._dir = Path(tempfile.mkdtemp(prefix="netgauge-snmpd-"))
        for sub in ("conf", "persist", "mibs"):
            (self._dir / sub).mkdir()
        (self._dir / "snmpd.conf").write_text(self.config())

        def next_port(attempt: int) -> None:
            if attempt and self.netns is None:  # (a namespace of its own: 161 is free)
                self.port = free_udp_port(self.address)

        attempts = 1 if self.netns else _BIND_ATTEMPTS
        return self._launch_on_a_free_port("snmpd", attempts, next_port)

    def _launch(self) -> None:
        directory = self.directory
        (directory / "snmpd.log").unlink(missing_ok=True)
        with open(directory / "snmpd.stderr", "wb") as stderr:
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                env=self._env(),
            )

    # -- net-snmp's client tools -------------------------------------------------------------

    def _auth_args(self, version: str, community: str | None, user: V3User | None) -> list[str]:
        if version == "3":
            return (user or self.v3).cli_args()
        if version in ("1", "2c"):
            return [f"-v{version}", "-c", community if community is not None else self.community]
        raise ValueError(f"SNMP version must be '1', '2c' or '3', not {version!r}")

    def _run(self, tool: str, args: Sequence[str], bound_s: float) -> dict[str, str]:
        try:
            done = subprocess.run(
                [tool, "-On", "-Ot", "-Oe", *args],
                capture_output=True,
                text=True,
                env=self._env(),
                timeout=bound_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SnmpError(f"{tool} still running after {bound_s:.0f} s") from exc
        if done.returncode != 0:
            message = (done.stderr.strip() or done.stdout.strip()).splitlines()
            raise SnmpError(f"{tool} failed ({done.returncode}): {' | '.join(message)}")
        return parse_varbinds(done.stdout)

    def snmpget(
        self,
        oids: Sequence[str],
        version: str = "2c",
        *,
        community: str | None = None,
        user: V3User | None = None,
        timeout_s: float = 2.0,
        retries: int = 1,
    ) -> dict[str, str]:
        """``snmpget`` of ``oids`` (numeric): {oid without leading dot: value}.

        ``version`` "1"/"2c" uses :attr:`community` (or ``community``), "3" the authPriv
        user :attr:`v3` (or ``user``). Values as :func:`parse_varbinds` gives them; an absent
        instance is :data:`NO_SUCH_INSTANCE` / :data:`NO_SUCH_OBJECT`. Raises
        :class:`SnmpError` on no answer ("Timeout") or a refused v3 user ("Authentication
        failure").
        """
        args = [
            *self._auth_args(version, community, user),
            "-t",
            f"{timeout_s:g}",
            "-r",
            str(retries),
            self.target,
            *oids,
        ]
        return self._run("snmpget", args, timeout_s * (retries + 1) + 5)

    def snmpwalk(
        self,
        oid: str,
        version: str = "2c",
        *,
        community: str | None = None,
        user: V3User | None = None,
        timeout_s: float = 2.0,
        retries: int = 1,
        deadline_s: float = 60.0,
    ) -> dict[str, str]:
        """``snmpwalk`` of the subtree ``oid``: {oid: value}, empty when it has no instances.

        Same options and errors as :meth:`snmpget`; the whole walk is bounded by
        ``deadline_s``.
        """
        args = [
            *self._auth_args(version, community, user),
            "-t",
            f"{timeout_s:g}",
            "-r",
            str(retries),
            self.target,
            oid,
        ]
        found = self._run("snmpwalk", args, deadline_s)
        return {key: value for key, value in found.items() if not _is_exception(value)}

    def wait_for_walk(
        self,
        oid: str,
        ready: Callable[[Mapping[str, str]], bool],
        *,
        deadline_s: float,
        interval_s: float = 1.0,
    ) -> dict[str, str]:
        """Walk ``oid`` every ``interval_s`` until ``ready(values)``; fail after ``deadline_s``."""
        deadline = time.monotonic() + deadline_s
        while True:
            values = self.snmpwalk(oid)
            if ready(values):
                return values
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{oid} on {self.target} not ready after {deadline_s:g} s; last walk: {values}"
                )
            time.sleep(interval_s)

    def wait_for_hr_processor_load(self, deadline_s: float = 90.0) -> dict[str, int]:
        """hrProcessorLoad per processor {oid: percent}, once the agent has them.

        snmpd answers noSuchInstance for about a minute after it starts (it serves one-minute
        averages): this walks every second until integers appear, for ``deadline_s`` at most.
        Share one agent per session between the tests that need it.
        """
        values = self.wait_for_walk(
            HR_PROCESSOR_LOAD,
            lambda found: bool(found) and all(v.isdigit() for v in found.values()),
            deadline_s=deadline_s,
        )
        return {oid: int(value) for oid, value in values.items()}
