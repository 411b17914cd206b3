"""A real VictoriaMetrics single-node server on loopback, for the storage backend's tests.

:class:`VictoriaMetrics` runs Debian's ``/usr/bin/victoria-metrics`` (package
``victoria-metrics``, 1.79.5 on Debian 12) with its data in a temporary directory, listening on
``127.0.0.1:<free port>`` only, with settings that make tests deterministic:

* ``-retentionPeriod=100y``: test timestamps from years ago are kept, not dropped;
* ``-search.disableCache``: reads never answer from a cache filled before the last write
  (and query_range start/end are not aligned to the step);
* ``-search.latencyOffset=0s``: the newest samples are not hidden from queries;
* ``-dedup.minScrapeInterval=0``: no deduplication;
* ``-selfScrapeInterval=0``: it does not write metrics of its own.

:meth:`VictoriaMetrics.flush` calls ``/internal/force_flush`` so written data is searchable at
once. :meth:`VictoriaMetrics.halt` stops the process (SIGTERM: it flushes what it took) but keeps
its port and data; :meth:`VictoriaMetrics.restart` starts it again on both (for tests of a
server that goes away and comes back). :meth:`VictoriaMetrics.stop` (or leaving the ``with``
block) terminates it (SIGTERM, SIGKILL after a deadline), reaps it and removes the directory.
Nothing here talks to any address but 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from tests.lab.daemon import Daemon, free_tcp_port

VICTORIA_METRICS = "/usr/bin/victoria-metrics"

_START_TIMEOUT_S = 20.0
_BIND_ATTEMPTS = 5
_BIND_FAILED = "address already in use"


def missing_victoriametrics() -> str | None:
    """Why the server cannot be used here (one line naming the Debian package), or None."""
    if not os.access(VICTORIA_METRICS, os.X_OK):
        return "victoria-metrics not installed (Debian package victoria-metrics)"
    return None


class VictoriaMetrics(Daemon):
    """victoria-metrics on ``http://127.0.0.1:<port>``, data in a temp dir; a context manager."""

    what = "victoria-metrics"
    start_timeout_s = _START_TIMEOUT_S
    bind_failed = (_BIND_FAILED,)
    poll_s = 0.1

    address = "127.0.0.1"

    def __init__(self) -> None:
        self.port = free_tcp_port(self.address)
        super().__init__()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8428``."""
        return f"http://{self.address}:{self.port}"

    def command(self) -> list[str]:
        """The command line: our data directory, loopback port, deterministic search."""
        return [
            VICTORIA_METRICS,
            f"-storageDataPath={self.directory / 'data'}",
            f"-httpListenAddr={self.address}:{self.port}",
            "-retentionPeriod=100y",
            "-search.disableCache",
            "-search.latencyOffset=0s",
            "-dedup.minScrapeInterval=0",
            "-selfScrapeInterval=0",
            "-loggerLevel=INFO",
        ]

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of its output (for failure messages)."""
        if self._dir is None:
            return ""
        path = self._dir / "victoria-metrics.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def where(self) -> str:
        return self.url

    def _answers(self) -> bool:
        try:
            status, body = self._get("/health", timeout_s=0.5)
        except (OSError, urllib.error.URLError):
            return False
        return status == 200 and body.strip() == "OK"

    def start(self) -> VictoriaMetrics:
        """Start the server and wait (20 s at most) until ``GET /health`` answers OK.

        When another process took the port first, tries again on a new port (5 tries).
        """
        if self._proc is not None:
            return self
        self._dir = Path(tempfile.mkdtemp(prefix="netgauge-vm-"))

        def next_port(attempt: int) -> None:
            if attempt:
                self.port = free_tcp_port(self.address)

        return self._launch_on_a_free_port("victoria-metrics", _BIND_ATTEMPTS, next_port)

    def _launch(self) -> None:
        # appended to: a restart keeps the log of the earlier run
        with open(self.directory / "victoria-metrics.log", "ab") as log:
            self._proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )

    def _get(self, path: str, timeout_s: float = 2.0) -> tuple[int, str]:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=timeout_s) as response:
            return int(response.status), response.read().decode(errors="replace")

    def flush(self) -> None:
        """Make everything written so far searchable now (``/internal/force_flush``)."""
        status, body = self._get("/internal/force_flush", timeout_s=10.0)
        if status != 200:
            raise RuntimeError(f"force_flush answered {status}: {body}")
