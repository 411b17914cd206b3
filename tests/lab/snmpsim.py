"""Many simulated SNMP agents on one loopback port: ``snmpsim`` serving recorded walks.

* :class:`SnmpSim` runs snmpsim's ``snmpsim-command-responder`` (PyPI package ``snmpsim``,
  the lextudio 1.x line built on pysnmp 7) in the foreground on ``127.0.0.1:<free port>``
  with ``--data-dir`` and ``--cache-dir`` in a temporary directory of its own. Each
  ``.snmprec`` file there is one agent: the file name without its extension is the v1/v2c
  community that selects it. :meth:`SnmpSim.start` waits (15 s at most) until every
  community answers a GET of sysUpTime.0.
* :meth:`SnmpSim.replace` serves new contents for one community while the process runs
  (counters moved on, an agent rebooted, an interface added). snmpsim notices a changed data
  file by its mtime, compared in *whole seconds* (``os.stat()[8]``), and rebuilds the file's
  index only when the text file is newer than the index, also in whole seconds: a rewrite
  within the same second would be ignored. So the new file gets an mtime one second past
  both the previous one and now, and the method waits until the agent answers with the new
  values. :meth:`SnmpSim.restore` puts every recorded walk back.
* :func:`parse_snmprec`, :func:`format_snmprec` and :func:`snmprec_value` read and write
  the ``OID|TAG|VALUE`` format, so tests compute their expected values from the same data
  the agent serves.

snmpsim refuses to run as root unless told which user to become; the agent only reads
files we own in a temporary directory and binds 127.0.0.1, so as root it is allowed to stay
root (``SNMPSIM_ALLOW_ROOT``). :meth:`SnmpSim.stop` (or leaving the ``with`` block)
terminates it (SIGTERM, SIGKILL after 5 s), reaps it and removes the directory. Nothing here
sends to any address but 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from netgauge.pollers.snmp_ber import (
    GET,
    V2C,
    Value,
    VarBindException,
    decode_response,
    encode_request,
)
from tests.lab.daemon import Daemon, free_udp_port

Oid = tuple[int, ...]
Record = tuple[str, str]  # (tag, value) as written in the file
Records = dict[Oid, Record]

PACKAGE = "snmpsim"  # PyPI; 1.x is the lextudio line that works with pysnmp 7
RESPONDER = "snmpsim-command-responder"
SYS_UPTIME: Oid = (1, 3, 6, 1, 2, 1, 1, 3, 0)

_START_TIMEOUT_S = 15.0
_SERVE_TIMEOUT_S = 5.0
_BIND_ATTEMPTS = 5
_PROBE_TIMEOUT_S = 0.3


def missing_snmpsim() -> str | None:
    """Why snmpsim cannot be run here (one line naming the PyPI package), or None."""
    if importlib.util.find_spec("snmpsim") is None:
        return f"snmpsim not installed (PyPI package {PACKAGE}>=1.1,<2)"
    # snmpsim 1.2.2 imports pysmi at start-up but declares it only as a dev extra
    if importlib.util.find_spec("pysmi") is None:
        return "pysmi not installed, which snmpsim needs to start (PyPI package pysmi)"
    return None


def responder_command() -> list[str]:
    """The command that runs snmpsim's agent: the venv's console script, else ``-m``."""
    script = Path(sys.executable).parent / RESPONDER
    if os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "snmpsim.commands.responder"]


# -- the .snmprec format ------------------------------------------------------------------


def parse_snmprec(text: str) -> Records:
    """``OID|TAG|VALUE`` lines as {OID arcs: (tag, value)}; blank lines are skipped."""
    records: Records = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        oid, tag, value = line.split("|", 2)
        arcs = tuple(int(arc) for arc in oid.strip().split("."))
        if arcs in records:
            raise ValueError(f"line {number}: {oid} appears twice")
        records[arcs] = (tag, value)
    return records


def format_snmprec(records: Mapping[Oid, Record]) -> str:
    """The file text, lines in OID order (snmpsim's GETNEXT relies on the order)."""
    return "".join(
        f"{'.'.join(map(str, oid))}|{tag}|{value}\n"
        for oid, (tag, value) in sorted(records.items())
    )


def snmprec_value(tag: str, value: str) -> Value:
    """What netgauge's decoder gives for a record: ints for numbers, bytes for strings, OID
    arcs, a dotted IpAddress."""
    if tag == "4":
        return value.encode()
    if tag == "4x":
        return bytes.fromhex(value)
    if tag == "6":
        return tuple(int(arc) for arc in value.split("."))
    if tag == "64":
        return value
    if tag in ("2", "65", "66", "67", "70"):
        return int(value)
    raise ValueError(f"tag {tag!r} is not one these tests write")


# -- the agent ----------------------------------------------------------------------------


class SnmpSim(Daemon):
    """snmpsim on ``127.0.0.1:<port>`` serving ``walks`` (community -> ``.snmprec`` text).

    A context manager; :attr:`port` is where it listens (kept across :meth:`replace`).
    """

    what = "snmpsim"

    address = "127.0.0.1"

    def __init__(self, walks: Mapping[str, str]) -> None:
        if not walks:
            raise ValueError("snmpsim needs at least one data file")
        for community in walks:
            if not community or "/" in community or community.startswith("."):
                raise ValueError(f"{community!r} cannot be a data file name")
        self._recorded = dict(walks)
        self._serving = dict(walks)
        self._mtimes: dict[str, int] = {}
        self.port = free_udp_port(self.address)
        super().__init__()

    @classmethod
    def from_directory(cls, directory: Path) -> SnmpSim:
        """Every ``*.snmprec`` of ``directory``, each under its file name as community."""
        walks = {path.stem: path.read_text() for path in sorted(directory.glob("*.snmprec"))}
        return cls(walks)

    # -- paths -------------------------------------------------------------------------------

    @property
    def communities(self) -> list[str]:
        return list(self._serving)

    def data_file(self, community: str) -> Path:
        return self.directory / "data" / f"{community}.snmprec"

    def records(self, community: str) -> Records:
        """What the agent serves for ``community`` now."""
        return parse_snmprec(self._serving[community])

    def command(self) -> list[str]:
        directory = self.directory
        return [
            *responder_command(),
            f"--data-dir={directory / 'data'}",
            f"--cache-dir={directory / 'cache'}",
            f"--agent-udpv4-endpoint={self.address}:{self.port}",
        ]

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of snmpsim's output (for failure messages)."""
        if self._dir is None:
            return ""
        path = self._dir / "snmpsim.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SnmpSim:
        """Write the walks, start the agent and wait until every community answers.

        When another process took the port first, tries again on a new port (5 tries).
        """
        if self._proc is not None:
            return self
        self._dir = Path(tempfile.mkdtemp(prefix="netgauge-snmpsim-"))
        (self._dir / "data").mkdir()
        (self._dir / "cache").mkdir()

        def next_port(attempt: int) -> None:
            if attempt:
                self.port = free_udp_port(self.address)
            else:
                for community, text in self._serving.items():
                    self._write(community, text)

        return self._launch_on_a_free_port("snmpsim", _BIND_ATTEMPTS, next_port)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        if os.geteuid() == 0:
            env["SNMPSIM_ALLOW_ROOT"] = "true"  # else it insists on --process-user/group
        return env

    def _launch(self) -> None:
        with open(self.directory / "snmpsim.log", "wb") as log:
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=self._env(),
                cwd=self.directory,
            )

    def _wait_ready(self) -> bool:
        """True once every community answers; False when another process holds the port.

        (pysnmp binds in a background task and only logs the failure: the agent lives on,
        deaf, so the port is checked here rather than waiting for an exit.)
        """
        proc = self._proc
        assert proc is not None
        deadline = time.monotonic() + _START_TIMEOUT_S
        waiting = list(self._serving)
        while waiting:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"snmpsim exited with status {proc.returncode} on port {self.port}; "
                    f"its output ends:\n{self.log_tail()}"
                )
            if self.get(waiting[0], [SYS_UPTIME]) is not None:
                waiting.pop(0)
                continue
            if _held_by_another(self.address, self.port, proc.pid):
                return False
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"snmpsim not answering community {waiting[0]!r} on port {self.port} "
                    f"after {_START_TIMEOUT_S:.0f} s; its output ends:\n{self.log_tail()}"
                )
            time.sleep(0.05)
        return True

    # -- a GET of our own (for readiness and to check what is served) -----------------------

    def get(self, community: str, oids: list[Oid]) -> dict[Oid, Value] | None:
        """One v2c GET of ``oids`` (0.3 s wait, no retry): the values, or None on silence."""
        request_id = int.from_bytes(os.urandom(3), "big") + 1
        message = encode_request(V2C, community.encode(), GET, request_id, oids)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(_PROBE_TIMEOUT_S)
            sock.connect((self.address, self.port))
            sock.send(message)
            deadline = time.monotonic() + _PROBE_TIMEOUT_S
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    response = decode_response(sock.recv(65535))
                except (TimeoutError, ConnectionRefusedError):
                    return None
                if response.request_id == request_id:  # else a late answer to an earlier probe
                    return dict(response.varbinds)
        return None

    # -- changing what is served -------------------------------------------------------------

    def replace(self, community: str, text: str) -> None:
        """Serve ``text`` for ``community`` from now on; returns once the agent does."""
        if community not in self._serving:
            raise KeyError(f"{community!r} is not served (snmpsim reads its files at start)")
        before = parse_snmprec(self._serving[community])
        after = parse_snmprec(text)
        self._serving[community] = text
        self._write(community, text)
        self._wait_serving(community, before, after)

    def restore(self) -> None:
        """Serve the recorded walks again wherever :meth:`replace` changed them."""
        for community, text in self._recorded.items():
            if self._serving[community] != text:
                self.replace(community, text)

    def _write(self, community: str, text: str) -> None:
        """Replace the file at once (rename), its mtime a whole second past the previous
        one and past now, so snmpsim sees it changed and re-indexes it."""
        target = self.data_file(community)
        staging = self.directory / f".{community}.snmprec.new"
        staging.write_text(text)
        mtime = max(int(time.time()), self._mtimes.get(community, 0)) + 1
        os.utime(staging, (mtime, mtime))
        os.replace(staging, target)
        self._mtimes[community] = mtime

    def _wait_serving(self, community: str, before: Records, after: Records) -> None:
        """Wait (5 s at most) until a GET of what changed answers as ``after`` says."""
        changed = [oid for oid, record in sorted(after.items()) if before.get(oid) != record]
        gone = [oid for oid in sorted(before) if oid not in after]
        probe = (changed + gone)[:32]
        if not probe:
            return
        expected = {oid: snmprec_value(*after[oid]) for oid in probe if oid in after}
        deadline = time.monotonic() + _SERVE_TIMEOUT_S
        while True:
            got = self.get(community, probe)
            if got is not None and all(
                got.get(oid) == expected[oid] if oid in expected else _missing(got, oid)
                for oid in probe
            ):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"snmpsim still serves the old {community!r} after {_SERVE_TIMEOUT_S:g} s "
                    f"(wanted {expected}, got {got}); its output ends:\n{self.log_tail()}"
                )
            time.sleep(0.05)


def _missing(values: Mapping[Oid, Value], oid: Oid) -> bool:
    """Whether ``oid`` came back as noSuchObject / noSuchInstance (or not at all)."""
    return isinstance(values.get(oid, VarBindException.NO_SUCH_OBJECT), VarBindException)


def _held_by_another(address: str, port: int, pid: int) -> bool:
    """Whether a UDP socket of another process is bound to ``address:port`` (Linux /proc)."""
    local = {
        f"{socket.inet_aton(ip)[::-1].hex().upper()}:{port:04X}" for ip in (address, "0.0.0.0")
    }
    try:
        table = Path("/proc/net/udp").read_text().splitlines()[1:]
        holders = {int(f[9]) for f in map(str.split, table) if f[1] in local}
        if not holders:
            return False
        ours = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd)
            if target.startswith("socket:["):
                ours.add(int(target[len("socket:[") : -1]))
    except OSError:
        return False  # no /proc, or the agent just exited: its exit is reported instead
    return not holders & ours
