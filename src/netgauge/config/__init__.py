"""Configuration: pydantic models of the YAML file and the environment Settings."""

from netgauge.config.loader import LoadedConfig, load_config, load_config_text
from netgauge.config.model import ConfigFile, JobConfig, SiteConfig, TargetConfig
from netgauge.config.settings import Settings, load_settings

__all__ = [
    "ConfigFile",
    "JobConfig",
    "LoadedConfig",
    "Settings",
    "SiteConfig",
    "TargetConfig",
    "load_config",
    "load_config_text",
    "load_settings",
]
