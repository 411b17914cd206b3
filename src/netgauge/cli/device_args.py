"""What the ``poll`` commands share: secrets from the environment and ``HOST[:PORT]``.

Secrets never come from the command line (``ps`` and shell history show it): ``NAME``
from the environment, or the file named by ``NAME_FILE`` (its one trailing newline is the
file's, not the secret's). Hosts are ``host``, ``host:port``, ``[v6]:port`` or a bare IPv6
address; an IP address comes back canonical, a name as given.
"""

from __future__ import annotations

import os
from pathlib import Path

from netgauge.cli.app import fail
from netgauge.probes.icmp_resolve import is_hostname, parse_ip_literal


def env_secret(command: str, name: str, what: str | None = None) -> str | None:
    """The secret in ``NAME_FILE``'s file or in ``NAME``; with ``what``, required (a one-line
    error saying what to set), else None when neither is set."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
        except (OSError, UnicodeDecodeError) as exc:
            fail(command, f"cannot read {name}_FILE {path}: {getattr(exc, 'strerror', exc)}")
        if not value:
            fail(command, f"{name}_FILE {path} is empty")
        return value
    from_env = os.environ.get(name) or None
    if from_env is None and what is not None:
        fail(command, f"set {name} (or {name}_FILE) to {what}")
    return from_env


def host_port(command: str, text: str, default_port: int) -> tuple[str, int]:
    """``(host, port)`` from ``HOST[:PORT]``; a one-line error for anything else."""
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    address = parse_ip_literal(host)
    if address is None and not is_hostname(host):
        fail(command, f"invalid HOST {text!r}: expected a host name or an IP address [:PORT]")
    if port_text and (not port_text.isdigit() or not 1 <= int(port_text) <= 65535):
        fail(command, f"invalid port in {text!r}: expected 1..65535")
    return address or host, int(port_text) if port_text else default_port
