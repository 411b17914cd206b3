"""The stores a service writes to and reads from, built from the settings.

The embedded store is always there: it is the default reader and the store of last resort.
``stores`` adds InfluxDB and VictoriaMetrics, written to in addition (fan-out, each with its
own retries in the writer); ``query_store`` picks which one answers the API. Passwords are
read from the environment variable a store names, never from the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from netgauge.config.settings import Settings, StoreSettings
from netgauge.errors import ConfigError, ConfigProblem
from netgauge.storage.embedded import EmbeddedStore, Retention
from netgauge.storage.influxdb import InfluxV1Store
from netgauge.storage.victoriametrics import VictoriaMetricsStore

Store = EmbeddedStore | InfluxV1Store | VictoriaMetricsStore


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
        return VictoriaMetricsStore(cfg.url)
    password = None
    if cfg.password_env is not None:
        password = os.environ.get(cfg.password_env)
        if not password:
            path = f"stores[{index}].password_env"
            message = f"environment variable {cfg.password_env} is not set"
            raise ConfigError([ConfigProblem(path, message, None, "<settings>")])
    return InfluxV1Store(cfg.url, cfg.database, username=cfg.username, password=password)
