"""Device pollers as job kinds: a job of kind ``snmp`` polls its targets like a probe.

The runner schedules, limits and times out every job kind the same way; this module turns
a poller's :class:`DeviceReading` into the runner's :class:`ProbeResult`:

* metrics keep their documented names (``cpu_percent``, ``disk_percent{mount="/"}``), not
  ``snmp.cpu_percent``: the same metric from SNMP, SSH or the agent is one series name;
* OFFLINE is a ``timeout`` result (down); ONLINE and DEGRADED are ``ok`` (the device
  answers), with the reading's problems in ``error`` and the state in ``details``;
* the device's secrets are read from its credentials reference at poll time
  (``pollers.secrets``); a missing one is that target's failed result.

One client (socket) and one poller (rate baselines) serve every job of the kind, created
on first use inside the service's event loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from netgauge.errors import TargetResolutionError
from netgauge.models import CredentialRef, ProbeResult, ProbeStatus, Target, now_ns
from netgauge.pollers.readings import DeviceReading, DeviceState
from netgauge.pollers.secrets import SecretMissingError, secret
from netgauge.pollers.snmp import SnmpPoller
from netgauge.pollers.snmp_ber import V1, V2C
from netgauge.pollers.snmp_client import Credentials, Endpoint, SnmpClient
from netgauge.pollers.snmp_profiles import load_profiles
from netgauge.pollers.snmp_usm import V3, UsmUser
from netgauge.probes.base import ProbeParams, register_probe
from netgauge.probes.icmp_resolve import resolve_address

_STATUS = {
    DeviceState.ONLINE: ProbeStatus.OK,
    DeviceState.DEGRADED: ProbeStatus.OK,
    DeviceState.FLAPPING: ProbeStatus.OK,
    DeviceState.OFFLINE: ProbeStatus.TIMEOUT,
}


def reading_to_result(reading: DeviceReading) -> ProbeResult:
    """The runner's view of a poll (see the module docstring)."""
    return ProbeResult(
        reading.device,
        reading.kind,
        reading.ts_ns,
        _STATUS[reading.state],
        {metric.series(): metric.value for metric in reading.metrics},
        "; ".join(reading.errors) or None,
        {"state": reading.state.value, "errors": list(reading.errors)},
        prefixed=False,
    )


def failed(target: Target, kind: str, error: str) -> ProbeResult:
    """A poll that could not start (no secret, unresolvable address): failed, not offline."""
    return ProbeResult(
        target.name,
        kind,
        now_ns(),
        ProbeStatus.FAILED,
        {},
        error,
        {"state": None, "errors": [error]},
        prefixed=False,
    )


class SnmpJobParams(ProbeParams):
    """Parameters of an ``snmp`` job; the secrets come from each target's credentials."""

    version: Literal["1", "2c", "3"] = "2c"
    port: int = Field(161, ge=1, le=65535)
    timeout: float = Field(1.0, gt=0.0, le=30.0, description="seconds per try")
    retries: int = Field(1, ge=0, le=5)
    profiles_dir: str | None = Field(None, description="extra device profiles (*.yaml)")


@register_probe
class SnmpJob:
    """Polls devices over SNMP (kind ``snmp``)."""

    kind: ClassVar[str] = "snmp"
    params_model: ClassVar[type[ProbeParams]] = SnmpJobParams

    def __init__(self) -> None:
        self._pollers: dict[tuple[float, int, str | None], SnmpPoller] = {}

    async def run(self, target: Target, params: Any) -> ProbeResult:
        """One poll of ``target``; every failure is a result."""
        checked = (
            params if isinstance(params, SnmpJobParams) else SnmpJobParams.model_validate(params)
        )
        try:
            credentials = snmp_credentials(target.credentials, checked.version)
            endpoint = await _endpoint(target.address, checked.port)
        except (SecretMissingError, TargetResolutionError, ValueError) as exc:
            return failed(target, self.kind, str(exc))
        poller = self._poller(checked)
        return reading_to_result(await poller.poll(target.name, endpoint, credentials))

    def _poller(self, params: SnmpJobParams) -> SnmpPoller:
        key = (params.timeout, params.retries, params.profiles_dir)
        if key not in self._pollers:
            extra = Path(params.profiles_dir) if params.profiles_dir else None
            client = SnmpClient(timeout=params.timeout, retries=params.retries)
            self._pollers[key] = SnmpPoller(client, load_profiles(extra))
        return self._pollers[key]


def snmp_credentials(ref: CredentialRef | None, version: str) -> Credentials:
    """The SNMP credentials of a target from its reference (fields ``community``, or
    ``user``/``auth_protocol``/``auth_key``/``priv_protocol``/``priv_key`` for v3)."""
    if ref is None:
        raise ValueError("the target has no credentials reference (credentials: NAME)")
    if version != "3":
        community = secret(ref, "community")
        if not community:
            raise ValueError(f"credentials {ref.name!r} give no community (env.community)")
        return Credentials(V1 if version == "1" else V2C, community.encode())
    user = ref.username or secret(ref, "user")
    if not user:
        raise ValueError(f"credentials {ref.name!r} give no SNMPv3 user (username)")
    auth_key, priv_key = secret(ref, "auth_key"), secret(ref, "priv_key")
    auth = secret(ref, "auth_protocol") or ("SHA" if auth_key else None)
    priv = secret(ref, "priv_protocol") or ("AES" if priv_key else None)
    return Credentials(
        V3,
        usm=UsmUser(
            user,
            auth.upper() if auth else None,
            auth_key.encode() if auth_key else None,
            priv.upper() if priv else None,
            priv_key.encode() if priv_key else None,
        ),
    )


async def _endpoint(address: str, port: int) -> Endpoint:
    return Endpoint(await resolve_address(address), port)
