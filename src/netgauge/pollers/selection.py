"""Which interfaces and disks a device job watches: one rule for SNMP, SSH, WinRM and the
agent, and for discovery's proposals.

A device lists far more than an admin wants charted: loopbacks, tunnels, a container host's
hundred ``veth*``, tmpfs and cgroup mounts, ``/run/netns/*``. A job's ``interfaces`` and
``disks`` say what to keep:

* ``include``: regular expressions (RE2: linear time, an operator's pattern cannot freeze
  the poller) searched in the name; none: every name;
* ``exclude``: the same, applied after ``include``;
* ``skip_types``: types left out: IANAifType names for interfaces (``softwareLoopback`` by
  default; SSH and the agent read the kernel's ARPHRD type and name it the same way),
  file system types for disks (added to the default rule of :mod:`filesystems`).

A name is matched as the device spells it (Windows' ``C:\\``, a switch's ``Gi1/0/1``).
"""

from __future__ import annotations

from typing import Annotated, Any

import re2
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_OPTIONS = re2.Options()
_OPTIONS.max_mem = 1 << 20  # a pattern is a short name filter: 1 MiB of automaton is plenty
_OPTIONS.log_errors = False  # a bad pattern is the operator's 422, not a line on our stderr

# IANAifType-MIB numbers of the types a network admin meets (the MIB's own names)
IANA_IF_TYPES: dict[int, str] = {
    1: "other", 6: "ethernetCsmacd", 23: "ppp", 24: "softwareLoopback", 53: "propVirtual",
    71: "ieee80211", 131: "tunnel", 135: "l2vlan", 136: "l3ipvlan", 150: "mplsTunnel",
    161: "ieee8023adLag", 166: "mpls", 209: "bridge", 244: "wwanPP2",
}  # fmt: skip
# Linux ARPHRD_* (/sys/class/net/<if>/type) as the IANAifType an SNMP agent would report
ARPHRD_TO_IANA: dict[int, str] = {
    1: "ethernetCsmacd", 24: "ieee1394", 32: "infiniband", 512: "ppp", 768: "tunnel",
    769: "tunnel", 772: "softwareLoopback", 776: "tunnel", 778: "tunnel", 801: "ieee80211",
    823: "tunnel", 65534: "tunnel",
}  # fmt: skip


def if_type_name(number: int) -> str:
    """An ifType number by its IANA name (``24`` → ``softwareLoopback``); unknown: the
    number as text, so a rule may still name it."""
    return IANA_IF_TYPES.get(number, str(number))


def _compiles(pattern: str) -> str:
    """``pattern`` when RE2 takes it; else a ValueError saying why, in words (checked per
    item, so the error names the item: ``params.interfaces.include.0``)."""
    try:
        re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        why = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise ValueError(
            f"{pattern!r} is not a regular expression: {why} (RE2 syntax: no "
            "backreferences, no lookahead or lookbehind)"
        ) from None
    return pattern


# the console shows these one per line: a pattern may hold a comma (``^eth{1,2}``)
_LINES = {"input": "lines"}
Patterns = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_compiles)]],
    Field(default_factory=list, max_length=100, json_schema_extra=_LINES),
]
Types = Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=100)]


class _Selection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    include: Patterns = Field(
        default_factory=list, description="regexes searched in the name; none: every name"
    )
    exclude: Patterns = Field(default_factory=list, description="regexes of names left out")
    skip_types: Types = Field(default_factory=list, description="types left out")

    def keeps(self, name: str, type_name: str | None = None) -> bool:
        """Whether ``name`` (of type ``type_name``, when the protocol tells it) is watched."""
        if type_name is not None and type_name in self.skip_types:
            return False
        if self.include and not any(_search(p, name) for p in self.include):
            return False
        return not any(_search(p, name) for p in self.exclude)


class InterfaceSelection(_Selection):
    """A job's ``interfaces``: which interfaces' traffic is polled."""

    skip_types: Types = Field(
        default_factory=lambda: ["softwareLoopback"],
        description="IANAifType names left out (softwareLoopback, tunnel, propVirtual, ...)",
    )


class DiskSelection(_Selection):
    """A job's ``disks``: which file systems' use is polled (after the default rule that
    leaves pseudo, memory, network and read-only file systems out)."""

    include: Patterns = Field(
        default_factory=list,
        description="regexes searched in the mount, as its series names it; none: every mount",
    )
    exclude: Patterns = Field(default_factory=list, description="regexes of mounts left out")
    skip_types: Types = Field(
        default_factory=list, description="file system types left out as well (ext4, vfat...)"
    )


_COMPILED: dict[str, Any] = {}


def _search(pattern: str, name: str) -> bool:
    compiled = _COMPILED.get(pattern)
    if compiled is None:
        if len(_COMPILED) >= 1024:  # patterns come from jobs: bounded (each up to max_mem)
            _COMPILED.clear()
        compiled = _COMPILED[pattern] = re2.compile(pattern, _OPTIONS)
    return compiled.search(name) is not None


__all__ = [
    "ARPHRD_TO_IANA",
    "IANA_IF_TYPES",
    "DiskSelection",
    "InterfaceSelection",
    "if_type_name",
]
