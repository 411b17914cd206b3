"""What every lab server process has in common: it lives in a temporary directory of its
own, stops with SIGTERM (SIGKILL after a bound), and is a context manager that always
cleans up. ``Snmpd`` and ``Sshd`` build on it; each knows how to start itself."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

STOP_TIMEOUT_S = 5.0


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (another process may take it before we do:
    hence :meth:`Daemon._launch_on_a_free_port`)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port free on ``host`` right now (same caveat)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


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

    what: ClassVar[str] = "server"  # its name in messages
    start_timeout_s: ClassVar[float] = 15.0
    bind_failed: ClassVar[tuple[str, ...]] = ()  # what its log says when the port is taken
    poll_s: ClassVar[float] = 0.1

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def directory(self) -> Path:
        """The temporary directory of the running server."""
        if self._dir is None:
            raise RuntimeError(f"{self.what} is not started")
        return self._dir

    @property
    def where(self) -> str:
        """Where it listens, for messages."""
        raise NotImplementedError

    def _answers(self) -> bool:
        """Whether it serves now (one quick, bounded attempt)."""
        raise NotImplementedError

    def start(self) -> Self:
        raise NotImplementedError

    # -- for start(): launch on a port, and on another when that one was taken --------------

    def _launch(self) -> None:
        """Start the process once (on the current port)."""
        raise NotImplementedError

    def _wait_ready(self) -> bool:
        """True once it serves; False when it exited because its port was taken; an error
        with the end of its log when it exited otherwise or stayed silent too long."""
        proc = self._proc
        assert proc is not None
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            if proc.poll() is not None:
                if any(text in self.log_tail(50) for text in self.bind_failed):
                    return False
                raise RuntimeError(
                    f"{self.what} exited with status {proc.returncode} on {self.where}; "
                    f"its log ends:\n{self.log_tail()}"
                )
            if self._answers():
                return True
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.what} not answering on {self.where} after "
                    f"{self.start_timeout_s:.0f} s; its log ends:\n{self.log_tail()}"
                )
            time.sleep(self.poll_s)

    def log_tail(self, lines: int = 20) -> str:
        """The end of its log, for failure messages."""
        raise NotImplementedError

    def _launch_on_a_free_port(
        self, what: str, attempts: int, next_port: Callable[[int], None]
    ) -> Self:
        """Launch until it serves: another process may take a free port between our choice
        and its bind, so each retry first calls ``next_port(attempt)`` (pick a new port,
        rewrite what names it). Stops and cleans up on any failure."""
        try:
            for attempt in range(attempts):
                next_port(attempt)
                self._launch()
                if self._wait_ready():
                    return self
                self._terminate()
            raise RuntimeError(
                f"{what} could not open its port ({attempts} ports tried); its log ends:\n"
                f"{self.log_tail()}"
            )
        except BaseException:
            self.stop()
            raise

    def halt(self) -> None:
        """Stop the process but keep its directory and port(s) (start again with restart())."""
        self._terminate()

    def restart(self) -> Self:
        """Start the process again (stopping it first if it runs) on the same port(s) and
        data; waits until it answers, like start(). Stops and cleans up on failure (a port
        may have been taken meanwhile: then this fails rather than moving)."""
        if self._dir is None:
            return self.start()
        self._terminate()
        self._launch()
        try:
            if not self._wait_ready():
                raise RuntimeError(
                    f"{self.what} could not reopen {self.where} on restart; its log ends:\n"
                    f"{self.log_tail()}"
                )
        except BaseException:
            self.stop()
            raise
        return self

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
