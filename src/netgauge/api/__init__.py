"""REST API (FastAPI) under /api/v1; OpenAPI at /docs."""

from netgauge.api.app import create_app

__all__ = ["create_app"]
