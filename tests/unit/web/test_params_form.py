"""Forms made from params models: a nested model (a device job's ``interfaces`` and
``disks``) is one input per part of it, with the part's default and the job's own value."""

from __future__ import annotations

from netgauge.web.params_form import KindForm, kind_forms


def form(kind: str) -> KindForm:
    return next(f for f in kind_forms() if f.kind == kind)


def test_a_nested_model_is_one_input_per_part() -> None:
    for kind in ("snmp", "ssh", "winrm"):
        fields = {f.name: f for f in form(kind).fields}
        for part, widget in (("include", "lines"), ("exclude", "lines"), ("skip_types", "list")):
            assert fields[f"interfaces.{part}"].input == widget, (kind, part)
            assert fields[f"disks.{part}"].input == widget, (kind, part)
        assert "interfaces" not in fields and "disks" not in fields  # no JSON box for them
        skip = fields["interfaces.skip_types"]
        assert (skip.label, skip.default_text) == ("Interfaces: skip types", "softwareLoopback")
        assert fields["disks.skip_types"].default_text == ""


def test_the_edit_form_shows_the_jobs_own_nested_values() -> None:
    fields = {f.name: f for f in form("snmp").fields}
    params = {"interfaces": {"exclude": ["^veth", "^br-[0-9a-f]{1,12}$"]}, "port": 1161}
    assert fields["interfaces.exclude"].value_text(params) == "^veth\n^br-[0-9a-f]{1,12}$"
    assert fields["interfaces.include"].value_text(params) == ""  # not set: the default
    assert fields["disks.exclude"].value_text(params) == ""
    assert fields["port"].value_text(params) == "1161"
