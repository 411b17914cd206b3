"""Console view of the health score: sites and targets by score (worst first), and one
target's breakdown: each component's points, maximum and evidence. The numbers are the
newest recompute's (``service.health_scores``); operators may ask for a recompute
(``static/js/analytics_health.js`` posts ``/api/v1/analytics/health/recompute``)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from netgauge.analytics.health import FORMULA_VERSION, Component, Health
from netgauge.analytics.health_service import TargetHealth
from netgauge.service import Service
from netgauge.web.pages.analytics import View
from netgauge.web.render import render

router = APIRouter(include_in_schema=False)
VIEW = View(
    "/analytics/health",
    "Health score",
    "Which devices, destinations and sites are in the worst shape, and why?",
)


def band(score: float | None) -> str:
    """The badge of a score: ok from 80, warning from 50, down below, none without one."""
    if score is None:
        return "none"
    return "ok" if score >= 80 else "warning" if score >= 50 else "down"


def weakest(health: Health) -> Component | None:
    """The scored component that lost the most points (None: none lost any)."""
    lost = [(c.max_points - (c.points or 0.0), c.name, c) for c in health.components if c.scored]
    top = max(lost, default=None, key=lambda item: (item[0], item[1]))
    return top[2] if top is not None and top[0] > 0 else None


def _worst_first(t: TargetHealth) -> tuple[bool, float, str]:
    return (t.health.score is None, t.health.score or 0.0, t.name)


@router.get("/analytics/health")
async def health_page(request: Request) -> HTMLResponse:
    """Sites and targets by score, worst first."""
    service: Service = request.app.state.service
    board = await service.health_scores.current()
    sites = sorted(board.sites.values(), key=lambda s: (s.health.score is None,
                   s.health.score or 0.0, s.name))  # fmt: skip
    return render(
        request,
        "analytics_health.html",
        title="Health score",
        page_name="analytics-health",
        board=board,
        sites=sites,
        targets=sorted(board.targets.values(), key=_worst_first),
        formula_version=FORMULA_VERSION,
        band=band,
        weakest=weakest,
    )


@router.get("/analytics/health/{target}")
async def health_breakdown(request: Request, target: str) -> HTMLResponse:
    """One target's components: points, maximum, evidence."""
    service: Service = request.app.state.service
    board = await service.health_scores.current()
    found = board.targets.get(target)
    if found is None:
        raise HTTPException(404, f"No target named {target!r} has a health score.")
    return render(
        request,
        "analytics_health_target.html",
        title=f"Health of {target}",
        page_name="analytics-health",
        board=board,
        t=found,
        formula_version=FORMULA_VERSION,
        band=band,
    )
