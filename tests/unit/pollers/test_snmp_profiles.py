"""SNMP device profiles are YAML data: the shipped ones load, bad files say FILE:LINE: PATH,
a user's directory adds or replaces profiles, and the longest sysObjectID prefix wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from netgauge.errors import ConfigError
from netgauge.pollers.snmp_profiles import load_profile, load_profiles, profile_for

LINUX = (1, 3, 6, 1, 4, 1, 8072, 3, 2, 10)
CISCO_C9300 = (1, 3, 6, 1, 4, 1, 9, 1, 2494)
JUNIPER_MX480 = (1, 3, 6, 1, 4, 1, 2636, 1, 1, 1, 2, 25)


def test_the_shipped_profiles_load_and_cover_linux_and_the_vendors() -> None:
    profiles = load_profiles()
    assert {"generic", "net-snmp-linux", "cisco-ios", "juniper-junos"} <= set(profiles)
    assert {"cisco-nxos", "hp-procurve", "mikrotik", "fortigate", "apc-ups"} <= set(profiles)
    for profile in profiles.values():
        assert profile.interfaces, profile.name
        # every profile reads a CPU, except a UPS's (its card's CPU is nobody's concern)
        assert profile.cpu_percent or profile.name == "apc-ups", profile.name


@pytest.mark.parametrize(
    ("sys_object_id", "name"),
    [
        (LINUX, "net-snmp-linux"),
        (CISCO_C9300, "cisco-ios"),
        (JUNIPER_MX480, "juniper-junos"),
        ((1, 3, 6, 1, 4, 1, 99999, 1), "generic"),
        ((1, 3, 6, 1, 4, 1, 8072, 3, 2, 255), "net-snmp-linux"),  # the shorter prefix
        ((1, 3, 6, 1, 4, 1, 9, 12, 3, 1, 3, 1812), "cisco-nxos"),  # longer than cisco-ios's
        ((1, 3, 6, 1, 4, 1, 11, 2, 3, 7, 11, 153), "hp-procurve"),
        ((1, 3, 6, 1, 4, 1, 14988, 1), "mikrotik"),
        ((1, 3, 6, 1, 4, 1, 12356, 101, 1, 1041), "fortigate"),
        ((1, 3, 6, 1, 4, 1, 318, 1, 3, 27), "apc-ups"),
        ((1, 3, 6, 1, 4, 1, 47196, 4, 1, 1, 1, 302), "aruba-cx"),
        ((1, 3, 6, 1, 4, 1, 41112, 1, 5), "ubiquiti"),
        ((1, 3, 6, 1, 4, 1, 24681), "qnap"),
        ((1, 3, 6, 1, 4, 1, 4413), "fastpath"),
    ],
)
def test_the_longest_matching_prefix_wins(sys_object_id: tuple[int, ...], name: str) -> None:
    assert profile_for(load_profiles(), sys_object_id).name == name


def test_a_source_shorthand_and_its_shape() -> None:
    profile = load_profile("name: x\ncpu_percent:\n  - average_of: 1.3.6.1.2.1.25.3.3.1.2\n", "x")
    source = profile.cpu_percent[0]
    assert source.shape == "average_of"
    assert source.average_of is not None
    assert source.average_of.column == (1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("name: x\ncpu_percent:\n  - average_of: 1.3.six\n", "x.yaml:3: cpu_percent[0]"),
        ("name: x\ncpu_percent:\n  - {}\n", "x.yaml:3: cpu_percent[0]"),
        ("name: x\ncpu_percent:\n  - {if_mib: true, entity_sensor: true}\n", "cpu_percent[0]"),
        ("name: x\nfan_rpm: []\n", "x.yaml:2: fan_rpm"),
        ("name: Bad Name\n", "x.yaml:1: name"),
    ],
)
def test_a_bad_profile_names_its_file_line_and_path(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_profile(text, "x.yaml")
    assert where in str(caught.value)


def test_a_users_directory_adds_and_replaces_profiles(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "name: acme\nmatch: {sys_object_id: [1.3.6.1.4.1.4242]}\n"
        "cpu_percent: [{average_of: 1.3.6.1.4.1.4242.1}]\n"
    )
    (tmp_path / "generic.yaml").write_text("name: generic\ncpu_percent: []\n")
    profiles = load_profiles(tmp_path)
    assert profile_for(profiles, (1, 3, 6, 1, 4, 1, 4242, 7)).name == "acme"
    assert profiles["generic"].cpu_percent == []  # replaced by the user's


def test_every_bad_file_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: a\nbogus: 1\n")
    (tmp_path / "b.yaml").write_text("name: [\n")
    with pytest.raises(ConfigError) as caught:
        load_profiles(tmp_path)
    text = str(caught.value)
    assert "a.yaml:2: bogus" in text and "b.yaml" in text


def test_a_sensor_table_is_named_by_a_column_or_a_label_not_both() -> None:
    from pydantic import ValidationError

    from netgauge.pollers.snmp_profiles import SensorTable

    assert SensorTable.model_validate({"value": "1.3.6.1.4.1.318.1.1.1.2.2.2", "label": "battery"})
    for both_or_neither in ({"value": "1.3.6", "name": "1.3.7", "label": "x"}, {"value": "1.3.6"}):
        with pytest.raises(ValidationError, match="exactly one of name or label"):
            SensorTable.model_validate(both_or_neither)


def test_a_text_pattern_is_re2_and_refused_at_load_when_it_is_not() -> None:
    from netgauge.errors import ConfigError
    from netgauge.pollers.snmp_profiles import load_profile

    text = """name: odd
match: {sys_object_id: ["1.3.6.1.4.1.99999"]}
cpu_percent:
  - average_of: {column: 1.3.6.1.4.1.99999.1, pattern: '(a)\\1'}
interfaces: [{if_mib: true}]
"""
    with pytest.raises(ConfigError) as caught:
        load_profile(text, "odd.yaml")
    assert "RE2" in str(caught.value.problems[0]) and "odd.yaml:4" in str(caught.value.problems[0])
