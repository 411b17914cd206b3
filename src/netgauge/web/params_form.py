"""The form of a check kind, made from its parameters model (one per probe or poll).

Every registered kind's ``params_model`` (pydantic) gives its fields, types, defaults,
limits and choices through its JSON schema, so a new probe gets a form with no template to
write; ``MAIN`` only says which fields a kind shows first (the rest are under "More
options"). The console posts what the admin set (a field left empty takes its default) as
the job's ``params``, which the API validates with the same model.

A field that is itself a model (a device job's ``interfaces`` and ``disks``) shows one input
per field of it, named with a dot (``interfaces.exclude``); the console nests them back
(``{"interfaces": {"exclude": [...]}}``), and a part left empty keeps its own default. A list
whose schema says ``"input": "lines"`` (regular expressions, which may hold a comma) is a
text area, one item per line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from netgauge.probes.base import PROBES
from netgauge.probes.builtin import load_builtin_probes

# the fields a newcomer needs first, per kind (every other field is under "More options")
MAIN: dict[str, tuple[str, ...]] = {
    "icmp": ("count", "interval", "timeout"),
    "tcp": ("port", "timeout", "send", "expect"),
    "http": ("url", "expect_status", "match", "timeout"),
    "dns": ("name", "type", "server", "expect"),
    "traceroute": ("mode", "probes", "max_hops"),
    "snmp": ("version", "port"),
    "ssh": ("port", "known_hosts", "accept_new_host_keys"),
    "winrm": ("https", "port", "auth"),
}
# what each kind checks, in words (the kind chooser's labels)
KIND_LABELS: dict[str, str] = {
    "icmp": "Ping (ICMP): latency, loss, jitter",
    "tcp": "TCP port: connects, optional banner",
    "http": "HTTP(S) URL: status, body match, certificate",
    "dns": "DNS name: answer, time, expected records",
    "traceroute": "Traceroute: the path, loss and latency per hop",
    "snmp": "SNMP (device): CPU, memory, disks, traffic",
    "ssh": "SSH (Linux device): CPU, memory, disks, traffic",
    "winrm": "WinRM (Windows device): CPU, memory, disks, traffic",
}


@dataclass(frozen=True)
class ParamField:
    """One input of a kind's form."""

    name: str
    label: str
    input: str  # number, integer, text, checkbox, select, list, lines, json
    default: Any
    required: bool
    description: str = ""
    options: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    main: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def default_text(self) -> str:
        """The default as the input shows it (its placeholder, or the checkbox state)."""
        if self.default is None:
            return ""
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, list):
            return ("\n" if self.input == "lines" else ", ").join(str(x) for x in self.default)
        return str(self.default)

    def value_text(self, params: dict[str, Any]) -> str:
        """The job's own value of this field, for the edit form ("" when it has none)."""
        value: Any = params
        for part in self.name.split("."):  # a nested model's field: interfaces.exclude
            if not isinstance(value, dict) or part not in value:
                return ""
            value = value[part]
        if self.input in ("list", "lines") and isinstance(value, list):
            return ("\n" if self.input == "lines" else ", ").join(str(x) for x in value)
        if self.input == "json":
            return json.dumps(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)


@dataclass(frozen=True)
class KindForm:
    kind: str
    label: str
    fields: tuple[ParamField, ...]

    @property
    def main(self) -> tuple[ParamField, ...]:
        return tuple(f for f in self.fields if f.main)

    @property
    def more(self) -> tuple[ParamField, ...]:
        return tuple(f for f in self.fields if not f.main)


def kind_forms() -> list[KindForm]:
    """Every registered kind's form."""
    load_builtin_probes()
    return [_form(kind, PROBES.get(kind).params_model) for kind in PROBES.names()]


def _form(kind: str, model: Any) -> KindForm:
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    main = MAIN.get(kind, ())
    fields = []
    for name, prop in schema.get("properties", {}).items():
        nested = _nested(prop, defs)
        if nested is None:
            fields.append(
                _field(name, prop, defs, name in required, name in main or name in required)
            )
            continue
        for part in _parts(name, prop, nested, defs):
            fields.append(replace(part, main=name in main))
    order = {name: i for i, name in enumerate(main)}
    fields.sort(key=lambda f: (not f.main, order.get(f.name, len(order))))
    return KindForm(kind, KIND_LABELS.get(kind, kind), tuple(fields))


def _nested(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of a model a property is (``interfaces``: InterfaceSelection), else None."""
    ref = prop.get("$ref") or next((o["$ref"] for o in prop.get("allOf", []) if "$ref" in o), None)
    if ref is None:
        return None
    found = defs.get(ref.rsplit("/", 1)[-1], {})
    return found if found.get("type") == "object" and "properties" in found else None


def _parts(
    name: str, prop: dict[str, Any], model: dict[str, Any], defs: dict[str, Any]
) -> list[ParamField]:
    """One input per field of a nested model: ``name.field``, labelled "Name: field", its
    default the model's default's own (``interfaces.skip_types``: softwareLoopback)."""
    default_of = prop.get("default")
    given: dict[str, Any] = default_of if isinstance(default_of, dict) else {}
    title = str(prop.get("title") or name.replace("_", " ").capitalize())
    parts = []
    for sub, sub_prop in model["properties"].items():
        default = given.get(sub, sub_prop.get("default"))
        part = _field(f"{name}.{sub}", {**sub_prop, "default": default}, defs, False, False)
        label = sub_prop.get("title") or sub.replace("_", " ")
        parts.append(replace(part, label=f"{title}: {str(label).lower()}"))
    return parts


def _field(
    name: str, prop: dict[str, Any], defs: dict[str, Any], required: bool, main: bool
) -> ParamField:
    kinds, enum, limits = _shape(prop, defs)
    if enum:
        widget = "select"
    elif "boolean" in kinds:
        widget = "checkbox"
    elif "integer" in kinds:
        widget = "integer"
    elif "number" in kinds:
        widget = "number"
    elif "array" in kinds and _scalar_items(prop):
        widget = "lines" if prop.get("input") == "lines" else "list"
    elif kinds <= {"string", "null"}:
        widget = "text"
    else:
        widget = "json"
    label = prop.get("title") or name.replace("_", " ").capitalize()
    return ParamField(
        name=name,
        label=str(label),
        input=widget,
        default=prop.get("default"),
        required=required,
        description=str(prop.get("description") or ""),
        options=tuple(str(x) for x in enum),
        minimum=limits.get("minimum", limits.get("exclusiveMinimum")),
        maximum=limits.get("maximum", limits.get("exclusiveMaximum")),
        main=main,
    )


def _shape(
    prop: dict[str, Any], defs: dict[str, Any]
) -> tuple[set[str], list[Any], dict[str, Any]]:
    """The JSON types a property takes, its choices, and its numeric limits."""
    kinds: set[str] = set()
    enum: list[Any] = []
    limits: dict[str, Any] = {}
    for option in prop.get("anyOf", [prop]):
        if "$ref" in option:
            option = defs.get(option["$ref"].rsplit("/", 1)[-1], {})
        if "enum" in option:
            enum += option["enum"]
        if "type" in option:
            kinds.add(option["type"])
        limits.update(
            {
                k: option[k]
                for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
                if k in option
            }
        )
    return kinds, enum, limits


def _scalar_items(prop: dict[str, Any]) -> bool:
    for option in prop.get("anyOf", [prop]):
        items = option.get("items")
        if option.get("type") == "array":
            return isinstance(items, dict) and items.get("type") in ("string", "integer", "number")
    return False


__all__ = ["KIND_LABELS", "MAIN", "KindForm", "ParamField", "kind_forms"]
