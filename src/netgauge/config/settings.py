"""Process settings: defaults < YAML ``settings:`` < ``NETGAUGE_*`` environment < CLI flags."""

from __future__ import annotations

import re
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from netgauge.config.files import FilePolicy
from netgauge.config.model import check_network

# The YAML file's ``settings:`` section, handed to the source below for one load_settings call.
_FILE_VALUES: ContextVar[dict[str, Any] | None] = ContextVar("netgauge_file_settings", default=None)


class _FileSource(PydanticBaseSettingsSource):
    """Values from the YAML file: below the environment, above the defaults."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: __call__ returns the whole mapping at once."""
        return (_FILE_VALUES.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_VALUES.get() or {})


LogLevel = Literal["debug", "info", "warning", "error"]
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class StoreSettings(BaseModel):
    """A time-series store written besides the embedded one (fan-out)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["influxdb", "influxdb2", "victoriametrics"]
    url: str = Field(pattern=r"^https?://[^\s@]+$", description="e.g. http://influx:8086")
    database: str = Field("netgauge", description="InfluxDB 1.x database")
    username: str | None = Field(None, description="InfluxDB 1.x user")
    create_database: bool = Field(
        True,
        description="InfluxDB 1.x: create the database when a write finds it missing (needs an "
        "admin user); false for a user with WRITE on an existing database only",
    )
    password_env: str | None = Field(
        None, description="the environment variable holding the password (never the password)"
    )
    org: str | None = Field(None, min_length=1, description="InfluxDB 2 organization (name)")
    bucket: str | None = Field(None, min_length=1, description="InfluxDB 2 bucket")
    token_env: str | None = Field(
        None, description="InfluxDB 2: the environment variable holding the API token"
    )
    token_file: Path | None = Field(
        None, description="InfluxDB 2: or a file holding the API token (e.g. a mounted secret)"
    )
    query_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s@]+$",
        description="VictoriaMetrics cluster: vmselect's .../select/<tenant>/prometheus "
        "(url is then vminsert's .../insert/<tenant>/influx)",
    )

    @field_validator("password_env", "token_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable name")
        return value

    @model_validator(mode="after")
    def _fields_of_its_kind(self) -> StoreSettings:
        v1_only = {"database", "username", "password_env", "create_database"}
        v1_only &= self.model_fields_set
        v2_only = {"org", "bucket", "token_env", "token_file"} & self.model_fields_set
        if self.kind == "influxdb2":
            if v1_only:
                raise ValueError(f"{', '.join(sorted(v1_only))}: InfluxDB 1.x only (kind influxdb)")
            missing = [name for name in ("org", "bucket") if getattr(self, name) is None]
            if missing:
                raise ValueError(f"kind influxdb2 needs {' and '.join(missing)}")
            if (self.token_env is None) == (self.token_file is None):
                raise ValueError("kind influxdb2 needs exactly one of token_env or token_file")
        elif v2_only:
            raise ValueError(f"{', '.join(sorted(v2_only))}: InfluxDB 2 only (kind influxdb2)")
        if self.query_url is not None and self.kind != "victoriametrics":
            raise ValueError("query_url: VictoriaMetrics only (kind victoriametrics)")
        return self


class Settings(BaseSettings):
    """Everything about the process itself (not the inventory). Env: ``NETGAUGE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="NETGAUGE_", extra="forbid")

    data_dir: Path = Field(Path("netgauge-data"), description="Where the SQLite files live.")
    host: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8470, ge=0, le=65535, description="HTTP port (0 = pick a free one).")
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins whose pages may call the API with a bearer token (CORS); none by "
        "default. Exact origins like https://dash.example.org; cookies are never allowed "
        "cross-origin.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDRs of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed; none by default (the headers are then ignored).",
    )
    secure_cookies: bool | None = Field(
        None,
        description="Mark the session cookies Secure. Default: when the request came over "
        "HTTPS (directly, or as a trusted proxy says) or netgauge listens beyond loopback.",
    )
    file_dirs: list[Path] = Field(
        default_factory=list,
        description="Directories, besides the data directory, whose files jobs may name "
        "(known_hosts, ca_file, tls_ca_file, resolv_conf, profiles_dir); absolute paths.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the inventory database; default "
        "sqlite:///<data_dir>/inventory.db. PostgreSQL: postgresql+psycopg://user@host/db "
        "(the password from NETGAUGE_DATABASE_PASSWORD or NETGAUGE_DATABASE_PASSWORD_FILE).",
    )
    database_password: str | None = Field(None, repr=False)
    database_password_file: Path | None = None
    log_level: LogLevel = "info"
    log_format: Literal["json", "console"] = "json"
    max_concurrency: int = Field(256, ge=1, le=100_000, description="Checks in flight, global.")
    default_timeout_s: float = Field(10.0, gt=0, le=3600)
    write_batch_size: int = Field(5000, ge=1, le=1_000_000)
    write_flush_interval_s: float = Field(1.0, gt=0, le=300)
    shutdown_grace_s: float = Field(30.0, ge=0, le=600)
    stores: list[StoreSettings] = Field(
        default_factory=list,
        description="Stores written besides the embedded one: influxdb, victoriametrics.",
    )
    spool_max_mb: int = Field(
        512, ge=1, le=1_000_000, description="Per store: disk kept for batches it cannot take."
    )
    spool_policy: Literal["drop_oldest", "drop_newest"] = Field(
        "drop_oldest", description="At spool_max_mb: drop the oldest batches, or the new one."
    )
    store_degraded_for_s: float = Field(
        900,
        ge=0,
        le=7 * 86400,
        description="A store that lost samples (refused, or its full spool dropped them) is "
        "'degraded' in /health and /metrics this long after the last loss.",
    )
    retention_raw_days: float = Field(
        30, ge=2, le=36500, description="Embedded store: raw samples are kept this long."
    )
    retention_minute_days: float = Field(30, gt=0, le=36500, description="... minute rollups.")
    retention_hour_days: float = Field(90, gt=0, le=36500, description="... hourly rollups.")
    retention_day_days: float = Field(730, gt=0, le=36500, description="... daily rollups.")
    query_store: Literal["embedded", "influxdb", "influxdb2", "victoriametrics"] = Field(
        "embedded", description="Which store answers the API's metric queries."
    )
    discovery_max_addresses: int = Field(
        1024,
        ge=1,
        le=65_536,
        description="Addresses one discovery sweep may cover (1024: a /22).",
    )
    kind_concurrency: dict[str, int] = Field(
        default_factory=dict,
        description="Checks of one kind in flight, e.g. {ssh: 32, winrm: 16} (the defaults).",
    )
    ingest_max_series_per_device: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="Series a device's agent may create (one per disk, interface, sensor "
        "and metric); samples of new series beyond it are refused and counted.",
    )
    external_url: str = Field(
        "",
        max_length=512,
        pattern=r"^(https?://\S+)?$",
        description="netgauge's address as users reach it (https://netgauge.example.com): "
        "notifications link to their alert there.",
    )
    notification_give_up_s: float = Field(
        86400.0,
        ge=60,
        le=30 * 86400,
        description="A notification its receiver has not taken for this long is given up "
        "(state failed, shown in the console); until then it is retried with backoff.",
    )
    alert_flap_window_s: float = Field(
        600.0,
        ge=10,
        le=86400,
        description="An alert that fired twice within this window is flapping: it keeps "
        "firing until clear for a whole window, so an episode notifies at most twice.",
    )
    default_gap_alert: bool = Field(
        True,
        description="Without a gap rule in alerts:, any device silent 5 minutes alerts "
        "(rule collection-gap, to every notifier).",
    )
    advertise_url: str = Field(
        "",
        max_length=512,
        pattern=r"^(https?://\S+)?$",
        description="With several serve on one PostgreSQL: where the other peers reach this "
        "one (http://10.0.0.5:8470); default http://HOST:PORT when HOST is an address.",
    )
    leader_retry_s: float = Field(
        1.0,
        ge=0.1,
        le=60,
        description="With PostgreSQL: how often a standby serve tries to become the leader "
        "(the one that schedules, alerts and folds pushed results).",
    )
    collector_poll_s: float = Field(
        10.0,
        ge=0.2,
        le=3600,
        description="How often remote collectors sync (heartbeat, assignment): config "
        "changes reach them within this.",
    )
    collector_dead_after_s: float = Field(
        30.0,
        ge=0.5,
        le=86400,
        description="A collector silent this long is offline: its targets go to its site's "
        "other collectors. Keep it above two collector_poll_s.",
    )
    agent_silent_after_s: float = Field(
        120.0,
        gt=0,
        le=86400,
        description="A push agent silent this long counts as a failed check, every 30 s.",
    )
    device_fail_after: int = Field(
        3, ge=1, le=100, description="A device is offline after this many failed checks in a row."
    )
    device_recover_after: int = Field(
        2, ge=1, le=100, description="... and online again after this many good ones."
    )
    device_flap_changes: int = Field(
        4, ge=1, le=1000, description="More state changes than this within the window: flapping."
    )
    device_flap_window_s: float = Field(600.0, gt=0, le=86400, description="The flapping window.")
    admin_password: str | None = Field(
        None,
        repr=False,
        description="First start only: the password of the first admin (env only; without "
        "it a random one is generated and printed once).",
    )
    admin_password_file: Path | None = Field(None, description="... or a file holding it.")
    secret_key: str | None = Field(
        None,
        repr=False,
        description="Signs access tokens (env only; default: a generated <data_dir>/secret.key).",
    )
    secret_key_file: Path | None = Field(None, description="... or a file holding it.")
    previous_secret_keys: str | None = Field(
        None,
        repr=False,
        description="Key rotation: the secret key(s) used before, comma-separated (env "
        "only); stored credentials are re-sealed under the current key at start.",
    )
    previous_secret_keys_file: Path | None = Field(None, description="... or a file holding them.")
    access_token_minutes: int = Field(15, ge=1, le=1440, description="Access token lifetime.")
    refresh_token_days: int = Field(14, ge=1, le=365, description="Refresh token lifetime.")
    login_max_failures: int = Field(
        5, ge=1, le=1000, description="Failed logins (per user, per address) before a lockout."
    )
    login_lockout_s: float = Field(
        900.0,
        gt=0,
        le=86400,
        description="The longest lockout: from the limit on, each failure doubles the wait "
        "from 1 s up to this.",
    )
    login_workers: int = Field(
        0,
        ge=0,
        le=64,
        description="Passwords checked at once (argon2: 64 MiB and ~0.1 s each), in threads "
        "of their own; 0: half the CPUs, 1 to 4.",
    )
    audit_requests: bool = Field(True, description="Log API requests (the audit trail).")
    activity_per_minute: int = Field(
        30,
        ge=1,
        le=10_000,
        description="Console activity reports (POST /activity) a user may send per minute "
        "(as a burst, then on average).",
    )
    audit_read_sample: int = Field(
        10,
        ge=1,
        le=1_000_000,
        description="Successful reads (GET under 400) logged 1 in N; changes and errors always.",
    )
    audit_request_retention_days: float = Field(
        30, gt=0, le=3650, description="How long API request logs are kept."
    )
    audit_error_retention_days: float = Field(90, gt=0, le=3650, description="... error logs.")
    audit_activity_retention_days: float = Field(
        90, gt=0, le=3650, description="... the console's user activity."
    )
    run_retention_days: float = Field(
        30, gt=0, le=3650, description="Job runs and their targets' outcomes are kept this long."
    )
    lake_dir: Path | None = Field(
        None,
        description="Data lake: serve exports every table there as Parquet, by day, every "
        "lake_interval_s (none by default; see docs/analytics/lake.md).",
    )
    lake_interval_s: float = Field(
        3600.0, ge=60, le=7 * 86400, description="How often serve exports to lake_dir."
    )
    analytics_record_interval_s: float = Field(
        900.0,
        ge=1,
        le=86400,
        description="How often anomaly rates, failure risks and disk-full forecasts are stored "
        "as series, and anomaly and new-error-pattern events (docs/analytics/history.md).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Precedence: command-line flags > NETGAUGE_* environment > YAML file > defaults."""
        return init_settings, env_settings, _FileSource(settings_cls)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        return [check_network(v) for v in value]

    @field_validator("file_dirs")
    @classmethod
    def _absolute_dirs(cls, value: list[Path]) -> list[Path]:
        for path in value:
            if not path.is_absolute():
                raise ValueError(f"{str(path)!r} is not an absolute path")
        return value

    def file_policy(self) -> FilePolicy:
        """The files jobs may name: under the data directory and ``file_dirs``."""
        return FilePolicy(self.data_dir, tuple(self.file_dirs))

    @model_validator(mode="after")
    def _query_store_exists(self) -> Settings:
        kinds = {store.kind for store in self.stores}
        if self.query_store != "embedded" and self.query_store not in kinds:
            raise ValueError(f"query_store {self.query_store!r} is not among `stores`")
        if len(kinds) != len(self.stores):
            raise ValueError("`stores` lists one kind twice")
        return self

    def previous_keys(self) -> list[bytes]:
        """The secret keys of before a rotation (empty when none)."""
        text = self.previous_secret_keys
        if text is None and self.previous_secret_keys_file is not None:
            text = self.previous_secret_keys_file.read_text()
        return [k.strip().encode() for k in (text or "").replace("\n", ",").split(",") if k.strip()]

    def given_admin_password(self) -> tuple[str | None, str]:
        """The first admin's password when one is given, and the variable it came from:
        ``NETGAUGE_ADMIN_PASSWORD``, else the file ``NETGAUGE_ADMIN_PASSWORD_FILE`` names
        (OSError when it cannot be read)."""
        if self.admin_password is not None or self.admin_password_file is None:
            return self.admin_password, "NETGAUGE_ADMIN_PASSWORD"
        return self.admin_password_file.read_text().strip(), "NETGAUGE_ADMIN_PASSWORD_FILE"

    def peer_url(self) -> str:
        """Where the other serve peers reach this process (``advertise_url``, else the
        listening address when it is one a peer can use)."""
        if self.advertise_url:
            return self.advertise_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "localhost") else self.host
        host = "[::1]" if host == "::" else (f"[{host}]" if ":" in host else host)
        return f"http://{host}:{self.port}"

    def inventory_url(self) -> str:
        """The inventory database URL with the secret filled in from env/file, never from YAML."""
        if self.database_url is None:
            return f"sqlite:///{(self.data_dir / 'inventory.db').resolve()}"
        password = self.database_password
        if password is None and self.database_password_file is not None:
            password = self.database_password_file.read_text().strip()
        if password is None:
            return self.database_url
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url).set(password=password)
        return url.render_as_string(hide_password=False)

    def metrics_path(self) -> Path:
        """The embedded time-series file (separate from the inventory)."""
        return self.data_dir / "metrics.db"


def load_settings(
    file_values: dict[str, Any] | None = None, cli_values: dict[str, Any] | None = None
) -> Settings:
    """Settings with flags > ``NETGAUGE_*`` environment > the YAML ``settings:`` section."""
    token = _FILE_VALUES.set(dict(file_values or {}))
    try:
        return Settings(**{k: v for k, v in (cli_values or {}).items() if v is not None})
    finally:
        _FILE_VALUES.reset(token)
