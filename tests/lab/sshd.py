"""A real SSH server on loopback: OpenSSH's sshd, with throwaway keys and its own config.

* :class:`Sshd` runs Debian's ``/usr/sbin/sshd -D -e -f <config>`` in the foreground on
  ``127.0.0.1:<free port>``. Everything it uses lives in a temporary directory: its ed25519
  host key, its config (no PAM, ``StrictModes no`` so the temp directory will do, the
  authorized keys file, the pid file), a client key pair whose public half is the only
  authorized key, a ``known_hosts`` file listing the server's key under
  ``[127.0.0.1]:<port>``, and its log (``LogLevel VERBOSE``: one ``Accepted ...`` line per
  login, which :meth:`Sshd.accepted_logins` counts). Root logs in with the key only
  (``PermitRootLogin prohibit-password``); other users may use a password, for
  :func:`throwaway_user`.
* :meth:`Sshd.start` waits (15 s at most) until the port accepts and the ``SSH-2.0-``
  banner arrives; a port another process took first is retried on a new one.
* :meth:`Sshd.stop` (or leaving the ``with`` block) terminates the processes sshd forked
  for connections (youngest first, each reaped by its parent), then sshd (SIGTERM, SIGKILL
  after 5 s), and removes the directory.
* :func:`throwaway_user` (root only) makes a system user with a random password for the
  password tests and deletes it afterwards (``useradd``/``userdel``); root's password is
  never touched.

sshd needs its privilege separation directory ``/run/sshd`` (compiled in; Debian's service
makes it when it starts): it is created when missing and left in place, empty, as the
service would leave it. Nothing here listens on or sends to any address but 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.lab.daemon import Daemon, free_tcp_port

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = Path("/run/sshd")

_START_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 5.0
_BIND_ATTEMPTS = 5
_BIND_FAILED = ("Address already in use", "Cannot bind any address")
# "Accepted publickey for root from 127.0.0.1 port 33166 ssh2: ED25519 SHA256:..."
_ACCEPTED = re.compile(r"^Accepted [\w-]+ for \S+ from ", re.MULTILINE)


def missing_sshd() -> str | None:
    """Why sshd cannot be run here (one line naming the Debian package), or None."""
    if not os.access(SSHD, os.X_OK):
        return "sshd not installed (Debian package openssh-server)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen not installed (Debian package openssh-client)"
    if not PRIVSEP_DIR.is_dir() and os.geteuid() != 0:
        return f"sshd needs {PRIVSEP_DIR}, which only root can make (run the tests as root)"
    return None


def keygen(path: Path, comment: str) -> str:
    """Make an ed25519 key pair at ``path`` (and ``path.pub``); the public line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path.with_suffix(".pub").read_text().strip()


class Sshd(Daemon):
    """OpenSSH's sshd on ``127.0.0.1:<port>`` with throwaway keys; a context manager.

    :attr:`client_key` (private key file) logs in as root; :attr:`known_hosts` lists the
    server's key (:attr:`host_public_key`, ``"ssh-ed25519 AAAA..."``).
    """

    what = "sshd"
    start_timeout_s = _START_TIMEOUT_S
    bind_failed = _BIND_FAILED
    poll_s = 0.05

    address = "127.0.0.1"

    def __init__(self, *, netns: str | None = None, address: str | None = None) -> None:
        """``netns``/``address``: run inside a lab namespace on a lab host's address, port 22."""
        self.netns = netns
        if address is not None:
            self.address = address
        self.port = 22 if netns is not None else free_tcp_port(self.address)
        super().__init__()
        self.host_public_key = ""

    # -- paths -------------------------------------------------------------------------------

    @property
    def target(self) -> str:
        """``127.0.0.1:<port>``: the HOST[:PORT] of ``netgauge poll ssh``."""
        return f"{self.address}:{self.port}"

    @property
    def known_hosts_name(self) -> str:
        return self.address if self.port == 22 else f"[{self.address}]:{self.port}"

    @property
    def client_key(self) -> Path:
        return self.directory / "client_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.directory / "known_hosts"

    @property
    def log_path(self) -> Path:
        return self.directory / "sshd.log"

    def config(self) -> str:
        """The sshd_config text: loopback, our keys and files, nothing of /etc/ssh."""
        directory = self.directory
        lines = [
            "# written by tests/lab/sshd.py for one test server",
            f"ListenAddress {self.address}:{self.port}",
            f"HostKey {directory / 'ssh_host_ed25519_key'}",
            f"PidFile {directory / 'sshd.pid'}",
            f"AuthorizedKeysFile {directory / 'authorized_keys'}",
            "StrictModes no",
            "UsePAM no",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication yes",
            "KbdInteractiveAuthentication no",
            "PermitEmptyPasswords no",
            "AllowTcpForwarding no",
            "AllowAgentForwarding no",
            "X11Forwarding no",
            "PermitTunnel no",
            "PrintMotd no",
            "PrintLastLog no",
            "UseDNS no",
            "MaxStartups 100",
            "LoginGraceTime 30",
            "LogLevel VERBOSE",
        ]
        return "\n".join(lines) + "\n"

    def log_text(self) -> str:
        """sshd's log so far (its stderr, ``-e``)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def accepted_logins(self) -> int:
        """How many logins sshd accepted so far: one per SSH connection that authenticated."""
        return len(_ACCEPTED.findall(self.log_text()))

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def where(self) -> str:
        return self.target

    def _answers(self) -> bool:
        return self._banner(timeout_s=0.5).startswith(b"SSH-2.0-")

    def start(self) -> Sshd:
        """Make the keys and files, start sshd and wait (15 s at most) for its banner."""
        if self._proc is not None:
            return self
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        self._dir = Path(tempfile.mkdtemp(prefix="netgauge-sshd-"))
        try:
            self.host_public_key = " ".join(
                keygen(self._dir / "ssh_host_ed25519_key", "netgauge-lab-host").split()[:2]
            )
            client_public = keygen(self.client_key, "netgauge-lab-client")
            (self._dir / "authorized_keys").write_text(client_public + "\n")
        except BaseException:
            self.stop()
            raise

        def next_port(attempt: int) -> None:
            if attempt and self.netns is None:  # (a namespace of its own: 22 is free)
                self.port = free_tcp_port(self.address)
            self.write_known_hosts(self.host_public_key)
            (self.directory / "sshd_config").write_text(self.config())

        attempts = 1 if self.netns else _BIND_ATTEMPTS
        return self._launch_on_a_free_port("sshd", attempts, next_port)

    def write_known_hosts(self, public_key: str, path: Path | None = None) -> Path:
        """Write a known_hosts file (ours by default) giving this server ``public_key``."""
        target = path or self.known_hosts
        target.write_text(f"{self.known_hosts_name} {public_key}\n")
        return target

    def _launch(self) -> None:
        directory = self.directory
        inside = ["ip", "netns", "exec", self.netns] if self.netns else []
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(
                [*inside, SSHD, "-D", "-e", "-f", str(directory / "sshd_config")],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    def _banner(self, timeout_s: float) -> bytes:
        """The first line the server sends, or b"" (not listening yet)."""
        try:
            with socket.create_connection((self.address, self.port), timeout=timeout_s) as sock:
                return sock.makefile("rb").readline(256)
        except OSError:
            return b""

    def _descendants(self) -> list[list[tuple[int, int]]]:
        """The processes sshd forked, by generation (its per-connection processes, theirs...),
        each as (pid, parent pid)."""
        if self._proc is None:
            return []
        parents: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        levels, level = [], [(pid, self._proc.pid) for pid in parents.get(self._proc.pid, [])]
        while level:
            levels.append(level)
            level = [(child, pid) for pid, _ in level for child in parents.get(pid, [])]
        return levels

    def drop_connections(self) -> None:
        """End every open SSH connection from the server's side (as a reboot of the device
        would), leaving sshd listening: its descendants are terminated, youngest first, each
        reaped by its own parent (an orphan goes to PID 1, which may reap it late)."""
        for level in reversed(self._descendants()):
            _stop_pids(level)

    def _terminate(self) -> None:
        self.drop_connections()
        super()._terminate()


def _state(pid: int) -> str | None:
    """The process state letter of ``pid`` ("Z": a zombie), None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _stop_pids(processes: list[tuple[int, int]]) -> None:
    """SIGTERM each (pid, parent) still the child of that parent (so never a reused pid),
    SIGKILL those alive after 5 s; then wait (5 s at most) until their parents reaped them."""
    pids = [pid for pid, parent in processes]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid, parent in processes:
            if _parent(pid) == parent and _state(pid) != "Z":
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        while time.monotonic() < deadline and any(_state(pid) not in (None, "Z") for pid in pids):
            time.sleep(0.02)
        if all(_state(pid) in (None, "Z") for pid in pids):
            break
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    while time.monotonic() < deadline and any(_state(pid) is not None for pid in pids):
        time.sleep(0.02)


def missing_throwaway_user() -> str | None:
    """Why :func:`throwaway_user` cannot be used here, or None."""
    if os.geteuid() != 0:
        return "making a throwaway user for the password test needs root"
    for tool in ("useradd", "userdel", "chpasswd"):
        if shutil.which(tool) is None:
            return f"{tool} not found (Debian package passwd)"
    return None


@contextmanager
def throwaway_user() -> Iterator[tuple[str, str]]:
    """A system user ``ngssh<hex>`` with a random password, as (name, password); deleted
    (with its group) afterwards. No home directory; its shell is /bin/sh."""
    name, password = f"ngssh{secrets.token_hex(4)}", secrets.token_urlsafe(18)
    subprocess.run(
        ["useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/bin/sh", name],
        check=True,
        capture_output=True,
        timeout=30,
    )
    try:
        subprocess.run(
            ["chpasswd"],
            input=f"{name}:{password}\n".encode(),
            check=True,
            capture_output=True,
            timeout=30,
        )
        yield name, password
    finally:
        # -f only when a session of the user is still closing (plain userdel refuses then)
        for command in (["userdel", name], ["userdel", "-f", name]):
            done = subprocess.run(command, capture_output=True, timeout=30, check=False)
            if done.returncode in (0, 6):  # 6: no such user (already gone)
                break
