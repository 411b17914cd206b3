"""Console pages of analytics: ``/analytics`` lists the views; one module per view
(``health``, ``risk``, ``forecasts``, ``anomalies``, ``windows``, ``patterns``, ``impact``,
``lake``) with its ``router`` and its ``VIEW`` (path, title, what it answers), gathered here
so that a new view is one new module."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from netgauge.web.render import render


@dataclass(frozen=True, slots=True)
class View:
    """One analytics view as the index lists it."""

    path: str
    title: str
    answers: str  # the question it answers, in a user's words


router = APIRouter(include_in_schema=False)
VIEWS: list[View] = []


def _gather() -> None:
    """Include every sibling module's ``router`` and list its ``VIEW``, in name order."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        router.include_router(module.router)
        VIEWS.append(module.VIEW)


@router.get("/analytics")
async def analytics_index(request: Request) -> HTMLResponse:
    """The analytics views, each with the question it answers."""
    return render(request, "analytics.html", title="Analytics", page_name="analytics", views=VIEWS)


_gather()
