"""Issue: the data directory (password hashes, every sample, the token signing key, SSH host
keys) was made with the process's umask, often world-readable. Contract: the directory is
created 0700 and its files 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from netgauge.auth.roles import Role
from netgauge.config.settings import StoreSettings
from tests.conftest import wait_for
from tests.integration.security.conftest import Served, bearer

pytestmark = pytest.mark.fresh_data_dir  # what the first start creates, not the fixture


def modes(data: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(data.stat().st_mode)}
    for root, dirs, files in os.walk(data):
        for name in dirs + files:
            path = Path(root) / name
            found[str(path.relative_to(data))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def private(found: dict[str, int]) -> dict[str, str]:
    """What is open to anyone but the owner (empty: nothing)."""
    return {path: oct(mode) for path, mode in found.items() if mode & 0o077}


def test_a_service_keeps_its_data_directory_to_itself(
    serve: Callable[..., TestClient], tmp_path: Path
) -> None:
    old = os.umask(0o022)  # the usual umask: what the code must not depend on
    try:
        client = serve(
            "targets: [{name: gw, address: 127.0.0.1}]\n",
            # a second store (never reachable: nothing listens on port 9) has a spool file
            stores=[StoreSettings(kind="victoriametrics", url="http://127.0.0.1:9")],
        )
        admin = bearer(client, Role.ADMIN)
        assert client.get("/api/v1/targets", headers=admin).status_code == 200
        data = client.app.state.service.settings.data_dir  # type: ignore[attr-defined]
        assert (data / "spool" / "victoriametrics.db").exists()
        found = modes(data)
    finally:
        os.umask(old)
    assert found["."] == 0o700
    assert {"inventory.db", "metrics.db", "secret.key"} <= set(found)
    assert private(found) == {}, found


def test_an_existing_open_data_directory_is_closed(
    serve: Callable[..., TestClient], tmp_path: Path
) -> None:
    data = tmp_path / "open"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    serve(data_dir=data)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


def test_netgauge_serve_keeps_its_data_directory_to_itself(
    netgauge_serve: Callable[..., Served],
) -> None:
    served = netgauge_serve("targets: [{name: gw, address: 127.0.0.1}]\n")
    served.admin_token()
    wait_for(lambda: (served.data / "metrics.db").exists(), what="the metrics file")
    found = modes(served.data)
    assert found["."] == 0o700 and private(found) == {}, found
