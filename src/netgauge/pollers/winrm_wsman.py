"""WS-Management (MS-WSMV) envelopes for WQL enumerations of WMI classes, and their answers.

Windows exposes every WMI class over WinRM as a WS-Management resource: an ``Enumerate``
whose ``w:Filter`` holds a WQL query in the dialect ``.../wsman/1/WQL``, sent to the
resource URI ``.../wsman/1/wmi/<namespace>/*``, answers the instances. Two requests and
their answers are all a poller needs, so they are built here as text rather than through
a WinRM library's object model:

* **Enumerate** with ``w:OptimizeEnumeration`` and ``w:MaxElements``: the first instances
  come back in the ``EnumerateResponse`` itself (in ``w:Items``, WS-Management's namespace),
  one round trip for the usual small class;
* **Pull** with the ``n:EnumerationContext`` of the previous answer, while the answer has
  no ``EndOfSequence``: the next instances, in ``n:Items`` (WS-Enumeration's namespace).

An instance comes back in one of two shapes, and both are read here:

* ``SELECT *`` (what netgauge sends): the class element itself, ``<p:Win32_LogicalDisk
  xmlns:p=".../wmi/root/cimv2/Win32_LogicalDisk" xsi:type="p:Win32_LogicalDisk_Type">``
  with one ``p:``-prefixed child per property;
* a projection (``SELECT Name, Size ...``): ``<w:XmlFragment>`` with unqualified children.

A property is text (numbers included: uint64 counts are decimal text), ``xsi:nil="true"``
for NULL (kept as None: absent, never 0), an empty element for an empty string, or for a
CIM datetime a child element: ``<p:LastBootUpTime><cim:Datetime>2013-04-10T16:18:55.48634Z
</cim:Datetime></p:LastBootUpTime>`` (WinRM turns WMI's DMTF text into xs:dateTime).
:func:`cim_datetime` reads both that and the DMTF form ``20261123101530.500000+060``.

A failure is a SOAP 1.2 ``s:Fault`` (HTTP 500): ``s:Subcode`` (``w:AccessDenied``...),
``s:Reason`` and a ``f:WSManFault`` whose ``Code`` is a Win32/WMI/WinRM error number; it
becomes :class:`WsmanFault`, which the poller turns into one line of a reading's errors.

Provenance: the response shapes follow answers captured from Windows Server 2008/2012 by
the txwinrm project and MS-WSMV; the fixtures in ``tests/unit/pollers/winrm_docs`` are
modeled on them for Server 2019/2022. No Windows host answered these tests: the parsing
is checked against documents of the documented shape, not against a live Windows.

A SOAP message never carries a DTD (SOAP 1.2 part 1, 5), so an answer with one is refused
before parsing: no entity expansion from a hostile or broken endpoint.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from xml.sax.saxutils import escape, quoteattr

from netgauge.errors import NetgaugeError

NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_ENUMERATION = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
NS_WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS_MS_WSMAN = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
NS_FAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"

WQL_DIALECT = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
ACTION_ENUMERATE = f"{NS_ENUMERATION}/Enumerate"
ACTION_PULL = f"{NS_ENUMERATION}/Pull"
WMI_RESOURCE_PREFIX = "http://schemas.microsoft.com/wbem/wsman/1/wmi/"

MAX_ENVELOPE_SIZE = 153600
"""Bytes of the largest answer accepted: WinRM's long-standing default (150 KiB), which every
Windows since 2008 honours; a longer enumeration is split over more Pull answers."""

Row = dict[str, str | None]
"""One WMI instance: property name -> text, None for ``xsi:nil`` (NULL)."""


class WsmanError(NetgaugeError):
    """A WS-Management answer that cannot be used (not SOAP, not the expected answer)."""


@dataclass(frozen=True)
class FaultInfo:
    """What a SOAP fault says: codes, the reason, and the WinRM/WMI error numbers."""

    code: str  # s:Code/s:Value, "s:Sender" / "s:Receiver"
    subcode: str  # s:Subcode/s:Value, "w:AccessDenied"; "" when absent
    reason: str  # s:Reason/s:Text
    wsman_codes: tuple[int, ...]  # every f:WSManFault/@Code, outermost first
    message: str  # the innermost non-empty f:Message text, else the reason


class WsmanFault(WsmanError):
    """The endpoint answered with a SOAP fault (access denied, class not supported...)."""

    def __init__(self, info: FaultInfo) -> None:
        self.info = info
        super().__init__(_describe(info))

    @property
    def access_denied(self) -> bool:
        return _local(self.info.subcode) == "AccessDenied" or any(
            code in ACCESS_DENIED_CODES for code in self.info.wsman_codes
        )

    @property
    def not_supported(self) -> bool:
        return any(code in NOT_SUPPORTED_CODES for code in self.info.wsman_codes)


ACCESS_DENIED_CODES = frozenset(
    {
        5,  # ERROR_ACCESS_DENIED
        0x80070005,  # E_ACCESSDENIED
        0x80041003,  # WBEM_E_ACCESS_DENIED
        0x80338104,  # ERROR_WSMAN_WMI_SVC_ACCESS_DENIED
        0x80338105,  # ERROR_WSMAN_WMI_PROVIDER_ACCESS_DENIED
        0x80338106,  # ERROR_WSMAN_WMI_CANNOT_CONNECT_ACCESS_DENIED
    }
)
NOT_SUPPORTED_CODES = frozenset(
    {
        0x8004100C,  # WBEM_E_NOT_SUPPORTED
        0x80041010,  # WBEM_E_INVALID_CLASS
        0x80338102,  # ERROR_WSMAN_WMI_PROVIDER_NOT_CAPABLE (a WDM class with no driver)
    }
)


@dataclass(frozen=True, slots=True)
class Page:
    """One answer of an enumeration: its instances, and the context to Pull the next page
    with (None at the end of the sequence)."""

    rows: list[Row]
    context: str | None


def resource_uri(namespace: str) -> str:
    """``root/cimv2`` -> the WS-Management resource URI that takes WQL over that namespace."""
    return f"{WMI_RESOURCE_PREFIX}{namespace.strip('/').lower()}/*"


def new_message_id() -> str:
    """A fresh ``a:MessageID``: ``uuid:`` and an upper-case UUID, as Windows writes them."""
    return f"uuid:{str(uuid.uuid4()).upper()}"


def _header(
    to: str, resource: str, action: str, operation_timeout_s: float, message_id: str
) -> str:
    return (
        "<s:Header>"
        f"<a:To>{escape(to)}</a:To>"
        f'<w:ResourceURI s:mustUnderstand="true">{escape(resource)}</w:ResourceURI>'
        f'<a:ReplyTo><a:Address s:mustUnderstand="true">{ANONYMOUS}</a:Address></a:ReplyTo>'
        f'<a:Action s:mustUnderstand="true">{action}</a:Action>'
        f'<w:MaxEnvelopeSize s:mustUnderstand="true">{MAX_ENVELOPE_SIZE}</w:MaxEnvelopeSize>'
        f"<a:MessageID>{escape(message_id)}</a:MessageID>"
        # English fault reasons whatever the host's language (the poller reads them)
        '<w:Locale xml:lang="en-US" s:mustUnderstand="false"/>'
        '<p:DataLocale xml:lang="en-US" s:mustUnderstand="false"/>'
        f"<w:OperationTimeout>PT{operation_timeout_s:.3f}S</w:OperationTimeout>"
        "</s:Header>"
    )


def _envelope(header: str, body: str) -> str:
    return (
        f'<s:Envelope xmlns:s="{NS_SOAP}" xmlns:a="{NS_ADDRESSING}" xmlns:n="{NS_ENUMERATION}"'
        f' xmlns:w="{NS_WSMAN}" xmlns:p="{NS_MS_WSMAN}">'
        f"{header}<s:Body>{body}</s:Body></s:Envelope>"
    )


def enumerate_envelope(
    to: str,
    resource: str,
    wql: str,
    *,
    max_elements: int,
    operation_timeout_s: float,
    message_id: str | None = None,
) -> str:
    """An optimized Enumerate of ``wql`` over ``resource`` (see :func:`resource_uri`)."""
    body = (
        "<n:Enumerate>"
        "<w:OptimizeEnumeration/>"
        f"<w:MaxElements>{max_elements}</w:MaxElements>"
        f"<w:Filter Dialect={quoteattr(WQL_DIALECT)}>{escape(wql)}</w:Filter>"
        "</n:Enumerate>"
    )
    header = _header(
        to, resource, ACTION_ENUMERATE, operation_timeout_s, message_id or new_message_id()
    )
    return _envelope(header, body)


def pull_envelope(
    to: str,
    resource: str,
    context: str,
    *,
    max_elements: int,
    operation_timeout_s: float,
    message_id: str | None = None,
) -> str:
    """A Pull of the next instances of the enumeration ``context``."""
    body = (
        "<n:Pull>"
        f"<n:EnumerationContext>{escape(context)}</n:EnumerationContext>"
        f"<n:MaxElements>{max_elements}</n:MaxElements>"
        "</n:Pull>"
    )
    header = _header(to, resource, ACTION_PULL, operation_timeout_s, message_id or new_message_id())
    return _envelope(header, body)


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _local(name: str) -> str:
    """The local part of ``{ns}name`` or ``prefix:name``."""
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def parse_document(text: str) -> ET.Element:
    """The root element of a SOAP answer; WsmanError when it is not a SOAP envelope."""
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise WsmanError("refused an answer with a DTD (SOAP forbids them)")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise WsmanError(f"the answer is not XML: {exc}") from None
    if root.tag != _q(NS_SOAP, "Envelope"):
        raise WsmanError(f"the answer is not a SOAP 1.2 envelope (root {_local(root.tag)!r})")
    return root


def fault_of(root: ET.Element) -> FaultInfo | None:
    """What the envelope's ``s:Fault`` says, or None when it carries none."""
    fault = root.find(f"{_q(NS_SOAP, 'Body')}/{_q(NS_SOAP, 'Fault')}")
    if fault is None:
        return None
    code = fault.findtext(f"{_q(NS_SOAP, 'Code')}/{_q(NS_SOAP, 'Value')}", "").strip()
    subcode = fault.findtext(
        f"{_q(NS_SOAP, 'Code')}/{_q(NS_SOAP, 'Subcode')}/{_q(NS_SOAP, 'Value')}", ""
    ).strip()
    reason = " ".join(fault.findtext(f"{_q(NS_SOAP, 'Reason')}/{_q(NS_SOAP, 'Text')}", "").split())
    codes: list[int] = []
    for wsman_fault in fault.iter(_q(NS_FAULT, "WSManFault")):
        number = _int(wsman_fault.get("Code"))
        if number is not None:
            codes.append(number)
    messages = [
        " ".join((message.text or "").split()) for message in fault.iter(_q(NS_FAULT, "Message"))
    ]
    inner = [message for message in messages if message]
    return FaultInfo(code, subcode, reason, tuple(codes), inner[-1] if inner else reason)


_BOILERPLATE = "The WS-Management service cannot process the request. "


def _describe(info: FaultInfo) -> str:
    """``w:AccessDenied 0x80338104: The WMI service returned an 'access denied' error.``

    The sentence every WinRM message starts with is left out; the number is the innermost
    WSManFault code, the one ``winrm helpmsg`` explains.
    """
    what = info.subcode or info.code or "SOAP fault"
    if info.wsman_codes:
        what += f" 0x{info.wsman_codes[-1]:08X}"
    text = (info.message or info.reason).removeprefix(_BOILERPLATE.strip()).strip()
    return f"{what}: {text}" if text else what


def parse_page(text: str) -> Page:
    """The instances of an EnumerateResponse or PullResponse and the context to go on with.

    Raises :class:`WsmanFault` for a SOAP fault, :class:`WsmanError` for anything else that
    is not one of the two answers.
    """
    root = parse_document(text)
    info = fault_of(root)
    if info is not None:
        raise WsmanFault(info)
    body = root.find(_q(NS_SOAP, "Body"))
    answer = None if body is None else next(iter(body), None)
    if answer is None or answer.tag not in (
        _q(NS_ENUMERATION, "EnumerateResponse"),
        _q(NS_ENUMERATION, "PullResponse"),
    ):
        found = "an empty body" if answer is None else repr(_local(answer.tag))
        raise WsmanError(f"expected an EnumerateResponse or PullResponse, got {found}")
    rows: list[Row] = []
    ended = False
    context: str | None = None
    for child in answer:
        name = child.tag
        if name in (_q(NS_WSMAN, "Items"), _q(NS_ENUMERATION, "Items")):
            rows.extend(instance_row(instance) for instance in child)
        elif name in (_q(NS_WSMAN, "EndOfSequence"), _q(NS_ENUMERATION, "EndOfSequence")):
            ended = True
        elif name == _q(NS_ENUMERATION, "EnumerationContext"):
            context = (child.text or "").strip() or None
    return Page(rows, None if ended else context)


def instance_row(instance: ET.Element) -> Row:
    """One instance element (``p:Win32_...`` or ``w:XmlFragment``) as property -> text.

    A NULL property is None; an embedded value (``cim:Datetime``, ``cim:Interval``) is the
    text of its element; an array property (repeated element) keeps its first value.
    """
    row: Row = {}
    for prop in instance:
        name = _local(prop.tag)
        if name in row:
            continue
        if prop.get(_q(NS_XSI, "nil")) in ("true", "1"):
            row[name] = None
            continue
        inner = next(iter(prop), None)
        row[name] = (inner.text if inner is not None else prop.text) or ""
    return row


def _int(text: str | None) -> int | None:
    try:
        return None if text is None else int(text.strip())
    except ValueError:
        return None


_DMTF = re.compile(
    r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\.(\d{6})([+-])(\d{3})$",
)
_XS_DATETIME = re.compile(
    r"^(-?\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$",
)


def cim_datetime(text: str | None) -> datetime | None:
    """A CIM datetime as an aware datetime, or None when absent or not a point in time.

    Two spellings reach a poller:

    * DMTF (what WMI itself stores): ``yyyymmddHHMMSS.mmmmmmsUUU``, where ``sUUU`` is the
      offset from UTC **in minutes** (``+060`` is UTC+1, ``-300`` is UTC-5). Fields WMI
      does not know are asterisks (``20261123******.******+***``): None.
    * xs:dateTime (what WinRM sends inside ``cim:Datetime``): ``2013-04-10T16:18:55.48634Z``,
      any number of fraction digits, ``Z`` or ``+hh:mm``; no zone is taken as UTC.
    """
    if not text:
        return None
    text = text.strip()
    dmtf = _DMTF.match(text)
    if dmtf:
        year, month, day, hour, minute, second, micro, sign, offset = dmtf.groups()
        minutes = int(offset) * (-1 if sign == "-" else 1)
        zone = timezone(timedelta(minutes=minutes))
        try:
            return datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second), int(micro)
            ).replace(tzinfo=zone)
        except ValueError:
            return None
    xs = _XS_DATETIME.match(text)
    if xs is None:
        return None
    year, month, day, hour, minute, second, fraction, zone_text = xs.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    if zone_text in (None, "Z"):
        zone = UTC
    else:
        hours, minutes = int(zone_text[1:3]), int(zone_text[4:6])
        delta = timedelta(hours=hours, minutes=minutes)
        zone = timezone(-delta if zone_text[0] == "-" else delta)
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, zone
        )
    except ValueError:
        return None
