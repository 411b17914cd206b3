"""Console pages of analytics: ``/analytics`` lists the views; one module per view
(``health``, ``risk``, ``forecasts``, ``anomalies``, ``windows``, ``patterns``, ``impact``,
``lake``) with its ``router`` and its ``VIEW`` (path, title, what it answers), gathered here
so that a new view is one new module."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType

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


MODULES: list[ModuleType] = []  # each view's module: the console adds its router as a page's


def _gather() -> None:
    """Every sibling module (its ``router`` and ``VIEW``), in name order. Their routers are
    not included here but listed with the console's pages (``web.PAGES``), so that whatever
    walks the pages' routes (the role matrix) sees each one."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        MODULES.append(module)
        VIEWS.append(module.VIEW)


@router.get("/analytics")
async def analytics_index(request: Request) -> HTMLResponse:
    """The analytics views, each with the question it answers."""
    return render(request, "analytics.html", title="Analytics", page_name="analytics", views=VIEWS)


_gather()
