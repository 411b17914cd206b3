"""Pydantic models of ``notifiers:`` and ``alerts:`` in the YAML file (validation only).

A rule says *when* (``condition``, ``for``, ``keep_firing_for``), *what* (labels,
annotations, severity) and *whom* (``notify``: notifier names; none: every notifier).
Grouping follows Alertmanager: alerts of a rule sharing the ``group_by`` label values make
one notification, sent ``group_wait`` after the first, at most every ``group_interval``
after a change, and again every ``repeat_interval`` while still firing.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from netgauge.alerting.payload import check_template
from netgauge.config.base import ENV_NAME, NAME_PATTERN, StrictModel, parse_duration
from netgauge.models import TargetType

STATES = ("down", "offline", "degraded", "flapping", "up", "online")
OPS = (">", ">=", "<", "<=", "==", "!=")
# the metric selector: a name, optionally with labels that must match exactly
_METRIC = re.compile(
    r'^[A-Za-z_][A-Za-z0-9_.]*(\{\s*([A-Za-z_]\w*\s*=\s*"(?:[^"\\]|\\.)*"\s*,?\s*)*\})?$'
)


class ConditionConfig(StrictModel):
    """Exactly one kind of condition:

    * ``state``: the target's state is this one (down, offline, degraded, flapping);
    * ``metric`` + ``op`` + ``value``: a threshold on every series of that name (labels in
      the name narrow it: ``disk_percent{mount="/"}``); ``recover_below`` /
      ``recover_above`` make the alert end only past a second value (hysteresis);
    * ``gap``: no sample from the target for that long (collection stopped);
    * ``failures``: that many failed checks in a row (a job failure streak);
    * ``baseline`` + ``factor``: a series above ``factor`` times its own median of the same
      hour of the week over the last 4 weeks (and above ``floor``);
    * ``anomaly`` (+ ``score``): a series' anomaly score (``netgauge.analytics.anomalies``:
      robust same-hour-of-day/-week baselines of its own history) at least ``score``
      (default 0.5, a robust z of 5);
    * ``forecast`` + ``reaches`` + ``within``: the series' trend (Theil–Sen over 30 days
      after the last level change, ``netgauge.analytics.forecast``) reaches that value
      within that long (or has reached it): ``{forecast: disk_percent, reaches: 95,
      within: 7d}``; a series without a trend never does;
    * ``path_change: true``: a traceroute found a different path than the previous one;
    * ``netgauge``: netgauge's own health: ``store_down`` (a store unreachable or its writes
      failing), ``samples_lost`` (a store refused or a full spool dropped samples lately),
      ``notifications_failing`` (a notification was given up).
    """

    state: Literal["down", "offline", "degraded", "flapping", "up", "online"] | None = None
    metric: str | None = None
    op: Literal[">", ">=", "<", "<=", "==", "!="] | None = None
    value: float | None = None
    recover_below: float | None = None
    recover_above: float | None = None
    gap: float | None = Field(None, description="seconds, or a duration like 5m")
    failures: int | None = Field(None, ge=1, le=10_000)
    baseline: str | None = None
    factor: float | None = Field(None, gt=1, le=1000)
    floor: float = Field(0.0, description="with baseline: the value must also exceed this")
    anomaly: str | None = None
    score: float | None = Field(
        None, gt=0, lt=1, description="with anomaly: the score that counts (default 0.5)"
    )
    forecast: str | None = None
    reaches: float | None = Field(None, allow_inf_nan=False)
    within: float | None = Field(None, description="with forecast: a duration like 7d")
    path_change: bool | None = None
    netgauge: Literal["store_down", "samples_lost", "notifications_failing"] | None = None

    @field_validator("gap", mode="before")
    @classmethod
    def _gap(cls, value: Any) -> float | None:
        if value is None:
            return None
        seconds = parse_duration(value)
        if not 1.0 <= seconds <= 7 * 86400:
            raise ValueError("gap must be between 1s and 7d")
        return seconds

    @field_validator("within", mode="before")
    @classmethod
    def _within(cls, value: Any) -> float | None:
        if value is None:
            return None
        seconds = parse_duration(value)
        if not 3600.0 <= seconds <= 365 * 86400:
            raise ValueError("within must be between 1h and 365d")
        return seconds

    @field_validator("metric", "baseline", "anomaly", "forecast")
    @classmethod
    def _metric(cls, value: str | None) -> str | None:
        if value is not None and not _METRIC.match(value):
            raise ValueError(
                f"{value!r} is not a metric name (examples: cpu_percent, icmp.loss_pct, "
                'disk_percent{mount="/"})'
            )
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> ConditionConfig:
        kinds = [
            k
            for k, given in (
                ("state", self.state is not None),
                ("metric", self.metric is not None),
                ("gap", self.gap is not None),
                ("failures", self.failures is not None),
                ("baseline", self.baseline is not None),
                ("anomaly", self.anomaly is not None),
                ("forecast", self.forecast is not None),
                ("path_change", bool(self.path_change)),
                ("netgauge", self.netgauge is not None),
            )
            if given
        ]
        if len(kinds) != 1:
            raise ValueError(
                "a condition needs exactly one of state, metric, gap, failures, baseline, "
                "anomaly, forecast, path_change, netgauge"
                + (f" (got {', '.join(kinds)})" if kinds else "")
            )
        if (self.baseline is None) != (self.factor is None):
            raise ValueError(
                "baseline and factor go together, e.g. baseline: icmp.rtt_avg_ms, factor: 2"
            )
        if self.score is not None and self.anomaly is None:
            raise ValueError("score goes with anomaly, e.g. anomaly: icmp.rtt_avg_ms, score: 0.8")
        if (self.forecast is None) != (self.reaches is None) or (self.forecast is None) != (
            self.within is None
        ):
            raise ValueError(
                "forecast, reaches and within go together, e.g. forecast: disk_percent, "
                "reaches: 95, within: 7d"
            )
        if self.metric is not None:
            self._check_threshold()
        elif any(
            v is not None for v in (self.op, self.value, self.recover_below, self.recover_above)
        ):
            raise ValueError("op, value, recover_below and recover_above go with metric")
        return self

    def _check_threshold(self) -> None:
        if self.op is None or self.value is None:
            raise ValueError("a metric condition needs op and value, e.g. op: '>', value: 90")
        if self.recover_below is not None and self.recover_above is not None:
            raise ValueError("give recover_below or recover_above, not both")
        if self.recover_below is not None and not (
            self.op in (">", ">=") and self.recover_below <= self.value
        ):
            raise ValueError("recover_below goes with op > or >= and must be <= value")
        if self.recover_above is not None and not (
            self.op in ("<", "<=") and self.recover_above >= self.value
        ):
            raise ValueError("recover_above goes with op < or <= and must be >= value")

    @property
    def kind(self) -> str:
        """state | metric | gap | failures | baseline | anomaly | forecast | path_change |
        netgauge."""
        kinds = ("state", "metric", "gap", "failures", "baseline", "anomaly", "forecast")
        for kind in (*kinds, "netgauge"):
            if getattr(self, kind) is not None:
                return kind
        return "path_change"


class RuleScopeConfig(StrictModel):
    """Which targets a rule watches (all given must hold; nothing given: every target)."""

    targets: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    site: str | None = None
    type: TargetType | None = None


def _duration_field(value: Any) -> float:
    seconds = parse_duration(value)
    if not 0 <= seconds <= 30 * 86400:
        raise ValueError("must be between 0 and 30d")
    return seconds


class AlertRuleConfig(StrictModel):
    """One alert rule."""

    name: str = Field(pattern=NAME_PATTERN)
    condition: ConditionConfig
    for_: float = Field(0.0, alias="for", description="pending until true this long")
    keep_firing_for: float = Field(0.0, description="keeps firing this long after it clears")
    severity: Literal["critical", "warning", "info"] = "warning"
    notify: list[str] | None = Field(None, description="notifier names; none given: every notifier")
    scope: RuleScopeConfig | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    group_by: list[str] = Field(default_factory=lambda: ["alertname"])
    group_wait: float = 30.0
    group_interval: float = 300.0
    repeat_interval: float = 4 * 3600.0
    enabled: bool = True

    model_config = StrictModel.model_config | {"populate_by_name": True}

    @field_validator(
        "for_", "keep_firing_for", "group_wait", "group_interval", "repeat_interval", mode="before"
    )
    @classmethod
    def _durations(cls, value: Any) -> float:
        return _duration_field(value)

    @field_validator("group_interval", "repeat_interval")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value < 1:
            raise ValueError("must be at least 1s")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = {"alertname", "target", "severity"} & set(value)
        if reserved:
            raise ValueError(f"label(s) {', '.join(sorted(reserved))} are set by netgauge")
        for key in value:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                raise ValueError(f"label name {key!r} must match [A-Za-z_][A-Za-z0-9_]*")
        return value


class NotifierConfig(StrictModel):
    """Where notifications go. Secrets (a webhook URL with a token in it, an HMAC key, an
    SMTP password) come from environment variables or files (``*_env`` / ``*_file``)."""

    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal[
        "webhook", "email", "alertmanager", "slack", "teams", "mattermost", "discord", "apprise"
    ]
    url: str | None = Field(None, description="webhook / alertmanager / chat URL")
    url_env: str | None = None
    url_file: str | None = None
    hmac_secret_env: str | None = Field(
        None, description="signs the body: X-Netgauge-Signature: sha256=<hex HMAC>"
    )
    hmac_secret_file: str | None = None
    # email
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    smtp_user: str | None = None
    smtp_password_env: str | None = None
    smtp_password_file: str | None = None
    sender: str | None = Field(None, alias="from")
    to: list[str] = Field(default_factory=list)
    # filters: a notification carries only the alerts these let through
    only: Literal["down", "up"] | None = Field(
        None, description="down: firing alerts only; up: resolved ones only"
    )
    severities: list[Literal["critical", "warning", "info"]] = Field(default_factory=list)
    sites: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    subject: str | None = Field(None, description="template of the email subject / chat title")
    body: str | None = Field(None, description="template of the text body")
    timeout: float = Field(10.0, gt=0, le=120)
    tls_ca_file: str | None = Field(
        None, description="CA certificates (PEM) to verify the receiver by, e.g. an internal CA"
    )

    @field_validator("subject", "body")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value)

    model_config = StrictModel.model_config | {"populate_by_name": True}

    @field_validator("url_env", "hmac_secret_env", "smtp_password_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        if value is not None and not ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable name")
        return value

    @model_validator(mode="after")
    def _complete(self) -> NotifierConfig:
        if self.kind == "email":
            if not (self.smtp_host and self.sender and self.to):
                raise ValueError("an email notifier needs smtp_host, from and to")
        elif sum(x is not None for x in (self.url, self.url_env, self.url_file)) != 1:
            raise ValueError(f"a {self.kind} notifier needs one of url, url_env, url_file")
        elif self.url is not None and self.kind != "apprise":
            if not re.match(r"^https?://[^\s/]+", self.url):
                raise ValueError(f"url: {self.url!r} is not an http(s) URL")
        return self
