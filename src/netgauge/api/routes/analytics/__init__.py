"""/api/v1/analytics/...: one module per conclusion (``health``, ``risk``, ``forecasts``,
``anomalies``, ``windows``, ``patterns``, ``impact``, ``lake``), each with its own
``router``; this package gathers them under one prefix. Reads are for viewers; what
changes something (a recompute, an export) says so in its own route."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter

router = APIRouter(prefix="/analytics", tags=["analytics"])


def _gather() -> None:
    """Include every sibling module's ``router``, in name order (stable OpenAPI)."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        router.include_router(module.router)


_gather()
