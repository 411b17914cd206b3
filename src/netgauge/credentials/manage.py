"""Credentials managed in the console and the API (admins): references and stored secrets.

The one place that decides what a credentials entry may hold and how it is shown: the API
routes and the console pages both call :class:`CredentialsManager`. A secret typed in is
sealed (``credentials.vault``) before it reaches the inventory and is never shown again:
a view says, per field, only where its value comes from (``stored``, ``env:VAR``,
``file:PATH``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator

from netgauge.config.base import StrictModel
from netgauge.config.model import CredentialConfig, CredentialScopeConfig
from netgauge.credentials.vault import Vault
from netgauge.errors import ConflictError, InventoryError, NotFoundError
from netgauge.inventory import Inventory
from netgauge.inventory.tables import Credential

# the values each kind reads (pollers.jobs, alerting notifiers): what may be stored
STORED_FIELDS: dict[str, tuple[str, ...]] = {
    "snmp": ("community", "auth_key", "priv_key", "auth_protocol", "priv_protocol"),
    "ssh": ("password", "private_key"),
    "winrm": ("password",),
    "http": ("password", "token"),
    "token": ("token",),
}
# how the console names them
FIELD_LABELS = {
    "community": "Community (v1/v2c)",
    "auth_key": "Auth password (v3)",
    "priv_key": "Privacy password (v3)",
    "auth_protocol": "Auth protocol (v3: MD5, SHA, SHA256...)",
    "priv_protocol": "Privacy protocol (v3: DES, AES...)",
    "password": "Password",
    "private_key": "Private key (OpenSSH or PEM, unencrypted)",
    "token": "Token",
}
MAX_SECRET_CHARS = 16_384  # a 4096-bit private key in PEM is about 3,300


class CredentialIn(StrictModel):
    """What an admin sends: references as in the YAML, and ``secrets`` to store (a value
    sets a field, ``null`` removes a stored one, a field left out keeps what it had)."""

    kind: Literal["snmp", "ssh", "winrm", "http", "token"]
    username: str | None = Field(None, max_length=128)
    scope: CredentialScopeConfig | None = None
    env: dict[str, str] = Field(default_factory=dict)
    files: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, str | None] = Field(default_factory=dict, repr=False)

    @field_validator("secrets")
    @classmethod
    def _sizes(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        for key, secret in value.items():
            if secret is not None and not secret.strip():
                raise ValueError(f"secrets.{key}: empty; send null to remove a stored value")
            if secret is not None and len(secret) > MAX_SECRET_CHARS:
                raise ValueError(f"secrets.{key}: longer than {MAX_SECRET_CHARS} characters")
            if secret is not None and "\x00" in secret:
                raise ValueError(f"secrets.{key}: holds a NUL character")
        return value


@dataclass(frozen=True)
class CredentialView:
    """A credentials entry as the API and the console show it: never a secret."""

    name: str
    kind: str
    username: str | None
    scope: dict[str, list[str]] | None
    fields: dict[str, str]  # field → "stored", "env:VAR" or "file:PATH"
    source: str
    targets: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "username": self.username,
            "scope": self.scope,
            "fields": self.fields,
            "source": self.source,
            "targets": self.targets,
        }


def view_of(row: Credential, targets: int = 0) -> CredentialView:
    fields = {k: f"env:{v}" for k, v in row.env.items()}
    fields.update({k: f"file:{v}" for k, v in row.files.items()})
    fields.update(dict.fromkeys(row.sealed or {}, "stored"))
    return CredentialView(
        row.name, row.kind, row.username, row.scope, dict(sorted(fields.items())), row.source,
        targets,
    )  # fmt: skip


class CredentialsManager:
    """Lists, saves and deletes credentials entries for the API and the console."""

    def __init__(self, inventory: Inventory, vault: Vault) -> None:
        self.inventory, self.vault = inventory, vault

    def list(self) -> list[CredentialView]:
        used = self.inventory.credential_use()
        return [view_of(row, used.get(row.name, 0)) for row in self.inventory.list_credentials()]

    def get(self, name: str) -> CredentialView:
        return view_of(
            self.inventory.get_credential(name), self.inventory.credential_use().get(name, 0)
        )

    def put(self, name: str, body: CredentialIn, actor: str) -> tuple[CredentialView, bool]:
        """Create or update ``name``; (its view, whether it was created)."""
        existing = self._existing(name)
        if existing is not None and existing.source == "yaml":
            raise ConflictError(
                f"credentials {name!r} are declared in the configuration file: change them "
                "there (the file wins at every start)"
            )
        self._check(body)
        cfg = CredentialConfig(
            name=name,
            kind=body.kind,
            env=body.env,
            files=body.files,
            username=body.username,
            scope=body.scope,
        )
        sealed = {
            key: None if value is None else self.vault.seal(name, key, value)
            for key, value in body.secrets.items()
        }
        if existing is not None and existing.kind != body.kind:  # another kind's values
            sealed.update({k: None for k in existing.sealed or {} if k not in sealed})
        row = self.inventory.put_credential(cfg, actor, "api", sealed)
        return view_of(row), existing is None

    def delete(self, name: str, actor: str) -> None:
        existing = self.inventory.get_credential(name)
        if existing.source == "yaml":
            raise ConflictError(
                f"credentials {name!r} are declared in the configuration file: remove them there"
            )
        self.inventory.delete_credential(name, actor)

    def _existing(self, name: str) -> Credential | None:
        try:
            return self.inventory.get_credential(name)
        except NotFoundError:
            return None

    @staticmethod
    def _check(body: CredentialIn) -> None:
        allowed = STORED_FIELDS[body.kind]
        for key in body.secrets:
            if key not in allowed:
                raise InventoryError(
                    f"secrets.{key}: {body.kind} credentials store "
                    f"{', '.join(allowed)}, not {key!r}"
                )
            if key in body.env or key in body.files:
                where = "env" if key in body.env else "files"
                raise InventoryError(
                    f"secrets.{key}: {key} comes from {where}.{key} already: store it or "
                    "reference it, not both"
                )


__all__ = [
    "FIELD_LABELS",
    "STORED_FIELDS",
    "CredentialIn",
    "CredentialView",
    "CredentialsManager",
    "view_of",
]
