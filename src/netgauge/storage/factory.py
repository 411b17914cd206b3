"""The stores a service writes to and reads from, built from the settings.

The embedded store is always there: it is the default reader and the store of last resort.
``stores`` adds InfluxDB 1.x, InfluxDB 2.x and VictoriaMetrics, written to in addition
(fan-out, each with its own retries in the writer); ``query_store`` picks which one answers
the API. Passwords and tokens are read from the environment variable (or, for a token, the
file) a store names, never from the configuration file itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from netgauge.config.settings import Settings, StoreSettings
from netgauge.errors import ConfigError, ConfigProblem
from netgauge.storage.embedded import EmbeddedStore, Retention
from netgauge.storage.influxdb import InfluxV1Store
from netgauge.storage.influxdb2 import InfluxV2Store
from netgauge.storage.victoriametrics import VictoriaMetricsStore

Store = EmbeddedStore | InfluxV1Store | InfluxV2Store | VictoriaMetricsStore


def build_stores(settings: Settings, metrics_path: Path) -> list[Store]:
    """The embedded store first, then every configured one."""
    retention = Retention(
        raw_days=settings.retention_raw_days,
        minute_days=settings.retention_minute_days,
        hour_days=settings.retention_hour_days,
        day_days=settings.retention_day_days,
    )
    stores: list[Store] = [EmbeddedStore(metrics_path, retention=retention)]
    for index, cfg in enumerate(settings.stores):
        stores.append(_build(cfg, index))
    return stores


def query_store(settings: Settings, stores: list[Store]) -> Store:
    """The store named by ``query_store`` (the embedded one by default)."""
    return next(store for store in stores if store.name == settings.query_store)


def _build(cfg: StoreSettings, index: int) -> Store:
    if cfg.kind == "victoriametrics":
        return VictoriaMetricsStore(cfg.url, query_url=cfg.query_url)
    if cfg.kind == "influxdb2":
        token = _token(cfg, index)
        return InfluxV2Store(cfg.url, org=cfg.org or "", bucket=cfg.bucket or "", token=token)
    password = None
    if cfg.password_env is not None:
        password = _from_env(cfg.password_env, f"stores[{index}].password_env")
    return InfluxV1Store(
        cfg.url,
        cfg.database,
        username=cfg.username,
        password=password,
        create_database=cfg.create_database,
    )


def _token(cfg: StoreSettings, index: int) -> str:
    """The InfluxDB 2 token: from ``token_file`` (its surrounding whitespace dropped) or from
    the variable ``token_env`` names; a ConfigError naming the setting when it is not there."""
    if cfg.token_file is None:
        return _from_env(cfg.token_env or "", f"stores[{index}].token_env")
    path = f"stores[{index}].token_file"
    try:
        token = cfg.token_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise _problem(path, f"cannot read {cfg.token_file}: {reason}") from None
    if not token:
        raise _problem(path, f"{cfg.token_file} is empty")
    return token


def _from_env(variable: str, path: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise _problem(path, f"environment variable {variable} is not set")
    return value


def _problem(path: str, message: str) -> ConfigError:
    return ConfigError([ConfigProblem(path, message, None, "<settings>")])
