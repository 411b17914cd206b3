"""What netgauge watches when started without a config file: this host, two ways."""

from __future__ import annotations

from netgauge.config.model import ConfigFile, JobConfig, TargetConfig
from netgauge.models import TargetType

DEFAULTS_SOURCE = "<defaults>"  # the configuration's source when serve has no file


def default_config(api_port: int) -> ConfigFile:
    """ICMP to 127.0.0.1 and a TCP connect to netgauge's own API port, both every 30 s
    (made on the first start only: see inventory.sync.seed_builtin)."""
    return ConfigFile(
        targets=[
            TargetConfig(
                name="localhost",
                address="127.0.0.1",
                type=TargetType.DEVICE,
                tags=["default", "self"],
                description="this host over ICMP",
            ),
        ],
        jobs=[
            JobConfig(
                name="ping-localhost",
                kind="icmp",
                params={"count": 5, "interval": 0.2, "timeout": 1.0},
                targets=["localhost"],
                interval=30.0,
            ),
            JobConfig(
                name="netgauge-api-tcp",
                kind="tcp",
                params={"port": api_port, "timeout": 2.0},
                targets=["localhost"],
                interval=30.0,
            ),
        ],
    )
