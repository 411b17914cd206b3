"""Where a credential may go: the scope's rule, what an operator may save, and the check
made at poll time (resolution included)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from netgauge.config.model import CredentialScopeConfig, TargetConfig
from netgauge.credentials.scope import checked_address, operator_refusal
from netgauge.errors import CredentialScopeError
from netgauge.models import CredentialRef, CredentialScope, Target

LAB = CredentialScopeConfig(addresses=["10.0.0.0/8", "2001:db8::/32"]).to_scope()


def target(address: str, site: str | None = None, tags: tuple[str, ...] = ()) -> TargetConfig:
    return TargetConfig(name="t", address=address, site=site, tags=list(tags), credentials="core")


def fields(cfg: TargetConfig) -> dict[str, Any]:
    return {"address": cfg.address, "site": cfg.site, "tags": cfg.tags, "credentials": "core"}


@pytest.mark.parametrize(
    ("address", "inside"),
    [("10.1.2.3", True), ("11.0.0.1", False), ("2001:db8::7", True), ("2001:db9::1", False)],
)
def test_the_address_must_lie_in_one_of_the_ranges(address: str, inside: bool) -> None:
    assert LAB.admits_address(ipaddress.ip_address(address)) is inside


def test_every_dimension_given_must_hold_and_tags_are_any_of() -> None:
    scope = CredentialScope(sites=frozenset({"hq"}), tags=frozenset({"core", "edge"}))
    assert scope.admits_placement("hq", ["edge", "lab"])
    assert not scope.admits_placement("branch", ["edge"])
    assert not scope.admits_placement("hq", ["lab"])
    assert not scope.admits_placement(None, ["core"])
    assert CredentialScope().admits_placement(None, [])  # nothing given: no restriction


def test_an_operator_may_attach_inside_the_scope_only() -> None:
    assert operator_refusal(None, target("10.9.9.9"), LAB) is None
    field, message = operator_refusal(None, target("192.168.1.1"), LAB) or ("", "")
    assert field == "credentials" and "outside 10.0.0.0/8, 2001:db8::/32" in message
    # a host name's address can change after the check: not provable, so not theirs
    assert operator_refusal(None, target("router.lab.example"), LAB) is not None
    # without a scope, only an admin vouches for where it goes
    field, message = operator_refusal(None, target("10.9.9.9"), None) or ("", "")
    assert field == "credentials" and "no scope" in message


def test_an_operator_may_not_move_a_target_holding_credentials() -> None:
    old = fields(target("10.0.0.5"))
    moved = operator_refusal(old, target("10.0.0.6"), LAB)
    assert moved is not None and moved[0] == "address"
    # an admin attached an unscoped credential: its address is still the admin's to change
    assert operator_refusal(old, target("10.0.0.6"), None) is not None
    # other fields are theirs, as long as the target stays inside the scope
    assert operator_refusal(old, target("10.0.0.5", tags=("lab",)), LAB) is None
    assert operator_refusal(old, target("10.0.0.5", tags=("lab",)), None) is None
    by_site = CredentialScope(sites=frozenset({"hq"}))
    hq = fields(target("10.0.0.5", site="hq"))
    assert operator_refusal(hq, target("10.0.0.5", site="branch"), by_site) is not None
    # detaching is always allowed: nothing will be sent
    detached = TargetConfig(name="t", address="192.168.9.9", credentials=None)
    assert operator_refusal(old, detached, LAB) is None


async def test_a_poll_outside_the_scope_is_refused_before_anything_is_sent() -> None:
    ref = CredentialRef("core", "snmp", scope=LAB)
    assert await checked_address(Target("in", "10.0.0.1", credentials=ref)) == "10.0.0.1"
    with pytest.raises(CredentialScopeError) as info:
        await checked_address(Target("out", "127.0.0.1", credentials=ref))
    assert str(info.value) == "credentials 'core' not allowed for 127.0.0.1"
    # a name is resolved once and its address checked (the poll then dials that address)
    with pytest.raises(
        CredentialScopeError, match=r"not allowed for localhost \((127\.0\.0\.1|::1)\)$"
    ):
        await checked_address(Target("name", "localhost", credentials=ref))
    sited = CredentialRef("core", "snmp", scope=CredentialScope(sites=frozenset({"hq"})))
    with pytest.raises(CredentialScopeError):
        await checked_address(Target("other-site", "10.0.0.1", site="lab", credentials=sited))
    # no credentials, or credentials without a scope: the address as resolved
    assert await checked_address(Target("plain", "127.0.0.1")) == "127.0.0.1"
