"""The WinRM poller against WS-Management documents: envelopes, every class's parsing, CIM
datetimes, paging, faults, NULL values, and the poller's metrics, states and error lines.

The documents in ``winrm_docs/`` are written in the shape Windows Server 2019/2022 answers
an optimized Enumerate of each class (one line, ``s:``/``a:``/``n:``/``w:`` prefixes, one
``p:`` namespace per class, ``xsi:nil``, ``cim:Datetime``, ``w:Items``/``w:EndOfSequence``,
then ``n:Items``/``n:EndOfSequence`` in a PullResponse). They are modeled on MS-WSMV and on
answers captured from Windows Server 2008/2012 by the txwinrm project, not captured from a
live Windows host: no Windows host answered these tests.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from netgauge.errors import NetgaugeError
from netgauge.pollers.readings import DeviceReading, DeviceState
from netgauge.pollers.validation import Rejections
from netgauge.pollers.winrm import (
    LOGICAL_DISKS,
    NETWORK_INTERFACES,
    OPERATING_SYSTEM,
    PROCESSOR,
    THERMAL_ZONES,
    WinrmPoller,
    WinrmTransportError,
    WinrmUnreachableError,
    disk_metrics,
    endpoint_url,
    interface_metrics,
    operating_system_metrics,
    processor_metrics,
    temperature_metrics,
)
from netgauge.pollers.winrm_wsman import (
    ACTION_ENUMERATE,
    ACTION_PULL,
    NS_ADDRESSING,
    NS_ENUMERATION,
    NS_SOAP,
    NS_WSMAN,
    WQL_DIALECT,
    Row,
    WsmanError,
    WsmanFault,
    cim_datetime,
    enumerate_envelope,
    parse_page,
    pull_envelope,
    resource_uri,
)

DOCS = Path(__file__).parent / "winrm_docs"
URL = "https://192.0.2.10:5986/wsman"
NETIF_CONTEXT = "uuid:C19F8F6A-6A43-45A2-AEEE-A9110A448493"
S = 1_000_000_000
NOW_NS = 1_795_000_000 * S
CIMV2 = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/*"
ROOT_WMI = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/wmi/*"


def doc(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def rows(name: str) -> list[Row]:
    return parse_page(doc(name)).rows


def q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


WINDOWS: dict[str, str | Exception] = {
    "Win32_OperatingSystem": doc("os_enumerate.xml"),
    "Win32_PerfFormattedData_PerfOS_Processor": doc("processor_enumerate.xml"),
    "Win32_LogicalDisk": doc("disks_enumerate.xml"),
    "Win32_PerfFormattedData_Tcpip_NetworkInterface": doc("netif_enumerate.xml"),
    NETIF_CONTEXT: doc("netif_pull.xml"),
    "MSAcpi_ThermalZoneTemperature": doc("thermal_enumerate.xml"),
}


class FakeHost:
    """A WS-Management endpoint in memory: answers each Enumerate by the class its WQL
    names and each Pull by its context, and keeps every request it was sent."""

    url = URL

    def __init__(self, **changes: str | Exception) -> None:
        self.answers = {**WINDOWS, **changes}
        self.requests: list[ET.Element] = []

    async def post(self, body: str) -> str:
        envelope = ET.fromstring(body)
        self.requests.append(envelope)
        action = envelope.findtext(f"{q(NS_SOAP, 'Header')}/{q(NS_ADDRESSING, 'Action')}")
        if action == ACTION_ENUMERATE:
            wql = envelope.findtext(f".//{q(NS_WSMAN, 'Filter')}") or ""
            match = re.search(r"FROM (\w+)", wql)
            assert match, wql
            key = match.group(1)
        else:
            assert action == ACTION_PULL, action
            key = envelope.findtext(f".//{q(NS_ENUMERATION, 'EnumerationContext')}") or ""
        answer = self.answers[key]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def actions(self) -> list[tuple[str, str, str]]:
        """(action, resource URI, WQL or context) of every request, in order."""
        seen = []
        for envelope in self.requests:
            header = envelope.find(q(NS_SOAP, "Header"))
            assert header is not None
            body = envelope.find(q(NS_SOAP, "Body"))
            assert body is not None
            what = body.findtext(f".//{q(NS_WSMAN, 'Filter')}") or body.findtext(
                f".//{q(NS_ENUMERATION, 'EnumerationContext')}"
            )
            seen.append(
                (
                    header.findtext(q(NS_ADDRESSING, "Action")) or "",
                    header.findtext(q(NS_WSMAN, "ResourceURI")) or "",
                    what or "",
                )
            )
        return seen


def values(reading: DeviceReading) -> dict[str, float]:
    return {metric.series(): metric.value for metric in reading.metrics}


async def poll(host: FakeHost, rejections: Rejections | None = None) -> DeviceReading:
    poller = WinrmPoller(clock_ns=lambda: NOW_NS, rejections=rejections)
    return await poller.poll("win1", host)


# --- envelopes -------------------------------------------------------------------------


def test_an_enumerate_envelope_asks_for_an_optimized_wql_enumeration() -> None:
    wql = "SELECT * FROM Win32_LogicalDisk WHERE DriveType=3 AND VolumeName<>'a&b'"
    body = enumerate_envelope(
        URL,
        resource_uri("root/cimv2"),
        wql,
        max_elements=256,
        operation_timeout_s=20,
        message_id="uuid:00000000-0000-0000-0000-000000000001",
    )
    envelope = ET.fromstring(body)  # well-formed, the WQL's < & ' escaped
    header = envelope.find(q(NS_SOAP, "Header"))
    assert header is not None
    assert header.findtext(q(NS_ADDRESSING, "To")) == URL
    assert header.findtext(q(NS_ADDRESSING, "Action")) == ACTION_ENUMERATE
    assert header.findtext(q(NS_ADDRESSING, "MessageID")) == (
        "uuid:00000000-0000-0000-0000-000000000001"
    )
    resource = header.find(q(NS_WSMAN, "ResourceURI"))
    assert resource is not None and resource.text == CIMV2
    assert resource.get(q(NS_SOAP, "mustUnderstand")) == "true"
    assert header.findtext(q(NS_WSMAN, "MaxEnvelopeSize")) == "153600"
    assert header.findtext(q(NS_WSMAN, "OperationTimeout")) == "PT20.000S"
    enumerate_ = envelope.find(f"{q(NS_SOAP, 'Body')}/{q(NS_ENUMERATION, 'Enumerate')}")
    assert enumerate_ is not None
    assert enumerate_.find(q(NS_WSMAN, "OptimizeEnumeration")) is not None
    assert enumerate_.findtext(q(NS_WSMAN, "MaxElements")) == "256"
    wql_filter = enumerate_.find(q(NS_WSMAN, "Filter"))
    assert wql_filter is not None
    assert (wql_filter.get("Dialect"), wql_filter.text) == (WQL_DIALECT, wql)


def test_a_pull_envelope_carries_the_context_of_the_previous_answer() -> None:
    body = pull_envelope(
        URL, resource_uri("root/wmi"), NETIF_CONTEXT, max_elements=10, operation_timeout_s=1.5
    )
    envelope = ET.fromstring(body)
    assert envelope.findtext(f".//{q(NS_ADDRESSING, 'Action')}") == ACTION_PULL
    assert envelope.findtext(f".//{q(NS_WSMAN, 'ResourceURI')}") == ROOT_WMI
    assert envelope.findtext(f".//{q(NS_WSMAN, 'OperationTimeout')}") == "PT1.500S"
    pull = envelope.find(f"{q(NS_SOAP, 'Body')}/{q(NS_ENUMERATION, 'Pull')}")
    assert pull is not None
    assert pull.findtext(q(NS_ENUMERATION, "EnumerationContext")) == NETIF_CONTEXT
    assert pull.findtext(q(NS_ENUMERATION, "MaxElements")) == "10"
    message_id = envelope.findtext(f".//{q(NS_ADDRESSING, 'MessageID')}") or ""
    assert re.fullmatch(r"uuid:[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}", message_id)


def test_resource_uris_and_endpoints() -> None:
    assert resource_uri("root/cimv2") == CIMV2
    assert resource_uri("/ROOT/WMI") == ROOT_WMI
    assert endpoint_url("192.0.2.10", 5986, https=True) == URL
    assert endpoint_url("2001:db8::1", 5985, https=False) == "http://[2001:db8::1]:5985/wsman"
    assert endpoint_url("win1.example.com", 5986, https=True) == (
        "https://win1.example.com:5986/wsman"
    )


# --- answers -----------------------------------------------------------------------------


def test_an_instance_is_read_property_by_property() -> None:
    [os_row] = rows("os_enumerate.xml")
    assert os_row["Caption"] == "Microsoft Windows Server 2022 Standard"
    assert os_row["TotalVisibleMemorySize"] == "16776756"  # uint64 as decimal text
    assert os_row["CSDVersion"] is None  # xsi:nil="true": NULL
    assert os_row["Description"] == ""  # an empty string is not NULL
    assert os_row["LastBootUpTime"] == "2026-11-23T10:15:30.5+01:00"  # cim:Datetime's text
    assert os_row["SystemDirectory"] == r"C:\Windows\system32"


def test_an_array_property_keeps_its_first_value() -> None:
    zone = rows("thermal_enumerate.xml")[0]
    assert zone["ActiveTripPoint"] == "3582"
    assert zone["InstanceName"] == r"ACPI\ThermalZone\TZ00_0"


def test_a_projection_answers_xml_fragments_with_unqualified_properties() -> None:
    # the shape of ``SELECT DeviceID, Size, ...`` (a projection): w:XmlFragment, no p: prefix
    text = (
        '<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header/><s:Body>'
        "<n:EnumerateResponse><n:EnumerationContext></n:EnumerationContext><w:Items>"
        '<w:XmlFragment xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<DeviceID>C:</DeviceID><Size>1000</Size><FreeSpace>250</FreeSpace><Access xsi:nil="true"/>'
        "<InstallDate><Datetime>2013-04-09T15:42:20.4124Z</Datetime></InstallDate>"
        "</w:XmlFragment></w:Items><w:EndOfSequence/></n:EnumerateResponse></s:Body></s:Envelope>"
    )
    page = parse_page(text)
    assert page.context is None
    assert page.rows == [
        {
            "DeviceID": "C:",
            "Size": "1000",
            "FreeSpace": "250",
            "Access": None,
            "InstallDate": "2013-04-09T15:42:20.4124Z",
        }
    ]


def test_an_answer_without_end_of_sequence_gives_the_context_to_pull() -> None:
    first = parse_page(doc("netif_enumerate.xml"))
    assert first.context == NETIF_CONTEXT
    assert [row["Name"] for row in first.rows] == [
        "Intel[R] Ethernet Connection [7] I219-LM",
        "vmxnet3 Ethernet Adapter _2",
    ]
    last = parse_page(doc("netif_pull.xml"))  # n:Items and n:EndOfSequence
    assert last.context is None
    assert [row["Name"] for row in last.rows] == ["Microsoft Hyper-V Network Adapter"]


def test_end_of_sequence_ends_the_enumeration_whatever_the_context_says() -> None:
    text = doc("processor_enumerate.xml").replace(
        "<n:EnumerationContext></n:EnumerationContext>",
        f"<n:EnumerationContext>{NETIF_CONTEXT}</n:EnumerationContext>",
    )
    assert parse_page(text).context is None


def test_a_pull_page_in_the_middle_gives_the_next_context() -> None:
    text = doc("netif_pull.xml").replace(
        "<n:PullResponse>",
        "<n:PullResponse><n:EnumerationContext> uuid:NEXT </n:EnumerationContext>",
    )
    text = text.replace("<n:EndOfSequence/>", "")
    assert parse_page(text).context == "uuid:NEXT"


def test_an_empty_enumeration_has_no_rows() -> None:
    page = parse_page(doc("thermal_empty.xml"))
    assert (page.rows, page.context) == ([], None)
    without_items = doc("thermal_empty.xml").replace("<w:Items></w:Items>", "")
    assert parse_page(without_items).rows == []


def test_an_access_denied_fault_is_read() -> None:
    with pytest.raises(WsmanFault) as caught:
        parse_page(doc("thermal_access_denied.xml"))
    fault = caught.value
    assert isinstance(fault, NetgaugeError)  # one exception tree
    assert fault.info.code == "s:Sender"
    assert fault.info.subcode == "w:AccessDenied"
    assert fault.info.wsman_codes == (0x80338104,)
    assert fault.access_denied and not fault.not_supported
    assert str(fault) == (
        "w:AccessDenied 0x80338104: The WMI service returned an 'access denied' error."
    )


def test_a_provider_fault_nested_in_a_fault_is_read_to_its_innermost_message() -> None:
    with pytest.raises(WsmanFault) as caught:
        parse_page(doc("thermal_not_supported.xml"))
    fault = caught.value
    assert fault.info.wsman_codes == (0x80338102, 0x80338102)
    assert fault.not_supported and not fault.access_denied
    assert "could not perform the requested operation" in fault.info.message
    assert "WDM specific" not in str(fault)  # the extended status is not a message


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("<html><body>Service Unavailable</body></html>", "not a SOAP 1.2 envelope"),
        ("not xml at all", "not XML"),
        (
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
            "DTD",
        ),
        (
            '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
            '<x:TransferResponse xmlns:x="urn:x"/></s:Body></s:Envelope>',
            "got 'TransferResponse'",
        ),
        (
            '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>',
            "an empty body",
        ),
    ],
)
def test_what_is_not_an_enumeration_answer_is_refused(text: str, why: str) -> None:
    with pytest.raises(WsmanError, match=why) as caught:
        parse_page(text)
    assert not isinstance(caught.value, WsmanFault)


# --- CIM datetimes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # DMTF, the offset in minutes: +060 is UTC+1, so 10:15:30.5 there is 09:15:30.5 UTC
        ("20261123101530.500000+060", datetime(2026, 11, 23, 9, 15, 30, 500000, UTC)),
        ("20261123101530.000000-300", datetime(2026, 11, 23, 15, 15, 30, 0, UTC)),
        ("20261123101530.000001+000", datetime(2026, 11, 23, 10, 15, 30, 1, UTC)),
        ("20261123101530.000000+330", datetime(2026, 11, 23, 4, 45, 30, 0, UTC)),
        # xs:dateTime, as WinRM writes cim:Datetime
        ("2013-04-10T16:18:55.48634Z", datetime(2013, 4, 10, 16, 18, 55, 486340, UTC)),
        ("2026-11-23T10:15:30.5+01:00", datetime(2026, 11, 23, 9, 15, 30, 500000, UTC)),
        ("2026-11-23T10:15:30-05:30", datetime(2026, 11, 23, 15, 45, 30, 0, UTC)),
        ("2026-01-01T00:00:00.1234567Z", datetime(2026, 1, 1, 0, 0, 0, 123456, UTC)),
        ("2026-01-01T00:00:00", datetime(2026, 1, 1, tzinfo=UTC)),  # no zone: UTC
    ],
)
def test_cim_datetimes_are_read_exactly(text: str, expected: datetime) -> None:
    got = cim_datetime(text)
    assert got == expected
    assert got is not None and got.utcoffset() is not None


def test_a_dmtf_datetime_keeps_its_offset() -> None:
    got = cim_datetime("20261123101530.500000+060")
    assert got is not None and got.utcoffset() == timedelta(minutes=60)
    assert got.replace(tzinfo=None) == datetime(2026, 11, 23, 10, 15, 30, 500000)
    assert got.tzinfo == timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "20261123******.******+***",  # fields WMI does not know
        "20261323101530.000000+000",  # month 13
        "2026-11-23 10:15:30",
        "00000000000000.000000:000",  # a CIM interval, not a point in time
        "yesterday",
    ],
)
def test_what_is_not_a_cim_datetime_is_none(text: str | None) -> None:
    assert cim_datetime(text) is None


# --- one class at a time ---------------------------------------------------------------------


def test_memory_and_uptime_come_from_win32_operating_system() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)  # far off: the host's LocalDateTime is used
    metrics, errors = operating_system_metrics(rows("os_enumerate.xml"), now)
    got = {m.name: m.value for m in metrics}
    assert errors == []
    assert got["memory_percent"] == pytest.approx(75.0)  # (16776756 - 4194189) / 16776756
    assert got["uptime_seconds"] == 2 * 86400 + 2.5 * 3600  # LocalDateTime - LastBootUpTime


def test_uptime_falls_back_to_our_clock_without_local_date_time() -> None:
    [row] = rows("os_enumerate.xml")
    row["LocalDateTime"] = None
    now = datetime(2026, 11, 23, 10, 15, 30, 500000, UTC)  # one hour after the boot
    metrics, _ = operating_system_metrics([row], now)
    assert {m.name: m.value for m in metrics}["uptime_seconds"] == 3600.0


def test_a_null_memory_size_is_an_error_not_a_zero() -> None:
    [row] = rows("os_enumerate.xml")
    row["TotalVisibleMemorySize"] = None
    row["LastBootUpTime"] = None
    metrics, errors = operating_system_metrics([row], datetime.now(UTC))
    assert metrics == []
    assert errors == [
        "memory_percent: no TotalVisibleMemorySize/FreePhysicalMemory",
        "uptime_seconds: no LastBootUpTime",
    ]


def test_cpu_is_percent_processor_time_of_total() -> None:
    metrics, errors = processor_metrics(rows("processor_enumerate.xml"))
    assert [(m.name, m.value) for m in metrics] == [("cpu_percent", 17.0)]
    assert errors == []
    # a host that ignored the WHERE clause: every core and _Total; _Total is taken
    cores: list[Row] = [
        {"Name": "0", "PercentProcessorTime": "90"},
        {"Name": "1", "PercentProcessorTime": "10"},
    ]
    total: Row = {"Name": "_Total", "PercentProcessorTime": "50"}
    assert [m.value for m in processor_metrics([*cores, total])[0]] == [50.0]
    assert processor_metrics(cores) == (
        [],
        [
            "cpu_percent: no PercentProcessorTime of _Total in "
            "Win32_PerfFormattedData_PerfOS_Processor"
        ],
    )


def test_disks_are_the_local_fixed_ones_that_have_a_size() -> None:
    metrics, errors = disk_metrics(rows("disks_enumerate.xml"))
    assert errors == []
    assert {m.series(): m.value for m in metrics} == {
        'disk_percent{mount="C:"}': pytest.approx(75.0),
        'disk_percent{mount="D:"}': pytest.approx(25.0),
        # E: is BitLocker-locked: Size and FreeSpace NULL, so no share to tell
    }
    network_drive: Row = {"DeviceID": "Z:", "DriveType": "4", "Size": "100", "FreeSpace": "50"}
    assert disk_metrics([network_drive]) == (
        [],
        ["disk_percent: no local fixed disk with a size in Win32_LogicalDisk"],
    )


def test_interface_rates_are_read_as_they_are_per_interface_name() -> None:
    metrics, errors = interface_metrics(rows("netif_enumerate.xml") + rows("netif_pull.xml"))
    assert errors == []
    got = {m.series(): m.value for m in metrics}
    assert got == {
        'net_in_bytes_per_sec{interface="Intel[R] Ethernet Connection [7] I219-LM"}': 1758674.0,
        'net_out_bytes_per_sec{interface="Intel[R] Ethernet Connection [7] I219-LM"}': 6770641.0,
        'net_in_bytes_per_sec{interface="vmxnet3 Ethernet Adapter _2"}': 20480.0,
        'net_out_bytes_per_sec{interface="vmxnet3 Ethernet Adapter _2"}': 4096.0,
        'net_in_bytes_per_sec{interface="Microsoft Hyper-V Network Adapter"}': 0.0,
        'net_out_bytes_per_sec{interface="Microsoft Hyper-V Network Adapter"}': 0.0,
    }


def test_temperatures_are_tenths_of_a_kelvin() -> None:
    metrics, errors = temperature_metrics(rows("thermal_enumerate.xml"))
    assert errors == []
    assert {m.labels["sensor"]: m.value for m in metrics} == {
        r"ACPI\ThermalZone\TZ00_0": 40.05,  # 3132 / 10 - 273.15
        r"ACPI\ThermalZone\TZ01_0": 28.05,
    }
    assert temperature_metrics([]) == (
        [],
        ["temperature_celsius: not available on this host (no thermal zone)"],
    )


# --- the poller ----------------------------------------------------------------------------


async def test_a_windows_host_gives_every_metric() -> None:
    host = FakeHost()
    reading = await poll(host)
    assert reading.state is DeviceState.ONLINE
    assert reading.errors == ()
    assert (reading.device, reading.kind, reading.ts_ns) == ("win1", "winrm", NOW_NS)
    got = values(reading)
    assert got["cpu_percent"] == 17.0
    assert got["memory_percent"] == pytest.approx(75.0)
    assert got["uptime_seconds"] == 181800.0
    assert got['disk_percent{mount="C:"}'] == pytest.approx(75.0)
    assert got['net_in_bytes_per_sec{interface="Microsoft Hyper-V Network Adapter"}'] == 0.0
    assert got[r'temperature_celsius{sensor="ACPI\\ThermalZone\\TZ00_0"}'] == 40.05
    assert len(got) == 1 + 1 + 1 + 2 + 6 + 2
    # five enumerations and one Pull of the interfaces' second page, to the right resources
    assert host.actions() == [
        (ACTION_ENUMERATE, CIMV2, OPERATING_SYSTEM.wql),
        (ACTION_ENUMERATE, CIMV2, PROCESSOR.wql),
        (ACTION_ENUMERATE, CIMV2, LOGICAL_DISKS.wql),
        (ACTION_ENUMERATE, CIMV2, NETWORK_INTERFACES.wql),
        (ACTION_PULL, CIMV2, NETIF_CONTEXT),
        (ACTION_ENUMERATE, ROOT_WMI, THERMAL_ZONES.wql),
    ]
    assert PROCESSOR.wql == (
        "SELECT * FROM Win32_PerfFormattedData_PerfOS_Processor WHERE Name='_Total'"
    )
    assert LOGICAL_DISKS.wql == "SELECT * FROM Win32_LogicalDisk WHERE DriveType=3"
    ids = [e.findtext(f".//{q(NS_ADDRESSING, 'MessageID')}") for e in host.requests]
    assert len(set(ids)) == len(ids)  # a fresh MessageID per request
    assert {e.findtext(f".//{q(NS_ADDRESSING, 'To')}") for e in host.requests} == {URL}


async def test_root_wmi_access_denied_leaves_temperature_absent_with_a_line() -> None:
    reading = await poll(FakeHost(MSAcpi_ThermalZoneTemperature=doc("thermal_access_denied.xml")))
    assert reading.state is DeviceState.ONLINE  # the rest was read
    assert not any(m.name == "temperature_celsius" for m in reading.metrics)
    assert reading.errors == (
        "temperature_celsius: access denied (MSAcpi_ThermalZoneTemperature in root/wmi: "
        "w:AccessDenied 0x80338104: The WMI service returned an 'access denied' error.)",
    )
    assert reading.errors[0].startswith("temperature_celsius: access denied")


async def test_a_host_without_thermal_zones_has_no_temperature() -> None:
    for answer in (doc("thermal_not_supported.xml"), doc("thermal_empty.xml")):
        reading = await poll(FakeHost(MSAcpi_ThermalZoneTemperature=answer))
        assert reading.state is DeviceState.ONLINE
        assert not any(m.name == "temperature_celsius" for m in reading.metrics)
        [error] = reading.errors
        assert error.startswith("temperature_celsius: not available on this host"), error


async def test_a_host_that_does_not_answer_is_offline() -> None:
    host = FakeHost(
        Win32_OperatingSystem=WinrmUnreachableError("cannot reach ...: Connection refused")
    )
    reading = await poll(host)
    assert reading.state is DeviceState.OFFLINE
    assert (reading.metrics, reading.errors) == ((), ("cannot reach ...: Connection refused",))
    assert len(host.requests) == 1  # nothing more is tried


async def test_a_host_that_refuses_the_credentials_is_degraded() -> None:
    refused = WinrmTransportError("credentials refused by ... (HTTP 401, ntlm authentication)")
    reading = await poll(FakeHost(Win32_OperatingSystem=refused))
    assert reading.state is DeviceState.DEGRADED
    assert reading.metrics == ()
    assert reading.errors == (str(refused),)


async def test_a_host_that_stops_answering_mid_poll_is_degraded_with_what_was_read() -> None:
    silent = WinrmUnreachableError("no answer from ... within 10 s")
    reading = await poll(FakeHost(Win32_LogicalDisk=silent))
    assert reading.state is DeviceState.DEGRADED
    assert "cpu_percent" in values(reading)
    assert "temperature_celsius" in {m.name for m in reading.metrics}
    assert reading.errors == ("disk_percent: no answer from ... within 10 s",)


async def test_a_class_that_faults_or_answers_garbage_costs_only_its_metrics() -> None:
    reading = await poll(
        FakeHost(
            Win32_OperatingSystem=doc("thermal_access_denied.xml"),
            Win32_PerfFormattedData_PerfOS_Processor="<html>500</html>",
        )
    )
    assert reading.state is DeviceState.ONLINE
    names = {m.name for m in reading.metrics}
    assert {"disk_percent", "net_in_bytes_per_sec", "temperature_celsius"} <= names
    assert not names & {"cpu_percent", "memory_percent", "uptime_seconds"}
    assert reading.errors[0].startswith(
        "memory_percent, uptime_seconds: access denied (Win32_OperatingSystem in root/cimv2"
    )
    assert reading.errors[1].startswith(
        "cpu_percent: Win32_PerfFormattedData_PerfOS_Processor: the answer is not a SOAP"
    )


async def test_an_implausible_sample_is_refused_and_counted() -> None:
    unplugged = doc("thermal_enumerate.xml").replace(
        "<p:CurrentTemperature>3012</p:CurrentTemperature>",
        "<p:CurrentTemperature>0</p:CurrentTemperature>",  # -273.15 °C: a sentinel
    )
    rejections = Rejections()
    reading = await poll(FakeHost(MSAcpi_ThermalZoneTemperature=unplugged), rejections)
    temperatures = [m for m in reading.metrics if m.name == "temperature_celsius"]
    assert [m.labels["sensor"] for m in temperatures] == [r"ACPI\ThermalZone\TZ00_0"]
    [refused] = reading.errors
    assert refused.startswith(r'refused temperature_celsius{sensor="ACPI\\ThermalZone\\TZ01_0"}')
    assert rejections.total == 1


async def test_an_enumeration_that_never_ends_is_cut_off() -> None:
    endless = (
        doc("netif_pull.xml")
        .replace("<n:EndOfSequence/>", "")
        .replace(
            "<n:PullResponse>",
            f"<n:PullResponse><n:EnumerationContext>{NETIF_CONTEXT}</n:EnumerationContext>",
        )
    )
    host = FakeHost(**{NETIF_CONTEXT: endless})
    poller = WinrmPoller(clock_ns=lambda: NOW_NS, max_pages=5)
    reading = await poller.poll("win1", host)
    assert not any(m.name.startswith("net_") for m in reading.metrics)
    assert (
        "net_in_bytes_per_sec, net_out_bytes_per_sec: "
        "Win32_PerfFormattedData_Tcpip_NetworkInterface: "
        "the enumeration did not end after 5 pages"
    ) in reading.errors
    pulls = [a for a in host.actions() if a[0] == ACTION_PULL]
    assert len(pulls) == 4  # the Enumerate and four Pulls: five pages


def test_every_document_is_one_line_as_windows_sends_it() -> None:
    for path in sorted(DOCS.glob("*.xml")):
        text = path.read_text(encoding="utf-8")
        assert "\n" not in text.rstrip("\n"), path.name
        assert text.startswith('<s:Envelope xml:lang="en-US" '), path.name


async def test_a_host_that_refuses_every_class_is_degraded() -> None:
    denied = doc("thermal_access_denied.xml")
    every_class = {name: denied for name in WINDOWS if not name.startswith("uuid:")}
    reading = await poll(FakeHost(**every_class))
    assert reading.state is DeviceState.DEGRADED
    assert reading.metrics == ()
    assert len(reading.errors) == 5
    assert all(": access denied (" in error for error in reading.errors)
