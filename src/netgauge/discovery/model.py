"""What a discovery sweep is asked, what it finds and what it proposes: the shapes the API
answers and the console shows (``POST /api/v1/discover``, ``GET /api/v1/discover/{id}``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from netgauge.config.base import NAME_PATTERN
from netgauge.inventory.checks import CheckIn
from netgauge.pollers.selection import DiskSelection, InterfaceSelection

Name = Annotated[str, Field(min_length=1, max_length=128)]


class DiscoverIn(BaseModel):
    """A sweep to run: a CIDR, the stored credentials to try, which protocols."""

    model_config = ConfigDict(extra="forbid")

    cidr: str = Field(
        min_length=1,
        max_length=64,
        description="the network to sweep, e.g. 198.18.3.0/28 (at most 1024 addresses)",
    )
    credentials: list[Name] = Field(
        default_factory=list,
        max_length=20,
        description="names of stored snmp and ssh credentials to try; each only on the "
        "addresses inside its scope",
    )
    snmp: bool = Field(True, description="ask SNMP agents who they are (sysDescr...)")
    ssh: bool = Field(True, description="read the SSH banner on port 22")
    site: str | None = Field(
        None, max_length=128, description="site of the proposed targets (scopes may need it)"
    )
    tags: list[Annotated[str, Field(pattern=NAME_PATTERN)]] = Field(
        default_factory=list, max_length=20, description="tags of the proposed targets"
    )


class Seen(BaseModel):
    """An interface or a disk the device listed, and whether the proposed check watches it."""

    name: str
    type: str | None = None
    eligible: bool = Field(
        True, description="passes the poller's own rule (a disk: local, writable, not pseudo)"
    )
    watched: bool = Field(description="eligible, and kept by the proposed selection")


class TargetProposal(BaseModel):
    """The target a found host would become (TargetConfig's fields)."""

    name: str
    address: str
    type: Literal["device", "destination"]
    site: str | None = None
    tags: list[str] = Field(default_factory=list)
    credentials: str | None = None
    description: str = ""


class Proposal(BaseModel):
    """A target and the checks that would watch it (``POST /api/v1/targets`` with checks)."""

    target: TargetProposal
    checks: list[CheckIn]


class Answered(BaseModel):
    """Which probes the host answered."""

    icmp: bool = False
    rtt_ms: float | None = None
    snmp: bool = False
    snmp_credentials: str | None = Field(None, description="the credentials it answered")
    ssh: bool = False
    ssh_banner: str | None = None


class FoundHost(BaseModel):
    """One address that answered something."""

    address: str
    name: str = Field(description="its sysName, else its address")
    type: Literal["device", "destination"]
    answered: Answered
    sys_descr: str | None = None
    sys_object_id: str | None = None
    profile: str | None = Field(None, description="the SNMP device profile it would be polled with")
    interfaces: list[Seen] = Field(default_factory=list)
    disks: list[Seen] = Field(default_factory=list)
    exists: bool = Field(False, description="a target with this address or name exists")
    existing: str | None = Field(None, description="the name of that target")
    notes: list[str] = Field(default_factory=list)
    proposal: Proposal


class Progress(BaseModel):
    """How far a sweep is: addresses done of the total, and the stage."""

    done: int
    total: int
    stage: str


class SweepPublic(BaseModel):
    """A sweep: its request, its state and what it found so far."""

    id: str
    state: Literal["running", "done", "failed"]
    cidr: str
    credentials: list[str]
    snmp: bool
    ssh: bool
    site: str | None
    tags: list[str]
    started_at: datetime
    finished_at: datetime | None
    by: str
    error: str | None
    progress: Progress
    found: list[FoundHost]
    accepted: list[str] = Field(description="addresses already added from this sweep")


class Override(BaseModel):
    """What the admin changed in a proposal before accepting it."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, pattern=NAME_PATTERN)
    interfaces: InterfaceSelection | None = None
    disks: DiskSelection | None = None


class AcceptIn(BaseModel):
    """The found hosts to add (by address), with the admin's changes."""

    model_config = ConfigDict(extra="forbid")

    addresses: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=1024)
    overrides: dict[str, Override] = Field(default_factory=dict, max_length=1024)


class Made(BaseModel):
    """A target made by an accept, and its check jobs' kinds."""

    name: str
    address: str
    checks: list[str]


class AcceptAnswer(BaseModel):
    """What an accept made: targets (each with its checks) and how many jobs."""

    targets: list[Made]
    jobs: int


def as_json(model: BaseModel) -> dict[str, Any]:
    """A model as JSON-ready data (for pages that embed it)."""
    return model.model_dump(mode="json")
