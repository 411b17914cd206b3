"""Reading a device's secrets at poll time, from where its credentials reference says.

The configuration and the database hold only *references* (``CredentialRef``): per field,
the name of an environment variable or the path of a file, or the secret sealed under
netgauge's key when it was typed into the console or API. The value is read (opened) when
a poll needs it, so rotating a secret needs no restart and no secret ever sits in the config,
the database or a log line. A reference that points nowhere is the poll's error, naming
the variable or file, not a crash.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from netgauge.credentials import vault
from netgauge.errors import NetgaugeError
from netgauge.models import CredentialRef


class SecretMissingError(NetgaugeError):
    """A credentials reference names a variable or a file that does not hold the secret."""


def secret(
    ref: CredentialRef, field: str, *, environ: Mapping[str, str] | None = None
) -> str | None:
    """The value of ``field`` of ``ref`` (stored sealed, else its file, else its variable);
    None when the reference does not mention the field. Raises SecretMissingError when it
    does but the variable is unset, the file unreadable or the stored value unopenable."""
    env = os.environ if environ is None else environ
    sealed = ref.sealed.get(field)
    if sealed:  # entered in the console or API
        try:
            return vault.current().open(ref.name, field, sealed)
        except vault.VaultError as exc:
            raise SecretMissingError(str(exc)) from None
    path = ref.files.get(field)
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretMissingError(
                f"credentials {ref.name!r}: cannot read {field} from {path}: {exc.strerror}"
            ) from None
    variable = ref.env.get(field)
    if variable:
        value = env.get(variable)
        if not value:
            raise SecretMissingError(
                f"credentials {ref.name!r}: environment variable {variable} ({field}) is not set"
            )
        return value
    return None
