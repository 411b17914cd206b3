"""A real InfluxDB 1.x server on loopback: Debian's ``influxd`` with a config of our own.

:class:`InfluxDB` runs ``/usr/bin/influxd -config <dir>/influxdb.conf`` where every
directory (meta, data, wal) is inside a temporary directory of its own, the HTTP API is
bound to ``127.0.0.1:<free port>`` and the RPC (backup/restore) service to
``127.0.0.1:<another free port>``. Usage reporting, the UDP, graphite, collectd and
opentsdb listeners, ifql, the monitor's self-storage and continuous queries are off (the
admin UI no longer exists in 1.6). It is ready when ``GET /ping`` answers 204.

:meth:`InfluxDB.restart` stops the process and starts it again on the same port with the
same data (for tests of a server that goes away and comes back). :meth:`InfluxDB.stop`
terminates it (SIGTERM, SIGKILL after a deadline), reaps it and removes the directory.
Nothing here sends to any address but 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from tests.lab.daemon import Daemon, free_tcp_port

INFLUXD = "/usr/bin/influxd"
_START_TIMEOUT_S = 20.0
_BIND_ATTEMPTS = 5
_BIND_FAILED = "address already in use"


def missing_influxdb() -> str | None:
    """Why influxd cannot be used here (one line naming the Debian package), or None."""
    if not os.access(INFLUXD, os.X_OK):
        return "influxd not installed (Debian package influxdb)"
    return None


class InfluxDB(Daemon):
    """influxd on ``http://127.0.0.1:<port>``; a context manager. ``auth=True`` turns
    authentication on (the first user, created without credentials, must be an admin)."""

    what = "influxd"
    start_timeout_s = _START_TIMEOUT_S
    bind_failed = (_BIND_FAILED,)
    poll_s = 0.1

    address = "127.0.0.1"

    def __init__(self, *, auth: bool = False) -> None:
        self.auth = auth
        self.port = free_tcp_port(self.address)
        self.rpc_port = free_tcp_port(self.address)
        super().__init__()

    @property
    def url(self) -> str:
        """The base URL of the HTTP API."""
        return f"http://{self.address}:{self.port}"

    def config(self) -> str:
        """The influxdb.conf text: our directories and loopback ports, every extra off."""
        d = self.directory
        return f"""# written by tests/lab/influxdb.py for one test server
reporting-enabled = false
bind-address = "{self.address}:{self.rpc_port}"

[meta]
  dir = "{d / "meta"}"
  logging-enabled = false

[data]
  dir = "{d / "data"}"
  wal-dir = "{d / "wal"}"
  query-log-enabled = false
  wal-fsync-delay = "0s"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "{self.address}:{self.port}"
  auth-enabled = {"true" if self.auth else "false"}
  log-enabled = false
  pprof-enabled = false

[ifql]
  enabled = false

[continuous_queries]
  enabled = false

[logging]
  level = "warn"

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false
"""

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of influxd's output (for failure messages)."""
        if self._dir is None:
            return ""
        path = self._dir / "influxd.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def where(self) -> str:
        return self.url

    def _answers(self) -> bool:
        return self.ping()

    def start(self) -> InfluxDB:
        """Start the server and wait (20 s at most) until ``/ping`` answers 204.

        When another process took a port first, tries again on new ports (5 tries).
        """
        if self._proc is not None:
            return self
        self._dir = Path(tempfile.mkdtemp(prefix="netgauge-influxdb-"))

        def next_port(attempt: int) -> None:
            if attempt:
                self.port = free_tcp_port(self.address)
                self.rpc_port = free_tcp_port(self.address)
            (self.directory / "influxdb.conf").write_text(self.config())

        return self._launch_on_a_free_port("influxd", _BIND_ATTEMPTS, next_port)

    def _launch(self) -> None:
        directory = self.directory
        with open(directory / "influxd.log", "ab") as log:
            self._proc = subprocess.Popen(
                [INFLUXD, "-config", str(directory / "influxdb.conf")],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={**os.environ, "INFLUXDB_CONFIG_PATH": str(directory / "influxdb.conf")},
            )

    def ping(self, timeout_s: float = 0.5) -> bool:
        """Whether ``GET /ping`` answers 204 now."""
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=timeout_s) as resp:
                return int(resp.status) == 204
        except (urllib.error.URLError, OSError):
            return False
