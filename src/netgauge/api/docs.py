"""``/docs``: the interactive API documentation (Swagger UI), served from the package.

FastAPI's own page loads Swagger UI from a CDN and starts it with an inline script: blank in
a network without internet, and against netgauge's content security policy. Here the assets
come from ``swagger-ui-bundle-v2`` (Swagger UI 5, which reads OpenAPI 3.1; Apache-2.0) under
``/docs/assets``, and ``/static/js/api-docs.js`` starts them: no request leaves the server's
origin.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>netgauge API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" href="/static/favicon.svg">
</head>
<body>
<div id="swagger-ui" data-openapi="{openapi}"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/static/js/api-docs.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """Serve the page at /docs and Swagger UI's files at /docs/assets."""
    page = _PAGE.replace("{openapi}", app.openapi_url or "/openapi.json")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page)

    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
