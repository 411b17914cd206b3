"""/api/v1/discover: sweep a network and add what answers, for admins.

A sweep runs in the background (one at a time per server); its answer grows while it runs.
See ``netgauge.discovery`` for the stages and the rules (scope, limits).
"""

from __future__ import annotations

from fastapi import APIRouter, status

from netgauge.api.deps import ServiceDep
from netgauge.api.security import current_actor
from netgauge.discovery.model import AcceptAnswer, AcceptIn, DiscoverIn, SweepPublic

router = APIRouter(prefix="/discover", tags=["discovery"])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: {"description": "a sweep is running already (one at a time)"}},
)
async def start_sweep(body: DiscoverIn, service: ServiceDep) -> SweepPublic:
    """Start a sweep of ``cidr`` (admins): every address is pinged, asked over SNMP with each
    of the chosen stored ``credentials`` whose scope admits it (never one outside its scope:
    an address no entry admits gets no SNMP packet), and its SSH banner read on port 22
    (no login). At most 1024 addresses (setting ``discovery_max_addresses``); the network
    and broadcast addresses are skipped; nothing outside the CIDR is touched.

    Answers 202 with the sweep's ``id``: read its progress and findings at
    ``GET /api/v1/discover/{id}``. 422 names a bad ``cidr``, an unknown credentials entry
    (``credentials.N``) or site; 409 while another sweep runs."""
    return await service.discovery.start(body, current_actor())


@router.get("")
async def list_sweeps(service: ServiceDep) -> list[SweepPublic]:
    """The sweeps kept in memory, newest first (the newest 5, until a restart)."""
    return service.discovery.sweeps()


@router.get("/{sweep_id}")
async def get_sweep(sweep_id: str, service: ServiceDep) -> SweepPublic:
    """A sweep: ``state`` (running, done, failed), ``progress`` (addresses done of the total,
    and the stage), and ``found``: per address that answered, what it answered (ICMP, SNMP
    with which credentials, the SSH banner), its sysDescr, sysObjectID and SNMP profile, the
    interfaces and disks it lists with whether the proposed checks watch them, whether a
    target has its address or name already (``exists``), and the ``proposal``: a target
    and its checks, as ``POST /api/v1/targets`` takes them. 404 once forgotten."""
    return service.discovery.get(sweep_id)


@router.post(
    "/{sweep_id}/accept",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "a target or job exists, or the host was added before"}},
)
async def accept_sweep(sweep_id: str, body: AcceptIn, service: ServiceDep) -> AcceptAnswer:
    """Add the found hosts named in ``addresses`` with their proposed checks, in one
    transaction (all or nothing; an error names ``addresses.N`` and the host's address).
    ``overrides`` per address change the target's ``name`` and the device checks'
    ``interfaces`` and ``disks`` selections (include/exclude regexes, skip_types). The jobs
    start at once."""
    return await service.discovery.accept(sweep_id, body, current_actor())
