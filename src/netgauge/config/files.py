"""Which local files a job may name (``known_hosts``, ``ca_file``, ``tls_ca_file``,
``resolv_conf``, ``profiles_dir``).

A job is written by an operator over the API, and the server runs as whoever started it
(often root): a path in a job is a path the server reads, and for ``known_hosts`` one it
creates and appends to. So every path a job names must lie inside netgauge's data directory
or a directory an admin listed in the ``file_dirs`` setting; a parameter left at its own
default (``/etc/resolv.conf``) is netgauge's choice, not the job's, and always allowed.

The answer never depends on whether the file exists (no existence oracle): the check is on
the path alone, after ``..`` and symbolic links are resolved as far as they exist.

Params fields that hold paths say so with ``Annotated[str | None, LocalFile()]``; the check
(``ProbeParams``' validator) runs whenever params are validated with a policy in the
validation context: saving a job, running one, "test now", the probes API (see
:func:`validation_context`). The command line
(``netgauge probe``, ``netgauge poll``) validates without one: a user's own paths are theirs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONTEXT_KEY = "netgauge_files"


@dataclass(frozen=True, slots=True)
class LocalFile:
    """Marks a params field as a local path. ``default_name``: under a policy, the default
    is this name inside the data directory (netgauge's own ``known_hosts``), not the field's
    plain default (which points at the invoking user's files)."""

    default_name: str | None = None


@dataclass(frozen=True, slots=True)
class FilePolicy:
    """The directories whose files jobs may name: the data directory, then ``file_dirs``."""

    data_dir: Path
    extra_dirs: tuple[Path, ...] = ()

    def roots(self) -> tuple[Path, ...]:
        """Each allowed directory, absolute and with its symbolic links resolved."""
        return tuple(Path(os.path.realpath(d)) for d in (self.data_dir, *self.extra_dirs))

    def refusal(self, value: str) -> str | None:
        """Why a job may not name ``value``, or None when it may."""
        where = f"the data directory {self.roots()[0]}"
        if len(self.roots()) > 1:
            where += " or a directory of the file_dirs setting"
        if "\0" in value or not os.path.isabs(value):
            return f"must be an absolute path inside {where}"
        lexical = Path(os.path.normpath(value))
        real = Path(os.path.realpath(value))
        for given, root in zip((self.data_dir, *self.extra_dirs), self.roots(), strict=True):
            # named under the directory as written or as it really is (it may be a link),
            # and really inside it once links are followed
            spelled = Path(os.path.normpath(os.path.abspath(given)))
            if (_inside(lexical, spelled) or _inside(lexical, root)) and _inside(real, root):
                return None
        return f"must lie inside {where}"

    def default_path(self, name: str) -> str:
        """``name`` inside the data directory."""
        return str(self.roots()[0] / name)

    def apply(self, marker: LocalFile, value: object, default: object) -> object:
        """The value a path field takes under this policy: checked (ValueError saying why
        not), or this policy's default for an unset field with a ``default_name``."""
        if value is None:
            return self.default_path(marker.default_name) if marker.default_name else None
        if value == default or not isinstance(value, str):
            return value  # netgauge's own default; a non-string fails the field's own type
        problem = self.refusal(value)
        if problem is not None:
            raise ValueError(problem)
        return value


def policy_in(context: object) -> FilePolicy | None:
    """The policy a validation context carries, if any."""
    if isinstance(context, Mapping):
        found = context.get(CONTEXT_KEY)
        return found if isinstance(found, FilePolicy) else None
    return None


NO_FILES = FilePolicy(Path("/nonexistent/netgauge-no-files"))
"""A policy that admits no path a job names (only each field's own default): what an
inventory used on its own, without a service's data directory, holds jobs to."""


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def validation_context(policy: FilePolicy | None) -> dict[str, Any] | None:
    """The pydantic validation context that makes params obey ``policy``."""
    return None if policy is None else {CONTEXT_KEY: policy}
