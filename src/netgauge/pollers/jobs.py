"""Device pollers as job kinds: jobs of kind ``snmp``, ``ssh`` and ``winrm`` poll their
targets like probes.

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
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from netgauge.config.files import LocalFile
from netgauge.credentials.scope import checked_address
from netgauge.errors import CredentialScopeError, TargetResolutionError
from netgauge.models import CredentialRef, ProbeResult, ProbeStatus, Target, now_ns
from netgauge.pollers.readings import DeviceReading, DeviceState
from netgauge.pollers.secrets import SecretMissingError, secret
from netgauge.pollers.selection import DiskSelection, InterfaceSelection
from netgauge.pollers.snmp import SnmpPoller
from netgauge.pollers.snmp_ber import V1, V2C
from netgauge.pollers.snmp_client import Credentials, Endpoint, SnmpClient
from netgauge.pollers.snmp_profiles import load_profiles
from netgauge.pollers.snmp_usm import V3, UsmUser
from netgauge.pollers.ssh import SshCredentials, SshEndpoint, SshPoller, SshSetupError
from netgauge.pollers.validation import REFUSED, Rejections
from netgauge.pollers.winrm import HttpTransport, WinrmPoller, endpoint_url
from netgauge.probes.base import ProbeParams, register_probe

# why a poll could not start: a failed result naming it, never an exception
_CANNOT_START = (SecretMissingError, TargetResolutionError, CredentialScopeError, ValueError)

REJECTIONS = Rejections()
"""Refused device samples of every poll job, counted by reason (shown in /api/v1/health)."""

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
        {
            "state": reading.state.value,
            "errors": list(reading.errors),
            "rejected": sum(error.startswith(REFUSED) for error in reading.errors),
        },
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


_MOUNTS = (
    "disk_percent of these mounts only (shell patterns, e.g. ['/', '/data*']), read-only and "
    "pseudo ones included; empty: every local writable file system. `disks` applies after it"
)
_INTERFACES = (
    "which interfaces' traffic is polled: include/exclude (regexes searched in the name) and "
    "skip_types (IANAifType names); default: every interface but loopbacks"
)
_DISKS = (
    "which disks' use is polled, after `mounts` (or the default rule): include/exclude "
    "(regexes searched in the mount) and skip_types (file system types)"
)


class SnmpJobParams(ProbeParams):
    """Parameters of an ``snmp`` job; the secrets come from each target's credentials."""

    version: Literal["1", "2c", "3"] = "2c"
    port: int = Field(161, ge=1, le=65535)
    timeout: float = Field(1.0, gt=0.0, le=30.0, description="seconds per try")
    retries: int = Field(1, ge=0, le=5)
    profiles_dir: Annotated[str | None, LocalFile()] = Field(
        None, description="extra device profiles (*.yaml)"
    )
    counter_wait_s: float = Field(
        3.5,
        ge=0.0,
        le=30.0,
        description="how long a poll may wait for the agent's next interface-counter refresh "
        "to time the counters by it (net-snmp refreshes every 3 s); 0: read them as they come",
    )
    mounts: list[str] = Field(default_factory=list, max_length=100, description=_MOUNTS)
    interfaces: InterfaceSelection = Field(InterfaceSelection(), description=_INTERFACES)
    disks: DiskSelection = Field(DiskSelection(), description=_DISKS)


@register_probe
class SnmpJob:
    """Polls devices over SNMP (kind ``snmp``)."""

    kind: ClassVar[str] = "snmp"
    params_model: ClassVar[type[ProbeParams]] = SnmpJobParams
    device_poll: ClassVar[bool] = True  # the runner backs off while the device is offline

    def __init__(self) -> None:
        self._pollers: dict[tuple[Any, ...], SnmpPoller] = {}
        self._clients: list[SnmpClient] = []

    async def run(self, target: Target, params: Any) -> ProbeResult:
        """One poll of ``target``; every failure is a result."""
        checked = (
            params if isinstance(params, SnmpJobParams) else SnmpJobParams.model_validate(params)
        )
        try:
            credentials = snmp_credentials(target.credentials, checked.version)
            endpoint = Endpoint(await checked_address(target), checked.port)
        except _CANNOT_START as exc:
            return failed(target, self.kind, str(exc))
        poller = self._poller(checked)
        return reading_to_result(await poller.poll(target.name, endpoint, credentials))

    def check_timeout(self, params: Any) -> float:
        """The longest a poll may take: about a dozen requests (the system group, then a
        few walks), each up to ``timeout`` per try, and the wait for a counter refresh."""
        p = SnmpJobParams.model_validate(params) if isinstance(params, dict) else params
        return 12 * p.timeout * (p.retries + 1) + 5.0 + p.counter_wait_s

    def _poller(self, params: SnmpJobParams) -> SnmpPoller:
        key = (
            params.timeout,
            params.retries,
            params.profiles_dir,
            params.counter_wait_s,
            tuple(params.mounts),
            params.interfaces.model_dump_json(),
            params.disks.model_dump_json(),
        )
        if key not in self._pollers:
            extra = Path(params.profiles_dir) if params.profiles_dir else None
            client = SnmpClient(timeout=params.timeout, retries=params.retries)
            self._clients.append(client)
            self._pollers[key] = SnmpPoller(
                client,
                load_profiles(extra),
                rejections=REJECTIONS,
                counter_wait_s=params.counter_wait_s,
                mounts=params.mounts,
                interfaces=params.interfaces,
                disks=params.disks,
            )
        return self._pollers[key]

    async def close(self) -> None:
        """Close the sockets (the service is stopping)."""
        for client in self._clients:
            await client.close()
        self._clients.clear()
        self._pollers.clear()


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


class SshJobParams(ProbeParams):
    """Parameters of an ``ssh`` job; the user, key file and password come from each
    target's credentials (``username``, ``files.key``, ``env``/``files`` ``password``)."""

    # a job sends the target's password or key to whichever host answers when it accepts
    # unknown host keys: only an admin may say so
    admin_only: ClassVar[dict[str, object]] = {"accept_new_host_keys": True}

    port: int = Field(22, ge=1, le=65535)
    known_hosts: Annotated[str | None, LocalFile("known_hosts")] = Field(
        None,
        validate_default=True,
        description="default: known_hosts in the data directory (~/.ssh/known_hosts on the "
        "command line)",
    )
    accept_new_host_keys: bool = False
    connect_timeout: float = Field(10.0, gt=0.0, le=120.0)
    command_timeout: float = Field(10.0, gt=0.0, le=300.0)
    idle_timeout: float = Field(300.0, ge=0.0, le=86400.0)
    mounts: list[str] = Field(default_factory=list, max_length=100, description=_MOUNTS)
    interfaces: InterfaceSelection = Field(InterfaceSelection(), description=_INTERFACES)
    disks: DiskSelection = Field(DiskSelection(), description=_DISKS)


@register_probe
class SshJob:
    """Polls Linux/Unix hosts over SSH (kind ``ssh``)."""

    kind: ClassVar[str] = "ssh"
    params_model: ClassVar[type[ProbeParams]] = SshJobParams
    device_poll: ClassVar[bool] = True  # the runner backs off while the device is offline

    def __init__(self) -> None:
        self._pollers: dict[tuple[Any, ...], SshPoller] = {}

    async def run(self, target: Target, params: Any) -> ProbeResult:
        """One poll of ``target``; every failure is a result."""
        checked = SshJobParams.model_validate(params) if isinstance(params, dict) else params
        try:
            credentials = ssh_credentials(target.credentials)
            # dial the address the scope was checked for, never the name again
            endpoint = SshEndpoint(target.address, checked.port, await checked_address(target))
        except _CANNOT_START as exc:
            return failed(target, self.kind, str(exc))
        try:
            reading = await self._poller(checked).poll(target.name, endpoint, credentials)
        except SshSetupError as exc:
            return failed(target, self.kind, str(exc))
        return reading_to_result(reading)

    def check_timeout(self, params: Any) -> float:
        """Connect, run the one command, and a margin (a second try on a new connection)."""
        p = SshJobParams.model_validate(params) if isinstance(params, dict) else params
        return 2 * (p.connect_timeout + p.command_timeout) + 5.0

    async def close(self) -> None:
        """Close the cached SSH connections (the service is stopping)."""
        for poller in self._pollers.values():
            await poller.close()
        self._pollers.clear()

    def _poller(self, p: SshJobParams) -> SshPoller:
        key = (p.known_hosts, p.accept_new_host_keys, p.connect_timeout, p.command_timeout,
               p.idle_timeout, tuple(p.mounts), p.interfaces.model_dump_json(),
               p.disks.model_dump_json())  # fmt: skip
        if key not in self._pollers:
            self._pollers[key] = SshPoller(
                known_hosts=Path(p.known_hosts) if p.known_hosts else None,
                accept_new_host_keys=p.accept_new_host_keys,
                connect_timeout=p.connect_timeout,
                command_timeout=p.command_timeout,
                idle_timeout=p.idle_timeout,
                rejections=REJECTIONS,
                mounts=p.mounts,
                interfaces=p.interfaces,
                disks=p.disks,
            )
        return self._pollers[key]


def ssh_credentials(ref: CredentialRef | None) -> SshCredentials:
    """User, key file (the path itself, ``files.key``), stored key (``private_key``) and
    password of a target."""
    if ref is None:
        raise ValueError("the target has no credentials reference (credentials: NAME)")
    user = ref.username or secret(ref, "user")
    if not user:
        raise ValueError(f"credentials {ref.name!r} give no user (username)")
    key = ref.files.get("key")
    return SshCredentials(
        user, Path(key) if key else None, secret(ref, "password"), secret(ref, "private_key")
    )


class WinrmJobParams(ProbeParams):
    """Parameters of a ``winrm`` job; user and password from each target's credentials."""

    # without certificate checks the password goes to whoever answers: admins only
    admin_only: ClassVar[dict[str, object]] = {"verify": False}

    https: bool = True
    port: int | None = Field(None, ge=1, le=65535, description="default 5986, 5985 for http")
    auth: Literal["ntlm", "basic"] = "ntlm"
    ca_file: Annotated[str | None, LocalFile()] = None
    verify: bool = True
    timeout: float = Field(20.0, gt=0.0, le=300.0)
    interfaces: InterfaceSelection = Field(InterfaceSelection(), description=_INTERFACES)
    disks: DiskSelection = Field(DiskSelection(), description=_DISKS)


@register_probe
class WinrmJob:
    """Polls Windows hosts over WinRM (kind ``winrm``)."""

    kind: ClassVar[str] = "winrm"
    params_model: ClassVar[type[ProbeParams]] = WinrmJobParams
    device_poll: ClassVar[bool] = True  # the runner backs off while the device is offline

    def check_timeout(self, params: Any) -> float:
        """Five enumerations (and their pages), each up to ``timeout``."""
        p = WinrmJobParams.model_validate(params) if isinstance(params, dict) else params
        return 6 * p.timeout + 5.0

    async def run(self, target: Target, params: Any) -> ProbeResult:
        """One poll of ``target``; every failure is a result."""
        p = WinrmJobParams.model_validate(params) if isinstance(params, dict) else params
        if p.auth == "basic" and not p.https:
            return failed(target, self.kind, "basic auth over plain HTTP would send the password")
        try:
            user, password = winrm_credentials(target.credentials)
            # (a host name is looked up again by the HTTP client, which needs the name for
            # the certificate check: the README says so)
            await checked_address(target)
        except _CANNOT_START as exc:
            return failed(target, self.kind, str(exc))
        port = p.port or (5986 if p.https else 5985)
        transport = HttpTransport(
            endpoint_url(target.address, port, https=p.https),
            user,
            password,
            auth=p.auth,
            ca_file=p.ca_file,
            verify=p.verify,
            timeout_s=p.timeout,
        )
        try:
            poller = WinrmPoller(
                operation_timeout_s=max(1.0, p.timeout - 2.0),
                rejections=REJECTIONS,
                interfaces=p.interfaces,
                disks=p.disks,
            )
            return reading_to_result(await poller.poll(target.name, transport))
        finally:
            transport.close()


def winrm_credentials(ref: CredentialRef | None) -> tuple[str, str]:
    """User and password of a Windows target."""
    if ref is None:
        raise ValueError("the target has no credentials reference (credentials: NAME)")
    user = ref.username or secret(ref, "user")
    password = secret(ref, "password")
    if not user or not password:
        raise ValueError(f"credentials {ref.name!r} give no username and password")
    return user, password
