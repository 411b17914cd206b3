"""/api/v1/analytics/health: the 0–100 health score of every target and site, and each
score's components with their points and evidence (formula: ``netgauge.analytics.health``).

Answers come from the newest recompute kept in memory (every 5 minutes; the first request
after a start computes one); ``POST .../recompute`` (operator) computes one now. Each score
is also stored as the series ``health_score`` (sites: ``site_health_score``), read through
``/api/v1/metrics``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from netgauge.analytics.health import FORMULA_VERSION, Component
from netgauge.analytics.health_service import Board, SiteBoard, TargetHealth
from netgauge.api.deps import ServiceDep
from netgauge.config.base import NAME_PATTERN
from netgauge.errors import NotFoundError

router = APIRouter(prefix="/health")
Name = Annotated[str, Path(pattern=NAME_PATTERN, description="a target's or site's name")]


class HealthItem(BaseModel):
    """One target's score (None: no component had data)."""

    target: str
    kind: Literal["device", "destination"]
    site: str | None
    score: float | None
    coverage: float  # the share of the 100 points that had data, 0–1
    formula_version: str


class SiteItem(BaseModel):
    """One site's score: its targets' scores weighted by coverage, the worst named."""

    site: str
    score: float | None
    targets: int
    scored: int
    worst: str | None
    worst_score: float | None
    unscored: list[str]
    formula_version: str


class HealthList(BaseModel):
    """Every target and site, worst first (no score last), and when they were computed."""

    computed_at: datetime
    took_s: float
    formula_version: str
    targets: list[HealthItem]
    sites: list[SiteItem]


class ComponentPublic(BaseModel):
    """One component: its points of ``max_points`` (None: not scored, ``evidence`` says
    why), the evidence in words and the numbers behind it."""

    name: str
    max_points: float
    points: float | None
    scored: bool
    evidence: str
    data: dict[str, float | int | str | None]


class HealthDetail(HealthItem):
    """One target's score and its components."""

    computed_at: datetime
    capped_by: float | None  # the 24 h availability in percent when it lowered the score
    components: list[ComponentPublic]


class SiteDetail(SiteItem):
    """One site's score and its members' scores."""

    computed_at: datetime
    members: list[HealthItem]


def _item(t: TargetHealth) -> HealthItem:
    return HealthItem(
        target=t.name,
        kind=t.kind,
        site=t.site,
        score=t.health.score,
        coverage=round(t.health.coverage, 4),
        formula_version=t.health.version,
    )


def _site(s: SiteBoard) -> SiteItem:
    h = s.health
    return SiteItem(
        site=s.name,
        score=h.score,
        targets=h.targets,
        scored=h.scored,
        worst=h.worst,
        worst_score=h.worst_score,
        unscored=list(h.unscored),
        formula_version=h.version,
    )


def _component(c: Component) -> ComponentPublic:
    return ComponentPublic(
        name=c.name,
        max_points=c.max_points,
        points=c.points,
        scored=c.scored,
        evidence=c.evidence,
        data=dict(c.data),
    )


def _worst_first(score: float | None, name: str) -> tuple[bool, float, str]:
    return (score is None, score or 0.0, name)


def _list(board: Board, kind: str | None) -> HealthList:
    targets = [_item(t) for t in board.targets.values() if kind is None or t.kind == kind]
    sites = [_site(s) for s in board.sites.values()]
    return HealthList(
        computed_at=board.at,
        took_s=round(board.took_s, 4),
        formula_version=FORMULA_VERSION,
        targets=sorted(targets, key=lambda t: _worst_first(t.score, t.target)),
        sites=sorted(sites, key=lambda s: _worst_first(s.score, s.site)),
    )


@router.get("")
async def list_health(
    service: ServiceDep,
    kind: Annotated[Literal["device", "destination"] | None, Query()] = None,
) -> HealthList:
    """Every target's and site's score, worst first, with the formula's version."""
    return _list(await service.health_scores.current(), kind)


@router.post("/recompute")
async def recompute_health(service: ServiceDep) -> HealthList:
    """Score every target and site now (and store the scores), instead of at the next
    5-minute mark."""
    return _list(await service.health_scores.recompute(), None)


@router.get("/sites/{site}")
async def site_health(site: Name, service: ServiceDep) -> SiteDetail:
    """One site's score, its worst target and every member's score."""
    board = await service.health_scores.current()
    found = board.sites.get(site)
    if found is None:
        raise NotFoundError(f"site {site!r} has no health score (no such site, or no targets)")
    members = [_item(board.targets[name]) for name in found.members]
    return SiteDetail(
        **_site(found).model_dump(),
        computed_at=board.at,
        members=sorted(members, key=lambda t: _worst_first(t.score, t.target)),
    )


@router.get("/{target}")
async def target_health(target: Name, service: ServiceDep) -> HealthDetail:
    """One target's score and its components: points, maximum, evidence in words and as
    numbers; a component without data says so and is left out of the score."""
    board = await service.health_scores.current()
    found = board.targets.get(target)
    if found is None:
        raise NotFoundError(f"target {target!r} not found")
    return HealthDetail(
        **_item(found).model_dump(),
        computed_at=board.at,
        capped_by=found.health.capped_by,
        components=[_component(c) for c in found.health.components],
    )
