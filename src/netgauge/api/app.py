"""The FastAPI application: routes under /api/v1, errors as 4xx with the field named."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from netgauge import __version__, web
from netgauge.api import docs as api_docs
from netgauge.api.forward import ToLeader
from netgauge.api.routes import (
    alerts,
    analytics,
    audit,
    auth,
    changes,
    collectors,
    credentials,
    devices,
    discover,
    events,
    export,
    exposition,
    health,
    ingest,
    jobs,
    live,
    metrics,
    probes,
    runs,
    sites,
    status,
    targets,
    users,
)
from netgauge.api.security import (
    MAX_BODY_BYTES,
    SAFE_METHODS,
    admit_body,
    authorize,
    required_role,
)
from netgauge.config.base import error_message
from netgauge.errors import (
    ConflictError,
    ForbiddenError,
    InventoryError,
    NetgaugeError,
    NotFoundError,
    RetryableStorageError,
)
from netgauge.service import Service

log = structlog.get_logger(__name__)
_FIELD = re.compile(r"^([A-Za-z_][\w.\[\]]*): ")


class BodyTooLargeError(HTTPException):
    """A request body went past its route's limit while it was being read (an
    HTTPException, because FastAPI turns anything else raised while reading a body into a
    400)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body over {max_bytes} bytes")
        self.max_bytes = max_bytes


# No inline script or style anywhere netgauge serves; framing refused. /docs is Swagger UI
# served from the package (swagger-ui-bundle-v2: it works offline), started by a script of ours;
# Swagger UI sets style attributes, hence 'unsafe-inline' for styles there only. /redoc loads
# FastAPI's page assets from a CDN and starts them inline, so it gets a CSP of its own.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_DOCS = ("/redoc",)
_SWAGGER_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def _security_headers(csp: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", csp.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]


_HEADERS, _DOCS_HEADERS = _security_headers(_CSP), _security_headers(_DOCS_CSP)
_SWAGGER_HEADERS = _security_headers(_SWAGGER_CSP)


def _headers_for(path: str) -> list[tuple[bytes, bytes]]:
    if path.startswith(_DOCS):
        return _DOCS_HEADERS
    return _SWAGGER_HEADERS if path == "/docs" or path.startswith("/docs/") else _HEADERS


class FieldError(BaseModel):
    """One bad field of a request."""

    field: str
    msg: str


class ErrorBody(BaseModel):
    """Every error answer: what went wrong, and for bad input the field it is about."""

    detail: str
    field: str | None = None
    errors: list[FieldError] | None = None


# documented on every operation, so that clients (and schemathesis) know each answer's shape
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (400, "malformed request"),
        (401, "no or invalid credentials"),
        (403, "the role does not allow it (or a session without its CSRF token)"),
        (404, "no such entity"),
        (405, "method not allowed"),
        (409, "conflicts with existing data"),
        (413, "request body too large"),
        (422, "a field is invalid: detail and field name it"),
        (429, "too many failed logins"),
        (503, "a store is failing: retry later"),
    )
}


class _Edge:
    """What every HTTP request goes through, in one ASGI layer (each layer costs on every
    request; pure ASGI, so bodies stream):

    * a request that may carry a body (any method but GET, HEAD, OPTIONS) is authenticated
      and authorized first (``security.admit_body``): a 401/403 without reading a byte of
      it (FastAPI would read and parse the whole body before any dependency runs);
    * then a 413 for a body over its route's limit: at once when its Content-Length says
      so, and while it is read when it comes chunked (no length announced);
    * the security headers on every response;
    * the request into the audit trail: route template, user, client, status, duration
      and bytes each way.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        sizes = {"in": 0, "out": 0, "status": 500}
        headers = _headers_for(scope["path"])

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                sizes["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            elif message["type"] == "http.response.body":
                sizes["out"] += len(message.get("body", b""))
            await send(message)

        try:
            limit, refused = await _admit(scope)
            if refused is not None:
                await refused(scope, receive, counting_send)
                return

            async def counting_receive() -> Message:
                message = await receive()
                if message["type"] == "http.request":
                    sizes["in"] += len(message.get("body", b""))
                    if sizes["in"] > limit:
                        raise BodyTooLargeError(limit)
                return message

            await self.app(scope, counting_receive, counting_send)
        finally:
            _record_request(scope, sizes, (time.perf_counter() - started) * 1000)


async def _admit(scope: Scope) -> tuple[int, JSONResponse | None]:
    """The body limit of a request, or the answer that refuses it unread."""
    if scope["method"] in SAFE_METHODS:
        limit = MAX_BODY_BYTES  # (no GET route reads a body: nobody to ask first)
    else:
        try:
            limit = await admit_body(Request(scope))
        except HTTPException as exc:
            return 0, JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
    length = Headers(scope=scope).get("content-length", "")
    if length.isdigit() and int(length) > limit:
        return limit, _too_large(limit)
    return limit, None


def _record_request(scope: Scope, sizes: dict[str, int], duration_ms: float) -> None:
    service = scope["app"].state.service
    audit = getattr(service, "audit", None)
    if audit is None or not service.settings.audit_requests:  # not started, or turned off
        return
    if scope["method"] in ("GET", "HEAD") and sizes["status"] < 400:
        # successful reads are sampled (1 in audit_read_sample, with that weight): a
        # dashboard polling all day would otherwise cost more to log than to answer
        every = service.settings.audit_read_sample
        audit.reads_seen += 1
        if audit.reads_seen % every:
            return
        weight = every
    else:
        weight = 1
    principal = scope.get("state", {}).get("principal")
    client = scope.get("client")
    audit.request(
        method=scope["method"],
        path=_template(scope),
        user=principal.name if principal is not None else None,
        client=client[0] if client else None,
        status=sizes["status"],
        duration_ms=round(duration_ms, 3),
        request_bytes=sizes["in"],
        response_bytes=sizes["out"],
        weight=weight,
    )


def _template(scope: Scope) -> str:
    """The route template (``/api/v1/targets/{name}``), not the names in the path: the log
    groups by route and does not copy inventory names around."""
    path: str = scope["path"]
    route = scope.get("route")
    template: str | None = getattr(route, "path", None)
    if template is None:
        return path[:256] if scope.get("endpoint") else "(no route)"
    params = {k: str(v) for k, v in scope.get("path_params", {}).items()}
    try:
        concrete = re.sub(r":\w+}", "}", template).format(**params)
    except (KeyError, IndexError, ValueError):
        return template
    prefix = path[: len(path) - len(concrete)] if path.endswith(concrete) else ""
    return (prefix + template)[:256]


def _document_security(app: FastAPI) -> None:
    """The schema says which operations need a bearer token and which are open (the rule
    lives in api.security, not in per-route declarations FastAPI could see)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["HTTPBearer"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "an access token (POST /api/v1/auth/login) or an API token",
            }
            error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
            for path, item in schema.get("paths", {}).items():
                for method, operation in item.items():
                    public = required_role(method.upper(), path) is None
                    operation["security"] = [] if public else [{"HTTPBearer": []}]
                    # errors are JSON whatever the route answers when it works (FastAPI
                    # gives them a file route's media type: text/csv for a 422)
                    for code, answer in operation.get("responses", {}).items():
                        if code[:1] in ("4", "5") and "content" in answer:
                            answer["content"] = error
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _too_large(max_bytes: int) -> JSONResponse:
    body = {"detail": f"request body over {max_bytes} bytes", "field": "body"}
    return JSONResponse(body, status_code=413)


def _error(status_code: int, exc: Exception) -> JSONResponse:
    message = str(exc)
    match = _FIELD.match(message)
    body: dict[str, object] = {"detail": message}
    if match:
        body["field"] = match.group(1)
    return JSONResponse(body, status_code=status_code)


def _validation_response(raw: Sequence[Any]) -> JSONResponse:
    """pydantic/FastAPI errors → 422 whose ``detail`` and ``field`` name the first bad field."""
    errors = [
        {
            "field": ".".join(str(p) for p in e["loc"]),
            "msg": error_message(e),
        }
        for e in raw
    ]
    first = errors[0] if errors else {"field": "", "msg": "invalid request"}
    return JSONResponse(
        {"detail": f"{first['field']}: {first['msg']}", "field": first["field"], "errors": errors},
        status_code=422,
    )


def _audit_error(
    request: Request, category: str, severity: str, message: str, exc: BaseException | None
) -> None:
    audit = getattr(request.app.state.service, "audit", None)
    if audit is not None:
        principal = getattr(request.state, "principal", None)
        user = principal.name if principal is not None else None
        audit.error(category, severity, message, exc, user=user)


def _install_error_handlers(app: FastAPI) -> None:
    async def too_large(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BodyTooLargeError)
        return _too_large(exc.max_bytes)

    app.add_exception_handler(BodyTooLargeError, too_large)

    async def not_found(_: Request, exc: Exception) -> JSONResponse:
        return _error(404, exc)

    async def conflict(_: Request, exc: Exception) -> JSONResponse:
        return _error(409, exc)

    async def forbidden(_: Request, exc: Exception) -> JSONResponse:
        return _error(403, exc)

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        return _error(422, exc)

    async def invalid_model(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ValidationError | RequestValidationError)
        response = _validation_response(exc.errors())
        said = json.loads(bytes(response.body))[
            "errors"
        ]  # the log says it as the answer did, in words
        words = "; ".join(f"{e['field']}: {e['msg']}" for e in said) or "invalid request"
        _audit_error(request, "validation", "info", f"{request.url.path}: {words}", None)
        return response

    async def internal(request: Request, exc: Exception) -> JSONResponse:
        # a bug: logged with the stack, answered without leaking internals
        log.exception("api.unhandled", path=request.url.path)
        _audit_error(request, "api", "error", f"{request.method} {request.url.path}: {exc!r}", exc)
        return JSONResponse({"detail": "internal error (logged)"}, status_code=500)

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        # a store is failing right now: worth retrying, not the client's fault
        _audit_error(request, "external_service", "warning", str(exc), None)
        response = _error(503, exc)
        response.headers["Retry-After"] = "5"
        return response

    app.add_exception_handler(RetryableStorageError, unavailable)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(ConflictError, conflict)
    app.add_exception_handler(ForbiddenError, forbidden)
    app.add_exception_handler(InventoryError, invalid)
    app.add_exception_handler(NetgaugeError, invalid)
    app.add_exception_handler(ValidationError, invalid_model)
    app.add_exception_handler(RequestValidationError, invalid_model)
    app.add_exception_handler(ValueError, invalid)
    app.add_exception_handler(Exception, internal)


def create_app(
    service: Service,
    *,
    manage_lifecycle: bool = True,
    on_started: Callable[[], None] | None = None,
) -> FastAPI:
    """The API over ``service``; with ``manage_lifecycle`` the app starts and stops it."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            try:
                await service.start()
            except Exception as exc:
                # kept for the CLI, which turns it into one clear line and an exit status
                service.start_error = f"{type(exc).__name__}: {exc}"
                log.error("service.start_failed", error=service.start_error)
                raise
        if on_started is not None:
            on_started()
        try:
            yield
        finally:
            if manage_lifecycle:
                await service.stop()

    app = FastAPI(
        title="netgauge",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # ours, offline: api.docs
        description="Network and device monitoring API. Log in at /api/v1/auth/login, then "
        "send `Authorization: Bearer <access token or API token>`.",
        responses=_ERRORS,
    )
    app.state.service = service
    _install_error_handlers(app)
    app.add_middleware(_Edge)
    # a standby forwards to the leader before anything else of its own happens (outside the
    # edge: the leader authorizes, limits and logs)
    app.add_middleware(ToLeader, service=service)
    if service.settings.trusted_proxies:
        # X-Forwarded-For/-Proto only from the proxies the settings name (uvicorn's own
        # handling is off: it believes anyone on loopback); outermost, so that the request
        # log, the login throttle and the cookies see the real client and scheme
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=service.settings.trusted_proxies)
    if service.settings.cors_origins:
        # only when configured, for scripts on other origins sending a bearer token; the
        # session cookie stays same-site (allow_credentials off)
        app.add_middleware(
            CORSMiddleware,
            allow_origins=service.settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=False,
            max_age=600,
        )
    # every route but the open health summary goes through one rule (api.security's
    # required_role, public routes included); the role-matrix test walks every route to
    # prove none was left out. The summary skips it: load balancers poll it all day.
    guarded = [Depends(authorize)]
    app.include_router(health.open_router, prefix="/api/v1")
    routers = (health, targets, jobs, runs, metrics, status, changes, sites, events, probes, export)
    for module in (
        *routers,
        alerts,
        analytics,
        collectors,
        credentials,
        devices,
        discover,
        ingest,
        auth,
        users,
        audit,
        live,
    ):
        app.include_router(module.router, prefix="/api/v1", dependencies=guarded)
    app.include_router(exposition.router, dependencies=guarded)  # /metrics, for Prometheus

    _document_security(app)
    api_docs.install(app)  # /docs: Swagger UI from the package
    web.install(app, guarded)  # the console's pages and assets
    return app
