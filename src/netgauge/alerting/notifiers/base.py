"""What every notifier is: a name, its config, ``send(payload)`` and ``close()``.

A notifier turns the stored payload (Alertmanager's webhook JSON) into its receiver's
format and delivers it, or raises :class:`NotificationError` with words that name the
receiver's answer and never a secret (a chat URL's token, an SMTP password).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from netgauge.config.alerts import NotifierConfig
from netgauge.errors import NotificationError
from netgauge.models import CredentialRef
from netgauge.pollers.secrets import SecretMissingError, secret


class Notifier:
    """Base class: subclasses implement :meth:`send`."""

    def __init__(self, cfg: NotifierConfig) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self._ref = CredentialRef(
            f"notifier {cfg.name}",
            "notifier",
            env={
                k: v
                for k, v in (
                    ("url", cfg.url_env),
                    ("hmac", cfg.hmac_secret_env),
                    ("password", cfg.smtp_password_env),
                )
                if v
            },
            files={
                k: v
                for k, v in (
                    ("url", cfg.url_file),
                    ("hmac", cfg.hmac_secret_file),
                    ("password", cfg.smtp_password_file),
                )
                if v
            },
        )

    def tls_context(self) -> ssl.SSLContext:
        """Verifies the receiver by the system's CAs, or by ``tls_ca_file``'s."""
        try:
            return ssl.create_default_context(cafile=self.cfg.tls_ca_file)
        except OSError as exc:
            raise NotificationError(
                f"notifier {self.name!r}: cannot read tls_ca_file {self.cfg.tls_ca_file}: "
                f"{exc.strerror}"
            ) from None

    def secret(self, field: str) -> str | None:
        """A secret of this notifier, read now (rotating one needs no restart)."""
        try:
            return secret(self._ref, field)
        except SecretMissingError as exc:
            raise NotificationError(str(exc)) from None

    def url(self) -> str:
        """The receiver's URL (from the config, or its variable or file)."""
        url = self.cfg.url or self.secret("url")
        if not url:
            raise NotificationError(f"notifier {self.name!r} has no URL")
        return url

    def where(self) -> str:
        """Where it sends, for people: scheme and host only (a URL may hold a token)."""
        from urllib.parse import urlsplit

        if self.cfg.kind == "email":
            return f"smtp://{self.cfg.smtp_host}:{self.cfg.smtp_port}"
        if self.cfg.url is None:
            return "(URL from " + ("a file" if self.cfg.url_file else "the environment") + ")"
        parts = urlsplit(self.cfg.url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"

    async def send(self, payload: Mapping[str, Any], notification_id: int) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Release connections (nothing to release by default)."""


__all__ = ["Notifier"]
