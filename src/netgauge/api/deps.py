"""Shared dependencies of the routes."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from netgauge.inventory import Inventory
from netgauge.service import Service


async def get_service(request: Request) -> Service:
    """The process's Service (set on app.state by create_app). Async on purpose: FastAPI runs
    a plain ``def`` dependency in its thread pool, a thread hop on every request."""
    service: Service = request.app.state.service
    return service


async def get_inventory(request: Request) -> Inventory:
    """The inventory of the running service."""
    service: Service = request.app.state.service
    return service.inventory


ServiceDep = Annotated[Service, Depends(get_service)]
InventoryDep = Annotated[Inventory, Depends(get_inventory)]

# Query parameters shared by the listing routes.
Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Offset = Annotated[int, Query(ge=0, le=100_000_000, description="items to skip")]
RunStatus = Annotated[str | None, Query(pattern="^(running|ok|partial|failed|skipped)$")]


# -- a hot route's query parameters, checked in one pass ------------------------------------
# FastAPI works out each declared parameter again on every request (a tenth of a millisecond
# for a list's seven); a route polled all day validates them as one model instead, and
# documents them from the same model.
_M = TypeVar("_M", bound=BaseModel)


def query_of(model: type[_M], request: Request) -> _M:
    """``request``'s query parameters as ``model`` (422 naming ``query.<field>``, as for a
    declared parameter; an unknown parameter is ignored, as FastAPI does)."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from None


def query_parameters(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting ``model``'s fields as the route's query parameters."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})

    def inline(node: Any) -> Any:  # the schema's own $defs, in place (no components)
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items()}
        return [inline(value) for value in node] if isinstance(node, list) else node

    parameters = []
    for name, prop in schema["properties"].items():
        parameter = {"name": name, "in": "query", "required": name in schema.get("required", [])}
        parameter["schema"] = inline(prop)
        if "description" in prop:
            parameter["description"] = prop["description"]
        parameters.append(parameter)
    return {"parameters": parameters}
