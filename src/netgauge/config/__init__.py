"""Configuration: pydantic models of the YAML file and the environment Settings.

Reading a file (``netgauge.config.loader``: YAML with lines, every job's params checked by
its probe) is not imported here: the probes build on this package's base models, and the
loader builds on the probes.
"""

from netgauge.config.model import ConfigFile, JobConfig, SiteConfig, TargetConfig
from netgauge.config.settings import Settings, load_settings

__all__ = [
    "ConfigFile",
    "JobConfig",
    "Settings",
    "SiteConfig",
    "TargetConfig",
    "load_settings",
]
