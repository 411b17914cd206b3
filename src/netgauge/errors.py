"""The one exception tree of netgauge.

    NetgaugeError
    ├── ConfigError              bad YAML/settings; carries every problem with its path and line
    ├── InventoryError           inventory rule broken (unknown site, duplicate name, ...)
    │   ├── NotFoundError        an entity asked for by name/id does not exist
    │   └── ConflictError        the name is taken / the entity is still in use
    ├── ForbiddenError           the caller's role may not make this change (an HTTP 403)
    ├── CredentialScopeError     a check would send credentials outside their scope
    ├── ProbeSetupError          a probe cannot run at all here (e.g. no ICMP socket permitted)
    ├── TargetResolutionError    a target address cannot be parsed or resolved
    └── StorageError             a store could not take or give data
        ├── RetryableStorageError   transient: retry with backoff
        │   └── StoragePermissionError  401/403: retried, reported as a permission problem
        └── PermanentStorageError   the data itself was refused: drop, count, log

Failures *of targets* (timeouts, refused connections, loss) are never exceptions: they are
data in a ProbeResult. Third-party errors are translated at the boundary with ``raise ... from``.
"""

from __future__ import annotations

from dataclasses import dataclass


class NetgaugeError(Exception):
    """Root of every error netgauge raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One validation problem, located in the source file."""

    path: str  # dotted YAML path, e.g. "jobs[2].interval"
    message: str
    line: int | None = None  # 1-based line in the YAML file, when known
    file: str | None = None

    def __str__(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.path}: {self.message}"


class ConfigError(NetgaugeError):
    """The configuration is invalid; ``problems`` lists each one with its location."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class InventoryError(NetgaugeError):
    """An inventory rule was broken (unknown reference, duplicate name, ...)."""


class NotFoundError(InventoryError):
    """The entity asked for does not exist."""


class ConflictError(InventoryError):
    """The name is taken or the entity is still in use."""


class ForbiddenError(NetgaugeError):
    """The caller's role may not make this change (the message names the field and who may)."""


class CredentialScopeError(NetgaugeError):
    """A check would send a target's credentials to an address outside their scope: nothing
    is sent, and the target's result says why."""


class ProbeSetupError(NetgaugeError):
    """A probe cannot run on this machine (missing permission, missing tool)."""


class TargetResolutionError(NetgaugeError):
    """A target address cannot be parsed or resolved."""


class StorageError(NetgaugeError):
    """A store could not take or give data."""


class RetryableStorageError(StorageError):
    """Transient storage failure: the same batch may succeed later."""


class StoragePermissionError(RetryableStorageError):
    """The store knows who we are not, or what we may not do (401/403): kept and retried,
    since an administrator's grant fixes it without losing what waited, but said as such."""


class PermanentStorageError(StorageError):
    """The store refused the data itself: retrying cannot help."""


class NotificationError(NetgaugeError):
    """A notification could not be delivered (the receiver refused it or did not answer);
    the outbox retries it."""


class AnalyticsInputError(NetgaugeError):
    """A file given to ``netgauge analytics ...`` cannot be read: names the path and line."""
