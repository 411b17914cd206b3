"""What the SSH poller keeps between polls: a connection cut short mid-poll is not kept,
and a rotated key file is read again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from netgauge.pollers.ssh import SshCredentials, SshEndpoint, SshPoller, _Cached


class FakeConnection:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def is_closed(self) -> bool:
        return self.closed


async def test_a_poll_cut_short_does_not_leave_its_connection_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    poller = SshPoller()
    endpoint, credentials = SshEndpoint("192.0.2.1"), SshCredentials("root", password="pw")
    connection = FakeConnection()
    key = (endpoint.host, endpoint.port, credentials)
    poller._connections[key] = _Cached(connection)  # type: ignore[arg-type]
    started = asyncio.Event()

    async def stuck(*_args: Any) -> Any:
        started.set()
        await asyncio.Event().wait()  # the command never returns

    monkeypatch.setattr(poller, "_run", stuck)
    task = asyncio.create_task(poller.poll("h", endpoint, credentials))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert key not in poller._connections and connection.closed


def test_a_rotated_key_file_is_read_again(tmp_path: Path) -> None:
    import os

    poller = SshPoller()
    path = tmp_path / "id"
    first = asyncssh.generate_private_key("ssh-ed25519")
    first.write_private_key(str(path))
    assert poller._client_key(path).public_data == first.public_data
    second = asyncssh.generate_private_key("ssh-ed25519")
    second.write_private_key(str(path))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert poller._client_key(path).public_data == second.public_data
