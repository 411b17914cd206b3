"""Load the YAML file and validate it, reporting every problem with its YAML path and line."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from netgauge.config.alerts import AlertRuleConfig, NotifierConfig
from netgauge.config.files import FilePolicy
from netgauge.config.model import (
    ConfigFile,
    CredentialConfig,
    JobConfig,
    SiteConfig,
    TargetConfig,
)
from netgauge.config.schedules import ScheduleConfig
from netgauge.config.settings import Settings, load_settings
from netgauge.config.yamlfile import Problems, parse_yaml
from netgauge.errors import ConfigError, ConfigProblem
from netgauge.probes.base import PROBES, validate_params
from netgauge.probes.builtin import load_builtin_probes


@dataclass(frozen=True)
class LoadedConfig:
    """A validated configuration plus where it came from."""

    config: ConfigFile
    source: str


def load_config_text(
    text: str, source: str = "<config>", *, data_dir: Path | None = None
) -> LoadedConfig:
    """Validate YAML ``text``; raise ConfigError listing every problem with path and line.

    ``data_dir``: the data directory the file will run with when it is not the file's own
    (``serve --data-dir``): the files jobs name must lie inside it (or ``file_dirs``)."""
    data, lines = parse_yaml(text, source)
    problems = Problems(source, lines)
    try:
        config: ConfigFile | _Partial = ConfigFile.model_validate(data)
    except ValidationError as exc:
        # every problem in one pass: the items that did validate are still checked for
        # references, settings and job params (a user fixing 6 problems met 9 more)
        problems.add_validation(exc)
        config = _Partial.of(data)
    _check_settings(config, problems)
    _check_references(config, problems)
    _check_job_params(config, problems, data_dir)
    if problems.items or not isinstance(config, ConfigFile):
        raise ConfigError(problems.items)
    return LoadedConfig(config, source)


_SECTIONS: dict[str, type[BaseModel]] = {
    "sites": SiteConfig,
    "credentials": CredentialConfig,
    "targets": TargetConfig,
    "jobs": JobConfig,
    "schedules": ScheduleConfig,
    "notifiers": NotifierConfig,
    "alerts": AlertRuleConfig,
}


@dataclass
class _Partial:
    """A file that did not validate whole: each item that validates on its own (None for the
    others, so that indexes, and the paths of problems, stay those of the file), and the
    names the file gives even in broken items (so no reference to them is called unknown)."""

    settings: dict[str, Any]
    sites: list[Any]
    credentials: list[Any]
    targets: list[Any]
    jobs: list[Any]
    schedules: list[Any]
    notifiers: list[Any]
    alerts: list[Any]
    declared: dict[str, set[str]]

    @classmethod
    def of(cls, data: dict[str, Any]) -> _Partial:
        sections: dict[str, list[Any]] = {}
        declared: dict[str, set[str]] = {}
        for section, model in _SECTIONS.items():
            items = data.get(section)
            items = items if isinstance(items, list) else []
            sections[section] = [_item(model, item) for item in items]
            declared[section] = {
                str(item["name"]) for item in items if isinstance(item, dict) and "name" in item
            }
        settings = data.get("settings")
        return cls(
            settings if isinstance(settings, dict) else {},
            sections["sites"],
            sections["credentials"],
            sections["targets"],
            sections["jobs"],
            sections["schedules"],
            sections["notifiers"],
            sections["alerts"],
            declared,
        )


def _item(model: type[BaseModel], item: Any) -> Any:
    try:
        return model.model_validate(item)
    except ValidationError:
        return None  # its problems are reported from the whole file's validation


def load_config(path: Path, *, data_dir: Path | None = None) -> LoadedConfig:
    """Read and validate the YAML file at ``path`` (``data_dir``: see load_config_text)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (byte {exc.start}: {exc.reason})"
        raise ConfigError([ConfigProblem("<file>", problem, None, str(path))]) from None
    except OSError as exc:
        raise ConfigError(
            [ConfigProblem("<file>", f"cannot read: {exc.strerror}", None, str(path))]
        ) from None
    return load_config_text(text, str(path), data_dir=data_dir)


SECRET_SETTINGS = ("database_password", "admin_password", "secret_key", "previous_secret_keys")


def _check_settings(config: ConfigFile | _Partial, problems: Problems) -> None:
    """The ``settings:`` section is validated by the Settings model; secrets are refused."""
    try:
        Settings.model_validate(config.settings)
    except ValidationError as exc:
        problems.add_validation(exc, ("settings",))
    for key in SECRET_SETTINGS:
        if key in config.settings:
            env = f"NETGAUGE_{key.upper()}"
            problems.add(
                ("settings", key), f"secrets never go in the file: set {env} or {env}_FILE"
            )
    url = config.settings.get("database_url")
    if isinstance(url, str) and _url_has_password(url):
        problems.add(
            ("settings", "database_url"),
            "the URL holds a password: remove it and set NETGAUGE_DATABASE_PASSWORD "
            "or NETGAUGE_DATABASE_PASSWORD_FILE",
        )


def _url_has_password(url: str) -> bool:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password is not None
    except ArgumentError:
        return False  # an unparseable URL is reported when the database is opened


def _duplicates(names: Iterable[str]) -> set[str]:
    return {name for name, n in Counter(names).items() if n > 1}


def _check_unique_items(section: str, names: list[str | None], problems: Problems) -> None:
    """Duplicate names among the items (None: an item that did not validate)."""
    dupes = _duplicates(name for name in names if name is not None)
    for index, name in enumerate(names):
        if name is not None and name in dupes:
            problems.add((section, index, "name"), f"duplicate {section[:-1]} name {name!r}")


def _check_references(config: ConfigFile | _Partial, problems: Problems) -> None:
    """Names are unique per section and every reference points at something declared."""
    declared = config.declared if isinstance(config, _Partial) else {}
    sites = [s.name for s in config.sites if s is not None]
    creds = [c.name for c in config.credentials if c is not None]
    targets = [t.name for t in config.targets if t is not None]
    sections = ("sites", "credentials", "targets", "jobs", "schedules", "notifiers", "alerts")
    for section in sections:
        items = getattr(config, section)
        _check_unique_items(section, [x.name if x else None for x in items], problems)
    sites += declared.get("sites", set())
    creds += declared.get("credentials", set())
    targets += declared.get("targets", set())
    schedules = {x.name for x in config.schedules if x is not None}
    schedules |= declared.get("schedules", set())
    for i, site in enumerate(config.sites):
        if site is not None and site.schedule is not None and site.schedule not in schedules:
            problems.add(("sites", i, "schedule"), f"unknown schedule {site.schedule!r}")
    for i, target in enumerate(config.targets):
        if target is None:
            continue
        if target.site is not None and target.site not in sites:
            problems.add(("targets", i, "site"), f"unknown site {target.site!r}")
        if target.credentials is not None and target.credentials not in creds:
            problems.add(
                ("targets", i, "credentials"), f"unknown credentials {target.credentials!r}"
            )
        if target.parent is not None and target.parent not in targets:
            problems.add(("targets", i, "parent"), f"unknown target {target.parent!r}")
    _check_parent_cycles(config, problems)
    _check_alert_references(config, problems, declared)
    for i, job in enumerate(config.jobs):
        if job is None:
            continue
        for j, name in enumerate(job.targets):
            if name not in targets:
                problems.add(("jobs", i, "targets", j), f"unknown target {name!r}")
        if job.selector is not None and job.selector.site is not None:
            if job.selector.site not in sites:
                problems.add(("jobs", i, "selector", "site"), f"unknown site {job.selector.site!r}")
        for k, site in enumerate(job.vantage or ()):
            if site not in sites:
                problems.add(("jobs", i, "vantage", k), f"unknown site {site!r}")


def _check_parent_cycles(config: ConfigFile | _Partial, problems: Problems) -> None:
    """A target cannot be reached through itself (a → b → a)."""
    parent = {t.name: t.parent for t in config.targets if t is not None and t.parent}
    for i, target in enumerate(config.targets):
        if target is None or not target.parent:
            continue
        seen, at = {target.name}, target.parent
        while at is not None and at not in seen:
            seen.add(at)
            at = parent.get(at)
        if at == target.name:
            problems.add(("targets", i, "parent"), f"{target.name!r} is its own ancestor")


def _check_alert_references(
    config: ConfigFile | _Partial, problems: Problems, declared: dict[str, set[str]]
) -> None:
    """Rules name notifiers, sites and targets that exist."""
    notifiers = {n.name for n in config.notifiers if n is not None} | declared.get(
        "notifiers", set()
    )
    targets = {t.name for t in config.targets if t is not None} | declared.get("targets", set())
    sites = {s.name for s in config.sites if s is not None} | declared.get("sites", set())
    for i, rule in enumerate(config.alerts):
        if rule is None:
            continue
        for j, name in enumerate(rule.notify or ()):
            if name not in notifiers:
                known = ", ".join(sorted(notifiers)) or "none declared"
                problems.add(("alerts", i, "notify", j), f"unknown notifier {name!r} ({known})")
        if rule.scope is None:
            continue
        for j, name in enumerate(rule.scope.targets):
            if name not in targets:
                problems.add(("alerts", i, "scope", "targets", j), f"unknown target {name!r}")
        if rule.scope.site is not None and rule.scope.site not in sites:
            problems.add(("alerts", i, "scope", "site"), f"unknown site {rule.scope.site!r}")


def _check_job_params(
    config: ConfigFile | _Partial, problems: Problems, data_dir: Path | None
) -> None:
    """Each job's kind is a registered probe and its params validate against that probe,
    the files they name included (held to the data directory, ``data_dir`` or else the
    one the settings give, and ``file_dirs``)."""
    load_builtin_probes()
    try:
        override = {"data_dir": data_dir} if data_dir is not None else None
        files: FilePolicy | None = load_settings(config.settings, override).file_policy()
    except (ValidationError, ValueError):
        files = None  # the settings' own problems are reported; paths are checked at start
    for i, job in enumerate(config.jobs):
        if job is None:
            continue
        if job.kind not in PROBES:
            known = ", ".join(PROBES.names())
            problems.add(("jobs", i, "kind"), f"unknown check kind {job.kind!r} (known: {known})")
            continue
        try:
            validate_params(PROBES.get(job.kind).params_model, job.params, files)
        except ValidationError as exc:
            problems.add_validation(exc, ("jobs", i, "params"))


def iter_problems(exc: ConfigError) -> Iterator[str]:
    """One printable line per problem."""
    for problem in exc.problems:
        yield str(problem)
