"""SNMP device profiles are data: which OIDs give each metric, per vendor (sysObjectID).

A profile is a YAML file (the shipped ones are in ``pollers/profiles/``; users add theirs
in the directory named by the ``snmp_profiles_dir`` setting). For each metric it lists
*sources* tried in order; the first one the device answers is used. A source is one of a
few generic shapes, so a new device type needs a file, not code:

* ``average_of: OID`` (or ``{column: OID, skip_zero: true}``): walk a table column, average
  it (per-CPU load, per-component memory %). ``skip_zero`` leaves out 0 rows, which some
  vendors use for "this component has no CPU". ``text: true`` (here, in ``used_of_total``
  and in ``sensor_table``): the agent answers text, "6.1 %" or "7843.6 MB", whose first
  number (with its unit, kB to TB, for memory) is the value; ``pattern: RE2`` picks the
  number of the first group instead ("60 Secs ( 12.1%)").
* ``cpu_ticks: {busy: [OID...], idle: [OID...]}``: tick counters; busy share of the ticks
  between two polls (UCD-SNMP ssCpuRaw*).
* ``used_of_total: {total: OID, available: OID or [OID...]}`` (the available ones summed:
  free + buffers + cached) and ``used_and_free: {used: COLUMN, free: COLUMN}`` (columns
  summed): memory %.
* ``sensor_table: {value: COLUMN, name: COLUMN, scale: 0.001}``: one temperature per row,
  named by the other column (or ``label: battery`` for a scalar); ``where: {column: OID,
  equals: 1}`` keeps the rows whose column holds that value (a gauge table's unit).
* ``hr_storage_ram``, ``hr_storage_fixed``, ``entity_sensor``, ``cisco_entity_sensor``,
  ``if_mib``: ``true`` selects the standard MIB logic (HOST-RESOURCES hrStorage,
  ENTITY-SENSOR or CISCO-ENTITY-SENSOR celsius sensors, IF-MIB).

``match.sys_object_id`` lists sysObjectID prefixes; the longest matching prefix of any
profile wins, and ``generic`` (no prefixes) serves every other device.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from netgauge.config.yamlfile import load_model_text
from netgauge.errors import ConfigError, ConfigProblem
from netgauge.probes.patterns import UserRegex


def _oid(value: Any) -> tuple[int, ...]:
    """``"1.3.6.1.2.1.1.3.0"`` (or a number YAML read as float, like ``1.3``) -> arcs."""
    text = str(value).strip().lstrip(".")
    try:
        arcs = tuple(int(arc) for arc in text.split("."))
    except ValueError:
        raise ValueError(f"{value!r} is not a numeric OID (like 1.3.6.1.2.1.1.3.0)") from None
    if len(arcs) < 2 or any(arc < 0 for arc in arcs):
        raise ValueError(f"{value!r} is not a numeric OID (like 1.3.6.1.2.1.1.3.0)")
    return arcs


Oid = Annotated[tuple[int, ...], BeforeValidator(_oid)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AverageOf(_Strict):
    column: Oid
    skip_zero: bool = False
    text: bool = False  # the agent answers text such as "6.1 %": its first number
    # text with several numbers: a regular expression (RE2) whose first group is the one
    pattern: UserRegex | None = None


class CpuTicks(_Strict):
    busy: list[Oid] = Field(min_length=1)
    idle: list[Oid] = Field(min_length=1)


def _one_or_more(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


class UsedOfTotal(_Strict):
    total: Oid
    # summed: MemFree alone (net-snmp's memAvailReal) counts page cache as used
    available: Annotated[list[Oid], BeforeValidator(_one_or_more)] = Field(min_length=1)
    text: bool = False  # text with a unit, such as "7843.6 MB" (QNAP)


class UsedAndFree(_Strict):
    used: Oid
    free: Oid


class RowFilter(_Strict):
    """Rows whose ``column`` holds ``equals`` (a gauge table's unit: celsius)."""

    column: Oid
    equals: int


class SensorTable(_Strict):
    """Temperatures in a table (or one scalar): ``value`` per row, named by the ``name``
    column, or called ``label`` (``label/index`` when there are several rows)."""

    value: Oid
    name: Oid | None = None
    label: str | None = Field(None, min_length=1, max_length=64)
    scale: float = 1.0
    skip_zero: bool = False
    where: RowFilter | None = None
    text: bool = False  # text such as "45 C/113 F": its first number

    @model_validator(mode="after")
    def _named(self) -> SensorTable:
        if (self.name is None) == (self.label is None):
            raise ValueError("a sensor_table names its sensors by exactly one of name or label")
        return self


class Source(_Strict):
    """Exactly one of the shapes (see the module docstring)."""

    average_of: AverageOf | None = None
    cpu_ticks: CpuTicks | None = None
    used_of_total: UsedOfTotal | None = None
    used_and_free: UsedAndFree | None = None
    sensor_table: SensorTable | None = None
    hr_storage_ram: bool = False
    hr_storage_fixed: bool = False
    entity_sensor: bool = False
    cisco_entity_sensor: bool = False
    if_mib: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """``average_of: OID`` means ``average_of: {column: OID}``."""
        if isinstance(data, dict) and isinstance(data.get("average_of"), str | int | float):
            return {**data, "average_of": {"column": data["average_of"]}}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> Source:
        chosen = [name for name in type(self).model_fields if getattr(self, name)]
        if len(chosen) != 1:
            shapes = ", ".join(type(self).model_fields)
            raise ValueError(f"a source is exactly one of: {shapes} (got {len(chosen)})")
        return self

    @property
    def shape(self) -> str:
        """The name of the shape this source uses."""
        return next(name for name in type(self).model_fields if getattr(self, name))


class Match(_Strict):
    sys_object_id: list[Oid] = Field(default_factory=list)


class Profile(_Strict):
    """One device type: how each metric is read."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    match: Match = Field(default_factory=Match)
    cpu_percent: list[Source] = Field(default_factory=list)
    memory_percent: list[Source] = Field(default_factory=list)
    disk_percent: list[Source] = Field(default_factory=list)
    temperature_celsius: list[Source] = Field(default_factory=list)
    interfaces: list[Source] = Field(default_factory=list)

    def match_length(self, sys_object_id: tuple[int, ...]) -> int:
        """Length of the longest of this profile's prefixes that ``sys_object_id`` starts
        with; 0 for none."""
        return max(
            (len(p) for p in self.match.sys_object_id if sys_object_id[: len(p)] == p),
            default=0,
        )


GENERIC = "generic"


def load_profile(text: str, source: str) -> Profile:
    """One profile from YAML text; ConfigError with ``FILE:LINE: PATH: message`` lines."""
    return load_model_text(Profile, text, source)


def load_profiles(extra_dir: Path | None = None) -> dict[str, Profile]:
    """The shipped profiles, then ``extra_dir``'s ``*.yaml`` (a user's file replaces a shipped
    one of the same name). Every problem of every file is reported at once."""
    files = [
        (entry.read_text(encoding="utf-8"), f"netgauge/pollers/profiles/{entry.name}")
        for entry in sorted(
            resources.files("netgauge.pollers").joinpath("profiles").iterdir(), key=lambda e: e.name
        )
        if entry.name.endswith(".yaml")
    ]
    if extra_dir is not None:
        files += [
            (path.read_text(encoding="utf-8"), str(path))
            for path in sorted(extra_dir.glob("*.yaml"))
        ]
    profiles: dict[str, Profile] = {}
    problems: list[ConfigProblem] = []
    for text, source in files:
        try:
            profile = load_profile(text, source)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        profiles[profile.name] = profile
    if problems:
        raise ConfigError(problems)
    if GENERIC not in profiles:
        raise ConfigError([ConfigProblem("name", "no 'generic' profile", None, "<profiles>")])
    return profiles


def profile_for(profiles: dict[str, Profile], sys_object_id: tuple[int, ...]) -> Profile:
    """The profile whose sysObjectID prefix matches longest; ``generic`` when none does."""
    best = max(profiles.values(), key=lambda p: p.match_length(sys_object_id))
    return best if best.match_length(sys_object_id) > 0 else profiles[GENERIC]
