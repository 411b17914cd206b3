"""WinRM device poller (Windows, agentless): WMI classes over WS-Management.

One poll of one Windows host is five WQL enumerations (``winrm_wsman`` builds and reads
the SOAP), each mapped onto the stable metric names of ``readings``:

* ``Win32_OperatingSystem`` (root/cimv2): ``memory_percent`` = (TotalVisibleMemorySize -
  FreePhysicalMemory) / TotalVisibleMemorySize (both in KiB); ``uptime_seconds`` =
  LocalDateTime - LastBootUpTime, both by the host's clock, so a skewed clock here does not
  bend it (ours stands in only when the host leaves LocalDateTime out).
* ``Win32_PerfFormattedData_PerfOS_Processor`` WHERE Name='_Total': ``cpu_percent`` =
  PercentProcessorTime, all processors.
* ``Win32_LogicalDisk`` WHERE DriveType=3 (local fixed disks): ``disk_percent{mount=DeviceID}``
  = (Size - FreeSpace) / Size.
* ``Win32_PerfFormattedData_Tcpip_NetworkInterface``: ``net_in_bytes_per_sec`` /
  ``net_out_bytes_per_sec{interface=Name}`` = BytesReceivedPersec / BytesSentPersec. The
  "formatted" classes are already per second (Windows cooks them), so no rate tracking here.
* The job's ``interfaces`` and ``disks`` (:mod:`selection`) choose among them: a disk by
  its DeviceID as Windows writes it (``C:``) and its FileSystem (``NTFS``, ``ReFS``) as
  its type; an interface by its Name (``Intel[R] Ethernet Connection``: the performance
  class has no type, so ``skip_types`` cannot pick interfaces here; Windows lists no
  loopback in it either).
* ``MSAcpi_ThermalZoneTemperature`` (root/wmi): ``temperature_celsius{sensor=InstanceName}``
  = CurrentTemperature / 10 - 273.15 (it counts tenths of a kelvin).

Target failures are data, never exceptions: a host that does not answer at all is an
OFFLINE reading; one that answers but refuses us (credentials, certificate, HTTP error) is
DEGRADED with the reason; a class that faults (root/wmi is often access-denied to
non-administrators, and has no thermal zone on most virtual machines) leaves its metrics
*absent* with one line in ``errors`` (``temperature_celsius: access denied (...)``), never 0.

The WS-Management transport is an injected I/O edge (:class:`WsmanTransport`: POST one
envelope, get the answer's text), so the tests feed recorded-shape documents. The real
one, :class:`HttpTransport`, is pywinrm's ``winrm.transport.Transport`` run in a worker
thread. Why pywinrm rather than hand-rolled httpx: WinRM's defaults (Negotiate/NTLM on, Basic
off, ``AllowUnencrypted=false``) mean that over plain HTTP every message must be sealed
with the NTLM/Kerberos session key inside a ``multipart/encrypted`` body (MS-WSMV
2.2.9.1); pywinrm (with requests-ntlm and pyspnego) implements that and NTLM channel
binding over HTTPS (and Kerberos, not offered here yet), and is what Ansible's winrm
connection has driven real Windows hosts with for a decade. Its ``Transport.send_message``
takes and returns raw envelopes, which is exactly the edge needed; its higher ``Protocol``
(shells) is not used. pypsrp would do as well but hides the envelope behind its own object
model; httpx has no NTLM sealing at all, and hand-rolling it is the riskiest code to write
without a Windows host to test it against.

What is checked, and how: the parsing against documents in the shape Windows answers
(modeled on MS-WSMV and on answers captured from Windows Server 2008/2012 by txwinrm, not
captured from a live host); the transport end to end (Basic, NTLM with sealing, HTTPS
certificates, paging, faults from HTTP 500) against netgauge's own stub server on loopback.
Not checked: a live Windows. Nothing here is verified against one.

Caveat, from the documentation and not checked here (no Windows host): the formatted
performance classes are computed by WMI from its own two latest samples, so the very
first query after the WMI performance provider loads can answer 0 % CPU and 0 B/s.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Protocol

from netgauge.errors import NetgaugeError
from netgauge.pollers.readings import (
    CPU_PERCENT,
    DISK_PERCENT,
    MEMORY_PERCENT,
    NET_IN_BYTES_PER_SEC,
    NET_OUT_BYTES_PER_SEC,
    TEMPERATURE_CELSIUS,
    UPTIME_SECONDS,
    DeviceReading,
    DeviceState,
    Metric,
)
from netgauge.pollers.selection import DiskSelection, InterfaceSelection
from netgauge.pollers.validation import Rejections
from netgauge.pollers.winrm_wsman import (
    Row,
    WsmanError,
    WsmanFault,
    cim_datetime,
    enumerate_envelope,
    new_message_id,
    parse_page,
    pull_envelope,
    resource_uri,
)

if TYPE_CHECKING:
    from winrm.transport import Transport

KIND = "winrm"
HTTPS_PORT = 5986
HTTP_PORT = 5985
ZERO_CELSIUS_IN_KELVIN = 273.15

Auth = Literal["ntlm", "basic"]


class WinrmTransportError(NetgaugeError):
    """The host answered, but not with SOAP: credentials refused, TLS failed, HTTP error."""


class WinrmUnreachableError(WinrmTransportError):
    """No answer at all: connection refused, no route, name unknown, timeout."""


class WsmanTransport(Protocol):
    """One host's WS-Management endpoint.

    ``post`` sends one SOAP envelope and returns the answer's text, a SOAP fault (HTTP 500)
    included; it raises :class:`WinrmUnreachableError` when nothing answers and
    :class:`WinrmTransportError` when something answers that is not SOAP.
    """

    @property
    def url(self) -> str: ...

    async def post(self, body: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Query:
    """One WQL enumeration and the metrics it feeds (the prefix of its error lines)."""

    metrics: str
    namespace: str
    wmi_class: str
    where: str = ""

    @property
    def wql(self) -> str:
        where = f" WHERE {self.where}" if self.where else ""
        return f"SELECT * FROM {self.wmi_class}{where}"

    @property
    def resource(self) -> str:
        return resource_uri(self.namespace)


OPERATING_SYSTEM = Query(
    f"{MEMORY_PERCENT}, {UPTIME_SECONDS}", "root/cimv2", "Win32_OperatingSystem"
)
PROCESSOR = Query(
    CPU_PERCENT, "root/cimv2", "Win32_PerfFormattedData_PerfOS_Processor", "Name='_Total'"
)
LOGICAL_DISKS = Query(DISK_PERCENT, "root/cimv2", "Win32_LogicalDisk", "DriveType=3")
NETWORK_INTERFACES = Query(
    f"{NET_IN_BYTES_PER_SEC}, {NET_OUT_BYTES_PER_SEC}",
    "root/cimv2",
    "Win32_PerfFormattedData_Tcpip_NetworkInterface",
)
THERMAL_ZONES = Query(TEMPERATURE_CELSIUS, "root/wmi", "MSAcpi_ThermalZoneTemperature")

Parsed = tuple[list[Metric], list[str]]
"""Metrics read from one class's instances, and the problems met reading them."""


def _number(row: Row, name: str) -> float | None:
    """A numeric property (uint64 text, real), or None when NULL, absent or not a number."""
    text = row.get(name)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def operating_system_metrics(rows: list[Row], now: datetime) -> Parsed:
    """``memory_percent`` and ``uptime_seconds`` from the Win32_OperatingSystem instance.

    Uptime is LocalDateTime - LastBootUpTime, both as the host tells them; ``now`` (this
    machine's clock) stands in only when the host leaves LocalDateTime out.
    """
    if not rows:
        return [], [f"{OPERATING_SYSTEM.metrics}: Win32_OperatingSystem has no instance"]
    row, metrics, errors = rows[0], [], []
    total, free = _number(row, "TotalVisibleMemorySize"), _number(row, "FreePhysicalMemory")
    if total and free is not None:
        metrics.append(Metric(MEMORY_PERCENT, 100.0 * (total - free) / total))
    else:
        errors.append(f"{MEMORY_PERCENT}: no TotalVisibleMemorySize/FreePhysicalMemory")
    boot = cim_datetime(row.get("LastBootUpTime"))
    if boot is None:
        errors.append(f"{UPTIME_SECONDS}: no LastBootUpTime")
    else:
        local = cim_datetime(row.get("LocalDateTime")) or now
        metrics.append(Metric(UPTIME_SECONDS, (local - boot).total_seconds()))
    return metrics, errors


def processor_metrics(rows: list[Row]) -> Parsed:
    """``cpu_percent``: PercentProcessorTime of the ``_Total`` instance (all processors)."""
    for row in rows:
        if row.get("Name") == "_Total":
            busy = _number(row, "PercentProcessorTime")
            if busy is not None:
                return [Metric(CPU_PERCENT, busy)], []
    return [], [f"{CPU_PERCENT}: no PercentProcessorTime of _Total in {PROCESSOR.wmi_class}"]


_EVERY_DISK = DiskSelection()
_EVERY_INTERFACE = InterfaceSelection()


def disk_metrics(rows: list[Row], disks: DiskSelection = _EVERY_DISK) -> Parsed:
    """``disk_percent`` of each local fixed disk (DriveType 3) that reports a size and that
    ``disks`` keeps (by DeviceID and FileSystem).

    A fixed volume without a size (BitLocker-locked, unformatted) is skipped, like the
    0-sized storage SNMP agents list: it has no used share to tell.
    """
    metrics = []
    for row in rows:
        size, free = _number(row, "Size"), _number(row, "FreeSpace")
        mount = row.get("DeviceID") or row.get("Name")
        if row.get("DriveType") != "3" or not size or free is None or not mount:
            continue
        if not disks.keeps(mount, row.get("FileSystem")):
            continue
        metrics.append(Metric(DISK_PERCENT, 100.0 * (size - free) / size, {"mount": mount}))
    if not metrics:
        return [], [f"{DISK_PERCENT}: no local fixed disk with a size in Win32_LogicalDisk"]
    return metrics, []


def interface_metrics(rows: list[Row], interfaces: InterfaceSelection = _EVERY_INTERFACE) -> Parsed:
    """Bytes per second in and out of each interface ``interfaces`` keeps (by Name), as
    Windows' counters cooked them."""
    metrics = []
    for row in rows:
        name = row.get("Name")
        if not name or not interfaces.keeps(name):
            continue
        for metric, prop in (
            (NET_IN_BYTES_PER_SEC, "BytesReceivedPersec"),
            (NET_OUT_BYTES_PER_SEC, "BytesSentPersec"),
        ):
            value = _number(row, prop)
            if value is not None:
                metrics.append(Metric(metric, value, {"interface": name}))
    if not metrics:
        return [], [f"{NETWORK_INTERFACES.metrics}: no interface in {NETWORK_INTERFACES.wmi_class}"]
    return metrics, []


def temperature_metrics(rows: list[Row]) -> Parsed:
    """``temperature_celsius`` of each ACPI thermal zone; none is an error line, not 0."""
    metrics = []
    for row in rows:
        tenths_kelvin = _number(row, "CurrentTemperature")
        sensor = row.get("InstanceName")
        if tenths_kelvin is None or not sensor:
            continue
        celsius = round(tenths_kelvin / 10.0 - ZERO_CELSIUS_IN_KELVIN, 2)
        metrics.append(Metric(TEMPERATURE_CELSIUS, celsius, {"sensor": sensor}))
    if not metrics:
        return [], [f"{TEMPERATURE_CELSIUS}: not available on this host (no thermal zone)"]
    return metrics, []


def error_line(query: Query, error: WsmanError) -> str:
    """The error line of a class that faulted (``temperature_celsius: access denied (...)``)
    or answered something unreadable."""
    if not isinstance(error, WsmanFault):
        return f"{query.metrics}: {query.wmi_class}: {error}"
    where = f"{query.wmi_class} in {query.namespace}"
    if error.access_denied:
        return f"{query.metrics}: access denied ({where}: {error})"
    if error.not_supported:
        return f"{query.metrics}: not available on this host ({where}: {error})"
    return f"{query.metrics}: {where} failed: {error}"


@dataclass
class _Poll:
    """One poll in progress: the metrics found and the problems met."""

    device: str
    now_ns: int
    metrics: list[Metric] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    silent_parts: int = 0  # queries the host stopped answering after the first answer

    def add(self, parsed: Parsed) -> None:
        self.metrics += parsed[0]
        self.errors += parsed[1]


class WinrmPoller:
    """Polls Windows hosts over WinRM; one transport per host, handed to :meth:`poll`."""

    kind = KIND

    def __init__(
        self,
        *,
        clock_ns: Callable[[], int] = time.time_ns,
        rejections: Rejections | None = None,
        max_elements: int = 256,
        max_pages: int = 64,
        operation_timeout_s: float = 20.0,
        message_ids: Callable[[], str] = new_message_id,
        interfaces: InterfaceSelection = _EVERY_INTERFACE,
        disks: DiskSelection = _EVERY_DISK,
    ) -> None:
        self._interfaces, self._disks = interfaces, disks
        # shared by every poller of a service, so refusals are counted in one place
        self.rejections = rejections if rejections is not None else Rejections()
        self._clock_ns = clock_ns
        self._max_elements = max_elements
        self._max_pages = max_pages  # a host that never ends its sequence is cut off here
        self._operation_timeout_s = operation_timeout_s
        self._message_ids = message_ids

    async def poll(self, device: str, transport: WsmanTransport) -> DeviceReading:
        """One poll of ``device``: ONLINE with its metrics, OFFLINE when it does not answer,
        DEGRADED when it answers but refuses us (the reason is in ``errors``)."""
        poll = _Poll(device, self._clock_ns())
        try:
            system = await self.enumerate(transport, OPERATING_SYSTEM)
        except WinrmUnreachableError as exc:
            return DeviceReading(device, KIND, poll.now_ns, DeviceState.OFFLINE, (), (str(exc),))
        except WinrmTransportError as exc:
            return DeviceReading(device, KIND, poll.now_ns, DeviceState.DEGRADED, (), (str(exc),))
        except WsmanError as exc:
            poll.errors.append(error_line(OPERATING_SYSTEM, exc))
        else:
            now = datetime.fromtimestamp(poll.now_ns / 1e9, UTC)
            poll.add(operating_system_metrics(system, now))
        parsers: tuple[tuple[Query, Callable[[list[Row]], Parsed]], ...] = (
            (PROCESSOR, processor_metrics),
            (LOGICAL_DISKS, lambda rows: disk_metrics(rows, self._disks)),
            (NETWORK_INTERFACES, lambda rows: interface_metrics(rows, self._interfaces)),
            (THERMAL_ZONES, temperature_metrics),
        )
        for query, parse in parsers:
            await self._read(poll, transport, query, parse)
        kept, refused = self.rejections.screen(poll.metrics)
        # answering with nothing readable (every class refused: an account without WMI
        # rights) is not online
        degraded = poll.silent_parts or not kept
        state = DeviceState.DEGRADED if degraded else DeviceState.ONLINE
        return DeviceReading(
            device, KIND, poll.now_ns, state, tuple(kept), (*poll.errors, *refused)
        )

    async def _read(
        self,
        poll: _Poll,
        transport: WsmanTransport,
        query: Query,
        parse: Callable[[list[Row]], Parsed],
    ) -> None:
        try:
            rows = await self.enumerate(transport, query)
        except WinrmTransportError as exc:
            poll.errors.append(f"{query.metrics}: {exc}")  # answered before: degraded
            poll.silent_parts += 1
        except WsmanError as exc:
            poll.errors.append(error_line(query, exc))
        else:
            poll.add(parse(rows))

    async def enumerate(self, transport: WsmanTransport, query: Query) -> list[Row]:
        """Every instance ``query`` selects: one Enumerate, then Pulls until the end."""
        page = parse_page(
            await transport.post(
                enumerate_envelope(
                    transport.url,
                    query.resource,
                    query.wql,
                    max_elements=self._max_elements,
                    operation_timeout_s=self._operation_timeout_s,
                    message_id=self._message_ids(),
                )
            )
        )
        rows = list(page.rows)
        pages = 1
        while page.context is not None:
            if pages >= self._max_pages:
                raise WsmanError(f"the enumeration did not end after {pages} pages")
            page = parse_page(
                await transport.post(
                    pull_envelope(
                        transport.url,
                        query.resource,
                        page.context,
                        max_elements=self._max_elements,
                        operation_timeout_s=self._operation_timeout_s,
                        message_id=self._message_ids(),
                    )
                )
            )
            rows += page.rows
            pages += 1
        return rows


def endpoint_url(host: str, port: int, *, https: bool) -> str:
    """``https://host:5986/wsman``, with an IPv6 literal in brackets."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{'https' if https else 'http'}://{host}:{port}/wsman"


# pywinrm blocks, so its calls run in threads: threads of their own, as many as WinRM polls
# may be in flight (kind_concurrency), so that hung hosts never hold the default pool the
# store's writes and the inventory's queries run in.
_THREADS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="netgauge-winrm")


class HttpTransport:
    """The real edge: pywinrm's transport (HTTP(S), NTLM with message sealing, or Basic),
    one per host, its blocking calls in a worker thread.

    ``ca_file`` is the CA bundle that signed the host's certificate (requests' own bundle
    when None); ``verify=False`` accepts any certificate. ``timeout_s`` bounds connecting
    and each answer; a WS-Management OperationTimeout below it (see :class:`WinrmPoller`)
    lets the host report a slow provider as a fault before the connection gives up.
    """

    def __init__(
        self,
        url: str,
        user: str,
        password: str,
        *,
        auth: Auth = "ntlm",
        ca_file: str | None = None,
        verify: bool = True,
        timeout_s: float = 30.0,
    ) -> None:
        self._url = url
        self._user = user
        self._password = password
        self._auth: Auth = auth
        self._ca_file = ca_file
        self._verify = verify
        self._timeout_s = timeout_s
        self._transport: Transport | None = None

    @property
    def url(self) -> str:
        return self._url

    async def post(self, body: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(_THREADS, self._post, body)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close_session()
            self._transport = None

    def _winrm(self) -> Transport:
        from winrm.transport import Transport

        if self._transport is None:
            self._transport = Transport(
                self._url,
                username=self._user,
                password=self._password,
                auth_method=self._auth,
                server_cert_validation="validate" if self._verify else "ignore",
                # None: requests' own CA bundle (pywinrm handles it; its annotation omits it)
                ca_trust_path=self._ca_file,  # type: ignore[arg-type]
                # requests takes a float; pywinrm only annotates int
                read_timeout_sec=self._timeout_s,  # type: ignore[arg-type]
                proxy=None,  # straight to the host: no proxy from the environment
            )
        return self._transport

    def _post(self, body: str) -> str:
        from requests import exceptions as http
        from winrm.exceptions import AuthenticationError, WinRMError, WinRMTransportError

        try:
            return self._winrm().send_message(body).decode("utf-8", "replace")
        except WinRMTransportError as exc:
            self.close()
            if exc.response_text.lstrip().startswith("<"):
                return exc.response_text  # a SOAP fault: read by the caller
            raise WinrmTransportError(f"HTTP {exc.code} from {self._url}") from None
        except AuthenticationError:
            self.close()
            raise WinrmTransportError(
                f"credentials refused by {self._url} (HTTP 401, {self._auth} authentication)"
            ) from None
        except http.SSLError as exc:
            self.close()
            raise WinrmTransportError(f"TLS with {self._url} failed: {_why(exc)}") from None
        except http.Timeout:
            self.close()
            raise WinrmUnreachableError(
                f"no answer from {self._url} within {self._timeout_s:g} s"
            ) from None
        except http.ConnectionError as exc:
            self.close()
            raise WinrmUnreachableError(f"cannot reach {self._url}: {_why(exc)}") from None
        except (http.RequestException, WinRMError) as exc:
            self.close()  # a half-built session (NTLM sealing not set up) is never reused
            raise WinrmTransportError(f"{self._url}: {_why(exc)}") from None


def _why(exc: BaseException) -> str:
    """The root cause of a requests/urllib3 error in a few words (``Connection refused``)."""
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and len(chain) < 16:
        chain.append(link)
        link = link.__cause__ or link.__context__
    for cause in reversed(chain):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            return f"{cause.reason or cause}"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else f"{text[:197]}..."
