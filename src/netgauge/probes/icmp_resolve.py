"""Turning what the user typed into an IP address, before any packet is sent.

IP literals are used as they are. Names are checked against the hostname syntax of
RFC 1123 first, so that junk such as ``not a host!!`` or ``999.1.1.1`` is refused without a
DNS query, and names under ``.invalid`` are refused without one too (RFC 6761 section 6.4).
Everything else goes to ``getaddrinfo`` through the event loop.

An IPv4-mapped IPv6 address (``::ffff:127.0.0.1``, typed or returned by the resolver) is
turned into the IPv4 address it maps (``127.0.0.1``): it is probed over IPv4, because an
echo request sent to it on an ICMPv6 socket never gets its reply back. The target keeps
the name as given; its address (what the CLI prints in the address column) is the IPv4 one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence

from netgauge.errors import TargetResolutionError
from netgauge.models import Target

Lookup = Callable[[str], Awaitable[list[str]]]
"""Name -> IP address strings (first preferred); injected by tests instead of DNS."""

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_RESOLVE_CONCURRENCY = 64  # name lookups in flight at once (the resolver is shared)


def parse_ip_literal(text: str) -> str | None:
    """The canonical form of an IPv4/IPv6 literal (``[v6]``, ``fe80::…%zone``), else None.

    IPv4-mapped IPv6 becomes plain IPv4: ``::ffff:127.0.0.1`` -> ``127.0.0.1``.
    """
    if _is_canonical_ipv4(text):  # the common case, 20x cheaper than ipaddress
        return text
    candidate = text.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    address, _, zone = candidate.partition("%")
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return None if zone else str(parsed.ipv4_mapped)
    if zone and parsed.version == 6 and parsed.is_link_local:
        return f"{parsed.compressed}%{zone}"  # a zone means something only on link-local
    return None if zone else parsed.compressed


def _is_canonical_ipv4(text: str) -> bool:
    """True for a dotted quad already in canonical form (``198.18.0.1``, no leading zeros)."""
    try:
        return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, text)) == text
    except (OSError, ValueError):
        return False


def is_hostname(text: str) -> bool:
    """True when ``text`` is a syntactically valid DNS host name (RFC 1123)."""
    name = text[:-1] if text.endswith(".") else text
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    # An all-numeric last label is a mistyped IPv4 address (e.g. 999.1.1.1), not a name.
    return all(_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


async def system_lookup(name: str) -> list[str]:
    """Addresses of ``name`` from the system resolver (getaddrinfo via the running loop)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(name, None, type=socket.SOCK_DGRAM)
    return [str(info[4][0]) for info in infos]


async def resolve_address(name: str, *, lookup: Lookup = system_lookup) -> str:
    """The IP address to probe for ``name``; raises TargetResolutionError if there is none."""
    literal = parse_ip_literal(name)
    if literal is not None:
        return literal
    if not is_hostname(name):
        raise TargetResolutionError(f"{name!r} is neither an IP address nor a valid host name")
    if name.rstrip(".").lower().endswith(".invalid") or name.lower() == "invalid":
        raise TargetResolutionError(f"{name!r} cannot be resolved (the .invalid domain never is)")
    try:
        addresses = await lookup(name)
    except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
        raise TargetResolutionError(f"{name!r} cannot be resolved: {exc}") from exc
    for address in addresses:
        literal = parse_ip_literal(address)
        if literal is not None:
            return literal
    raise TargetResolutionError(f"{name!r} cannot be resolved: no address")


async def resolve_each(
    names: Sequence[str], *, lookup: Lookup = system_lookup
) -> list[str | TargetResolutionError]:
    """The address of every name, or its resolution error, in order (never raises).

    Literals cost nothing; names are looked up by a few workers (not a task per name), so
    thousands of them neither create thousands of tasks nor flood the resolver.
    """
    results: list[str | TargetResolutionError] = []
    to_lookup: list[int] = []
    for i, name in enumerate(names):
        results.append(parse_ip_literal(name) or "")
        if not results[i]:
            to_lookup.append(i)
    work = iter(to_lookup)

    async def worker() -> None:
        for i in work:  # one shared iterator: each index is taken by exactly one worker
            try:
                results[i] = await resolve_address(names[i], lookup=lookup)
            except TargetResolutionError as exc:
                results[i] = exc

    async with asyncio.TaskGroup() as group:
        for _ in range(min(_RESOLVE_CONCURRENCY, len(to_lookup))):
            group.create_task(worker())
    return results


async def resolve_targets(names: Sequence[str], *, lookup: Lookup = system_lookup) -> list[Target]:
    """One Target per name (name kept, address resolved), in order; the first failure raises.

    Every name's syntax is checked before the first query, so a typo costs no DNS traffic.
    IP literals are parsed once (10,000 of them are a one-shot command's whole input).
    """
    literals = [parse_ip_literal(name) for name in names]
    to_lookup = [name for name, literal in zip(names, literals, strict=True) if literal is None]
    for name in to_lookup:
        if not is_hostname(name):
            raise TargetResolutionError(f"{name!r} is neither an IP address nor a valid host name")
    looked_up = iter(await resolve_each(to_lookup, lookup=lookup) if to_lookup else ())
    targets = []
    for name, literal in zip(names, literals, strict=True):
        address = literal if literal is not None else next(looked_up)
        if isinstance(address, TargetResolutionError):
            raise address
        targets.append(Target(name=name, address=address))
    return targets
