"""Where a credential may be sent, and who may decide it.

The model (the README's security section says it for users):

* An admin declares credentials (the YAML file) with an optional ``scope``: address ranges,
  sites, tags. Every dimension given must hold for a target to be *in scope*.
* **At every poll and every "test now"** the target's address is resolved once, the
  address packets would go to is checked against the scope, and only then is anything
  sent, to that very address (no second lookup a DNS change could slip through). Outside
  the scope nothing is sent and the check fails with ``credentials '<name>' not allowed
  for <address>``. A credential without a scope goes wherever an admin attached it.
* **Operators** may attach a credential only to a target inside its scope: a literal IP
  address inside its ranges (a host name's address can change, so only an admin can vouch
  for one), on its sites, with one of its tags. They may not attach an unscoped credential
  at all, nor change the address of a target that holds one; anything else about such a
  target they may change as long as it stays in scope. Admins may do all of it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from netgauge.config.model import CredentialScopeConfig, TargetConfig
from netgauge.errors import CredentialScopeError
from netgauge.models import CredentialScope, IpAddress, Target
from netgauge.probes.icmp_resolve import resolve_address


def scope_of(stored: Mapping[str, Sequence[str]] | None) -> CredentialScope | None:
    """The scope of a stored credential (its JSON column), or None when it has none."""
    if stored is None:
        return None
    return CredentialScopeConfig.model_validate(stored).to_scope()


def _ip(text: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


async def checked_address(target: Target) -> str:
    """The IP address a poll of ``target`` connects to: resolved once, and checked against
    its credentials' scope (CredentialScopeError when outside; TargetResolutionError when it
    cannot be resolved). Connect to this address, never to the name again."""
    resolved = await resolve_address(target.address)
    ref = target.credentials
    if ref is None or ref.scope is None:
        return resolved
    ip = _ip(resolved.partition("%")[0])
    inside = ip is not None and ref.scope.admits_address(ip)
    if not (inside and ref.scope.admits_placement(target.site, target.tags)):
        shown = target.address if resolved == target.address else f"{target.address} ({resolved})"
        raise CredentialScopeError(f"credentials '{ref.name}' not allowed for {shown}")
    return resolved


def operator_refusal(
    old: Mapping[str, Any] | None, new: TargetConfig, scope: CredentialScope | None
) -> tuple[str, str] | None:
    """Why a non-admin may not save ``new`` over ``old`` (the target's fields before, None
    for a new target), as (field, message); None when they may. ``scope`` is that of
    ``new.credentials``."""
    name = new.credentials
    if name is None:
        return None  # nothing will be sent with it
    held = old is not None and old.get("credentials") == name
    if held and old is not None and old.get("address") != new.address:
        return "address", (
            f"the target holds credentials {name!r}: only an admin may change its address"
        )
    placement_changed = (
        old is None
        or old.get("site") != new.site
        or sorted(old.get("tags") or []) != sorted(new.tags)
    )
    if held and not placement_changed:
        return None  # where the credential goes did not change
    if scope is None:
        if held:
            return None  # an admin attached it, unscoped; the address is unchanged
        return "credentials", f"credentials {name!r} have no scope: only an admin may attach them"
    problem = _outside(new, scope)
    if problem is None:
        return None
    return "credentials", f"credentials {name!r} are not allowed for {new.address}: {problem}"


def _outside(target: TargetConfig, scope: CredentialScope) -> str | None:
    """Why ``target`` is not provably inside ``scope`` before any packet is sent."""
    if scope.networks:
        ip = _ip(target.address.partition("%")[0])
        if ip is None:
            return "a host name's address can change (use an IP address, or ask an admin)"
        if not scope.admits_address(ip):
            return f"outside {', '.join(map(str, scope.networks))}"
    if scope.sites and target.site not in scope.sites:
        return f"its site is not one of {', '.join(sorted(scope.sites))}"
    if not scope.admits_placement(target.site, target.tags):
        return f"it has none of the tags {', '.join(sorted(scope.tags))}"
    return None
