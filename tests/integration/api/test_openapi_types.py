"""The OpenAPI schema gives generated clients models: every JSON answer of every operation is
a typed schema (a list answer is ``PageOf[<its resource>]``, not one untyped page), the health
answers are models, and the exports are files of their media type (binary for XLSX). Checked
on the schema the running app serves at /openapi.json, and on the validator's reading of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from netgauge.api import create_app
from netgauge.config.loader import load_config_text
from netgauge.config.settings import Settings
from netgauge.service import Service

_UNTYPED: tuple[dict[str, Any], ...] = (
    {},
    {"type": "object"},
    {"type": "object", "additionalProperties": True},
)


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    settings = Settings(data_dir=Path(tmp_path_factory.mktemp("openapi")), port=0)
    service = Service(settings, load_config_text("", "x.yaml").config, "x.yaml")
    with TestClient(create_app(service)) as client:
        r = client.get("/openapi.json")
        assert r.status_code == 200
        yield r.json()


def _ok(schema: dict[str, Any], path: str, method: str = "get") -> dict[str, Any]:
    answer: dict[str, Any] = schema["paths"][path][method]["responses"]
    return answer.get("200") or answer.get("201") or {}


def test_the_schema_is_valid_openapi(schema: dict[str, Any]) -> None:
    validate(schema)


def test_every_json_answer_is_typed(schema: dict[str, Any]) -> None:
    untyped = []
    for path, operations in schema["paths"].items():
        for method in operations:
            content = _ok(schema, path, method).get("content", {})
            json_schema = content.get("application/json", {}).get("schema")
            if json_schema is not None and _strip_title(json_schema) in _UNTYPED:
                untyped.append(f"{method.upper()} {path}")
    assert untyped == []


def _strip_title(json_schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in json_schema.items() if k != "title"}


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/api/v1/targets", "PageOf_TargetPublic_"),
        ("/api/v1/runs", "PageOf_JobRunPublic_"),
        ("/api/v1/jobs/{name}/runs", "PageOf_JobRunPublic_"),
        ("/api/v1/health", "HealthSummary"),
        ("/api/v1/health/details", "HealthDetails"),
    ],
)
def test_answers_name_their_models(schema: dict[str, Any], path: str, model: str) -> None:
    ref = _ok(schema, path)["content"]["application/json"]["schema"]["$ref"]
    assert ref == f"#/components/schemas/{model}"
    if model.startswith("PageOf_"):
        items = schema["components"]["schemas"][model]["properties"]["items"]["items"]
        assert items["$ref"] == f"#/components/schemas/{model.removeprefix('PageOf_')[:-1]}"


def test_exports_are_files_of_their_media_type(schema: dict[str, Any]) -> None:
    xlsx = _ok(schema, "/api/v1/export/xlsx")["content"]
    media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert list(xlsx) == [media]
    assert xlsx[media]["schema"] == {"type": "string", "format": "binary"}
    csv = _ok(schema, "/api/v1/export/csv")["content"]
    assert [m.split(";")[0] for m in csv] == ["text/csv"]
