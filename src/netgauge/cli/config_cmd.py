"""``netgauge check-config FILE``: validate and report every problem with its path and line;
with ``--diff``, also what a start with the file would change in the inventory."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from netgauge.cli.app import app

if TYPE_CHECKING:
    from netgauge.config.model import ConfigFile
    from netgauge.inventory import SyncReport


@app.command("check-config")
def check_config(
    file: Annotated[Path, typer.Argument(help="The YAML configuration file.")],
    diff: Annotated[
        bool,
        typer.Option(
            "--diff",
            help="Also say what starting with this file would create, update, delete and "
            "keep in the inventory (of --data-dir, or the file's database_url); "
            "nothing is changed.",
        ),
    ] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="The data directory serve uses \\[default: ./netgauge-data]."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The --diff as JSON.")] = False,
) -> None:
    """Validate a configuration file; exit 2 listing each problem as FILE:LINE: PATH: message."""
    # imported here: `netgauge probe ...` should not pay for the config stack at start-up
    from netgauge.config.loader import load_config
    from netgauge.errors import ConfigError, NetgaugeError

    try:
        loaded = load_config(file, data_dir=data_dir)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        typer.echo(f"{len(exc.problems)} problem(s) found", err=True)
        raise typer.Exit(2) from None
    cfg = loaded.config
    if not as_json:
        typer.echo(
            f"{file}: OK ({len(cfg.sites)} sites, {len(cfg.targets)} targets, "
            f"{len(cfg.credentials)} credentials, {len(cfg.jobs)} jobs, "
            f"{len(cfg.schedules)} schedules, {len(cfg.notifiers)} notifiers, "
            f"{len(cfg.alerts)} alerts)"
        )
    if not diff:
        return
    try:
        report, where = _preview(cfg, file, data_dir)
    except NetgaugeError as exc:
        typer.echo(f"netgauge: cannot compare with the inventory: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(_as_json(report, where), indent=2, default=str))
    else:
        _print_diff(report, where)


def _preview(cfg: ConfigFile, file: Path, data_dir: Path | None) -> tuple[SyncReport, str]:
    """The sync a start would run, in a transaction that is undone."""
    from sqlalchemy import inspect

    from netgauge.config import load_settings
    from netgauge.errors import InventoryError
    from netgauge.inventory import Inventory, make_engine, migrate, preview_sync

    settings = load_settings(cfg.settings, {"data_dir": data_dir})
    url = settings.inventory_url()
    db = settings.data_dir / "inventory.db"
    actor = f"yaml:{file}"
    if settings.database_url is None and not db.exists():
        # no inventory yet: a first start makes it, and then everything in the file
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'inventory.db'}")
            migrate(engine)
            try:
                report = preview_sync(Inventory(engine, settings.file_policy()), cfg, actor)
            finally:
                engine.dispose()
            return report, f"{db} (not made yet)"
    engine = make_engine(url)
    try:
        if not inspect(engine).has_table("inventory_changes"):
            raise InventoryError(f"{_shown(url)} holds no netgauge inventory")
        _check_revision(engine, url)
        inv = Inventory(engine, settings.file_policy())
        return preview_sync(inv, cfg, actor), _shown(url)
    finally:
        engine.dispose()


def _check_revision(engine: Any, url: str) -> None:
    """A diff against a schema of another version could only guess."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from netgauge.errors import InventoryError
    from netgauge.inventory.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current != head:
        raise InventoryError(
            f"{_shown(url)} is at schema revision {current}, this netgauge's is {head}: "
            "start this version's `netgauge serve` once (it migrates), then compare"
        )


def _shown(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def _print_diff(report: SyncReport, where: str) -> None:
    typer.echo(f"compared with the inventory in {where}:")
    signs = {"create": "+", "update": "~", "delete": "-"}
    for change in report.changes:
        line = f"  {signs.get(change.action, '?')} {change.action} {change.kind} {change.name}"
        if change.action == "update":
            fields = ", ".join(
                f"{key}: {_value(old)} -> {_value(new)}"
                for key, (old, new) in sorted(change.changes.items())
            )
            line += f" ({fields})"
        typer.echo(line)
    for kind, name, source in report.kept:
        typer.echo(
            f"  = keep {kind} {name} (made {_made(source)}; not in the file, which does not "
            "own it: `owns: all` would delete it)"
        )
    typer.echo(
        f"{report.created} to create, {report.updated} to update, {report.deleted} to delete, "
        f"{len(report.kept)} kept"
    )


def _made(source: str) -> str:
    return {"api": "in the console or API", "builtin": "by netgauge's first start"}.get(
        source, f"by {source}"
    )


def _value(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _as_json(report: SyncReport, where: str) -> dict[str, Any]:
    def of(action: str) -> list[dict[str, Any]]:
        return [
            {"kind": c.kind, "name": c.name, "changes": c.changes}
            for c in report.changes
            if c.action == action
        ]

    return {
        "inventory": where,
        "create": of("create"),
        "update": of("update"),
        "delete": of("delete"),
        "keep": [{"kind": k, "name": n, "source": s} for k, n, s in report.kept],
    }
