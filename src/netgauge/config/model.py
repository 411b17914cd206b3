"""Pydantic models of the YAML configuration file (validation only; no I/O here)."""

from __future__ import annotations

import ipaddress
import re
from datetime import time
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from netgauge.config.alerts import AlertRuleConfig, NotifierConfig
from netgauge.config.base import (
    ENV_NAME,
    NAME_PATTERN,
    StrictModel,
    check_timezone,
    parse_duration,
)
from netgauge.config.schedules import ScheduleConfig
from netgauge.models import CredentialScope, TargetType

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?)+$")


def check_address(value: str) -> str:
    """An IP literal or a syntactically valid host name (resolution happens at probe time)."""
    value = value.strip()
    if "%" in value:
        return _check_zoned(value)
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if not _HOSTNAME.match(value):
        raise ValueError(f"{value!r} is neither an IP address nor a valid host name")
    return value


def _check_zoned(value: str) -> str:
    """``fe80::1%eth0``: a zone id is meaningful on IPv6 link-local addresses only."""
    address, _, zone = value.partition("%")
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        parsed = None
    if parsed is None or parsed.version != 6 or not parsed.is_link_local or not zone:
        raise ValueError(f"{value!r}: a %zone id goes only with IPv6 link-local (fe80::/10)")
    return f"{parsed.compressed}%{zone}"


class SiteConfig(StrictModel):
    """A place targets belong to."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    timezone: str = "UTC"
    schedule: str | None = Field(None, description="the name of its calendar (schedules:)")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)


def check_network(value: str) -> str:
    """A CIDR (``10.0.0.0/8``, ``2001:db8::/32``) or one address; host bits set are an
    error, not silently dropped (``10.1.2.3/8`` is a typo more often than a wish)."""
    try:
        return str(ipaddress.ip_network(value.strip()))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a CIDR or IP address ({exc})") from None


class CredentialScopeConfig(StrictModel):
    """Where a credential may be sent: the target's address inside one of ``addresses``,
    its site among ``sites`` and one of its tags among ``tags`` (each given one must hold)."""

    addresses: list[str] = Field(default_factory=list, description="CIDRs, e.g. 10.0.0.0/8")
    sites: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)

    @field_validator("addresses")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return [check_network(v) for v in value]

    @model_validator(mode="after")
    def _not_empty(self) -> CredentialScopeConfig:
        if not (self.addresses or self.sites or self.tags):
            raise ValueError("a scope needs at least one of addresses, sites, tags")
        return self

    def to_scope(self) -> CredentialScope:
        """The value type the checks use."""
        return CredentialScope(
            tuple(ipaddress.ip_network(a) for a in self.addresses),
            frozenset(self.sites),
            frozenset(self.tags),
        )


class CredentialConfig(StrictModel):
    """A credentials *reference*: names of environment variables or secret files, never
    secrets; and its ``scope``, where it may be sent."""

    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal["snmp", "ssh", "winrm", "http", "token"]
    env: dict[str, str] = Field(
        default_factory=dict, description="field → environment variable holding the secret"
    )
    files: dict[str, str] = Field(
        default_factory=dict, description="field → path of a file holding the secret"
    )
    username: str | None = None
    scope: CredentialScopeConfig | None = Field(
        None,
        description="where it may be sent; without one only an admin may attach it to a "
        "target (polls then go wherever the admin attached it)",
    )

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key, var in value.items():
            if not ENV_NAME.match(var):
                raise ValueError(
                    f"env.{key}: {var!r} is not an environment variable name; "
                    "put secrets in the environment, not in the config file"
                )
        return value


class TargetConfig(StrictModel):
    """A destination to probe or a device to poll."""

    name: str = Field(pattern=NAME_PATTERN)
    address: str = Field(min_length=1, max_length=253, description="IP address or host name")
    type: TargetType = TargetType.DESTINATION
    site: str | None = None
    tags: list[str] = Field(default_factory=list)
    credentials: str | None = None
    description: str = ""
    parent: str | None = Field(
        None,
        description="the target this one is reached through (site gateway, uplink): while "
        "it is down, this one's alerts are 'unreachable via parent' and not notified",
    )

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return check_address(value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not re.match(NAME_PATTERN, tag):
                raise ValueError(f"tag {tag!r} must match {NAME_PATTERN}")
        return sorted(set(value))


class WindowConfig(StrictModel):
    """When a job may run: local wall times in ``timezone``; end <= start crosses midnight."""

    start_time: time | None = None
    end_time: time | None = None
    days: list[str | int] | str | None = None  # a list, or one word like "weekdays"
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("start_time", "end_time")
    @classmethod
    def _wall_time(cls, value: time | None) -> time | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError("must be a wall time without a zone; the zone is `timezone`")
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str | int] | str | None) -> list[str | int] | str | None:
        if value is not None:
            from netgauge.scheduler.window import parse_days

            parse_days(value)
        return value


class SelectorConfig(StrictModel):
    """Targets chosen by attributes: all listed tags must match (and the site, if given)."""

    tags: list[str] = Field(default_factory=list)
    site: str | None = None
    type: TargetType | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> SelectorConfig:
        if not self.tags and self.site is None and self.type is None:
            raise ValueError("a selector needs at least one of tags, site, type")
        return self


POLL_KINDS = frozenset({"snmp", "ssh", "winrm"})
POLL_INTERVAL_S = 300.0


class JobConfig(StrictModel):
    """A check kind + parameters + targets + an interval + an optional window."""

    name: str = Field(pattern=NAME_PATTERN)
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    targets: list[str] = Field(default_factory=list)
    selector: SelectorConfig | None = None
    interval: float = Field(60.0, description="seconds, or a duration string like 5m")
    timeout: float | None = Field(None, description="per-check timeout; default from settings")
    concurrency: int = Field(64, ge=1, le=100_000, description="checks of this job in flight")
    window: WindowConfig | None = None
    enabled: bool = True
    run_when: Literal["always", "open", "closed", "peak", "off_peak"] = Field(
        "always", description="when it runs on a target, by the calendar of the target's site"
    )
    maintenance: Literal["mute", "pause"] = Field(
        "mute",
        description="during its site's maintenance: mute (run, alerts muted) or pause "
        "(no run: maintenance without data collection)",
    )
    vantage: list[str] | None = Field(
        None,
        description="sites whose collectors each check every target of the job at once "
        "(multi-vantage); the target's state is decided by quorum",
    )
    quorum: int | None = Field(
        None, ge=1, description="vantage points that must see a target down (default: a majority)"
    )

    @model_validator(mode="before")
    @classmethod
    def _default_interval(cls, data: Any) -> Any:
        """Device polls default to every 5 minutes (a walk of a device's tables is heavier
        than a ping; the status comes from the faster checks), everything else to 60 s."""
        if isinstance(data, dict) and "interval" not in data and data.get("kind") in POLL_KINDS:
            return {**data, "interval": POLL_INTERVAL_S}
        return data

    @field_validator("interval", "timeout", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: float) -> float:
        if not 1.0 <= value <= 7 * 86400:
            raise ValueError("interval must be between 1s and 7d")
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: float | None) -> float | None:
        if value is not None and not 0 < value <= 3600:
            raise ValueError("timeout must be between 0 and 1h")
        return value

    @field_validator("targets")
    @classmethod
    def _unique_targets(cls, value: list[str]) -> list[str]:
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"target(s) listed twice: {', '.join(repeated)}")
        return value

    @model_validator(mode="after")
    def _has_targets(self) -> JobConfig:
        if not self.targets and self.selector is None:
            raise ValueError("a job needs `targets` (names) or a `selector` (tags/site/type)")
        return self

    @model_validator(mode="after")
    def _vantage(self) -> JobConfig:
        if self.vantage is None:
            if self.quorum is not None:
                raise ValueError("quorum needs vantage: the sites to check from")
            return self
        if not self.vantage:
            raise ValueError("vantage: list at least one site (or leave it out)")
        repeated = sorted({site for site in self.vantage if self.vantage.count(site) > 1})
        if repeated:
            raise ValueError(f"vantage: site(s) listed twice: {', '.join(repeated)}")
        if self.quorum is not None and self.quorum > len(self.vantage):
            raise ValueError(
                f"quorum: {self.quorum} is more than the {len(self.vantage)} vantage site(s)"
            )
        return self

    def vantage_quorum(self) -> int:
        """How many vantage points must see a target down: the quorum, or a majority."""
        return self.quorum or len(self.vantage or ()) // 2 + 1


class ConfigFile(StrictModel):
    """The whole YAML file."""

    settings: dict[str, Any] = Field(default_factory=dict)
    # what a start with this file may delete: what it declared before and no longer does
    # (declared), or anything it does not declare, built-in and API-made included (all)
    owns: Literal["declared", "all"] = "declared"
    sites: list[SiteConfig] = Field(default_factory=list)
    credentials: list[CredentialConfig] = Field(default_factory=list)
    targets: list[TargetConfig] = Field(default_factory=list)
    jobs: list[JobConfig] = Field(default_factory=list)
    schedules: list[ScheduleConfig] = Field(default_factory=list)
    notifiers: list[NotifierConfig] = Field(default_factory=list)
    alerts: list[AlertRuleConfig] = Field(default_factory=list)
