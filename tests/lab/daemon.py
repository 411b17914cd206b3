"""What every lab server process has in common: it lives in a temporary directory of its
own, stops with SIGTERM (SIGKILL after a bound), and is a context manager that always
cleans up. ``Snmpd`` and ``Sshd`` build on it; each knows how to start itself."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Self

STOP_TIMEOUT_S = 5.0


def terminate(proc: subprocess.Popen[bytes] | None, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM ``proc``, SIGKILL it if it is still there after ``timeout_s``, and reap it."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout_s)


class Daemon:
    """A lab server process and its directory; subclasses implement :meth:`start`."""

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def _terminate(self) -> None:
        """Stop the process (subclasses may stop more first, then call this)."""
        proc, self._proc = self._proc, None
        terminate(proc)

    def stop(self) -> None:
        """Terminate the process (SIGKILL after 5 s), reap it and remove its directory."""
        self._terminate()
        directory, self._dir = self._dir, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
