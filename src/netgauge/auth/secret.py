"""The key access tokens are signed with: ``NETGAUGE_SECRET_KEY`` or the file named by
``NETGAUGE_SECRET_KEY_FILE``; without either, a random key generated at first start into
``<data_dir>/secret.key`` (mode 0600), so that logins survive a restart. Never in the config
file, the database or a log."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from netgauge.errors import ConfigError, ConfigProblem

MIN_BYTES = 32  # HS256 wants a key at least as long as its hash


def signing_key(secret: str | None, secret_file: Path | None, data_dir: Path) -> bytes:
    """The signing key from the setting, its file, or the generated file."""
    if secret is not None:
        return _checked(secret.encode(), "secret_key")
    if secret_file is not None:
        try:
            return _checked(secret_file.read_bytes().strip(), "secret_key_file")
        except OSError as exc:
            raise _problem("secret_key_file", f"cannot read {secret_file}: {exc}") from exc
    path = data_dir / "secret.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return _checked(path.read_bytes().strip(), str(path))


def _checked(key: bytes, where: str) -> bytes:
    if len(key) < MIN_BYTES:
        raise _problem(where, f"at least {MIN_BYTES} bytes")
    return key


def _problem(path: str, message: str) -> ConfigError:
    return ConfigError([ConfigProblem(path, message, None, "<settings>")])
