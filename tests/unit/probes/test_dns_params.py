"""DNS probe without a network: parameter rules, answer text, expectations, rcodes."""

from __future__ import annotations

from pathlib import Path

import dns.message
import dns.rcode
import dns.rrset
import pytest
from pydantic import ValidationError

from netgauge.models import ProbeStatus, Target
from netgauge.probes.base import PROBES
from netgauge.probes.builtin import load_builtin_probes
from netgauge.probes.dns import DnsParams, DnsProbe, _Exchange, _make_query, answer_text

TARGET = Target("resolver", "127.0.0.1")


def test_registered_under_dns() -> None:
    load_builtin_probes()
    assert PROBES.get("dns") is DnsProbe


def test_defaults() -> None:
    params = DnsParams(name="example.org")
    assert (params.type, params.server, params.expect_rcode) == ("A", "target", "NOERROR")
    assert (params.tcp, params.tls, params.effective_port) == (False, False, 53)
    assert DnsParams(name="x", tls=True).effective_port == 853
    assert DnsParams(name="x", tls=True, port=8853).effective_port == 8853


def test_type_and_rcode_are_case_insensitive() -> None:
    params = DnsParams.model_validate({"name": "x", "type": "mx", "expect_rcode": "nxdomain"})
    assert (params.type, params.expect_rcode) == ("MX", "NXDOMAIN")


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"name": ""}, "at least 1"),
        ({"name": "a..b"}, "not a valid DNS name"),
        ({"name": "x" * 64 + ".org"}, "not a valid DNS name"),
        ({"name": "x", "type": "ANY"}, "'TXT'"),
        ({"name": "x", "expect_rcode": "OK"}, "'NXDOMAIN'"),
        ({"name": "x", "expect_regex": "("}, "invalid regex"),
        ({"name": "x", "tcp": True, "tls": True}, "exclusive"),
        ({"name": "x", "port": 0}, "greater than or equal to 1"),
        ({"name": "x", "timeout": 0}, "greater than 0"),
        ({"name": "x", "server": "8.8.8.8"}, "'system'"),
        ({"name": "x", "retries": 3}, "Extra inputs are not permitted"),
    ],
)
def test_bad_params_are_refused(raw: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        DnsParams.model_validate(raw)
    assert needle in str(info.value)


def test_ptr_of_an_ip_asks_for_the_reverse_name() -> None:
    query = _make_query(DnsParams(name="192.0.2.10", type="PTR"))
    assert query.question[0].name.to_text() == "10.2.0.192.in-addr.arpa."
    query6 = _make_query(DnsParams(name="2001:db8::1", type="PTR"))
    assert query6.question[0].name.to_text().endswith(".8.b.d.0.1.0.0.2.ip6.arpa.")


def test_recurse_false_clears_rd() -> None:
    assert _make_query(DnsParams(name="x")).flags & dns.flags.RD
    assert not _make_query(DnsParams(name="x", recurse=False)).flags & dns.flags.RD


def rrset(name: str, rtype: str, *texts: str, ttl: int = 60) -> dns.rrset.RRset:
    return dns.rrset.from_text_list(name, ttl, "IN", rtype, list(texts))


@pytest.mark.parametrize(
    ("rtype", "text", "expected"),
    [
        ("A", "192.0.2.1", "192.0.2.1"),
        ("MX", "10 mail.example.org.", "10 mail.example.org"),
        ("TXT", '"v=spf1 " "-all"', '"v=spf1 " "-all"'),  # as dig shows it
        ("CNAME", "www.example.org.", "www.example.org"),
        ("SOA", "ns. host. 1 2 3 4 5", "ns host 1 2 3 4 5"),
        ("NS", ".", "."),
    ],
)
def test_answer_text(rtype: str, text: str, expected: str) -> None:
    assert answer_text(next(iter(rrset("example.org.", rtype, text)))) == expected


def evaluate(
    params: DnsParams, *rrsets: dns.rrset.RRset, rcode: int = 0, transport: str = "udp"
) -> tuple[ProbeStatus, dict[str, float | None], str | None, dict[str, object]]:
    response = dns.message.make_response(_make_query(params))
    response.set_rcode(dns.rcode.Rcode(rcode))
    response.answer.extend(rrsets)
    exchange = _Exchange(response, 12.5, transport, "127.0.0.1:53", transport == "udp+tcp")
    result = DnsProbe()._evaluate(TARGET, 1, params, exchange)
    assert result.kind == "dns" and result.target == "resolver"
    return result.status, dict(result.metrics), result.error, dict(result.details)


def test_a_good_answer() -> None:
    params = DnsParams(name="example.org")
    status, metrics, error, details = evaluate(params, rrset("example.org.", "A", "192.0.2.1"))
    assert (status, error) == (ProbeStatus.OK, None)
    assert metrics == {
        "query_ms": 12.5,
        "rcode": 0.0,
        "answers": 1.0,
        "ttl_s": 60.0,
        "truncated": 0.0,
        "tcp_fallback": 0.0,
    }  # no "match": nothing was expected
    assert details["rcode"] == "NOERROR" and details["answers"] == ["192.0.2.1"]
    assert details["transport"] == "udp" and details["qname"] == "example.org."


def test_fallback_is_reported() -> None:
    _, metrics, _, details = evaluate(DnsParams(name="x"), transport="udp+tcp")
    assert (metrics["truncated"], metrics["tcp_fallback"]) == (1.0, 1.0)
    assert details["transport"] == "udp+tcp"


def test_nxdomain_fails_unless_expected() -> None:
    status, metrics, error, details = evaluate(DnsParams(name="x"), rcode=3)
    assert status is ProbeStatus.FAILED and error == "rcode NXDOMAIN, expected NOERROR"
    assert metrics["rcode"] == 3.0 and metrics["answers"] == 0.0 and metrics["ttl_s"] is None
    assert details["rcode"] == "NXDOMAIN"
    status, _, error, _ = evaluate(DnsParams(name="x", expect_rcode="NXDOMAIN"), rcode=3)
    assert (status, error) == (ProbeStatus.OK, None)
    status, _, error, _ = evaluate(DnsParams(name="x", expect_rcode="NXDOMAIN"))
    assert status is ProbeStatus.FAILED and error == "rcode NOERROR, expected NXDOMAIN"


def test_expect_all_strings_present_case_and_dots_ignored() -> None:
    answers = rrset("example.org.", "MX", "10 mail.example.org.", "20 backup.example.org.")
    params = DnsParams(name="example.org", type="MX", expect=("10 MAIL.example.org.",))
    status, metrics, _, _ = evaluate(params, answers)
    assert status is ProbeStatus.OK and metrics["match"] == 1.0
    params = DnsParams(name="example.org", type="MX", expect=("10 mail.example.org", "30 x"))
    status, metrics, error, _ = evaluate(params, answers)
    assert status is ProbeStatus.FAILED and metrics["match"] == 0.0
    assert error == "expected answers missing: 30 x"


def test_expect_regex_needs_one_matching_answer() -> None:
    answers = rrset("example.org.", "TXT", '"v=spf1 -all"', '"google-site=abc"')
    ok = DnsParams(name="example.org", type="TXT", expect_regex=r"^v=spf1 ")
    assert evaluate(ok, answers)[1]["match"] == 1.0
    bad = DnsParams(name="example.org", type="TXT", expect_regex=r"^v=DMARC1")
    status, metrics, error, _ = evaluate(bad, answers)
    assert status is ProbeStatus.FAILED and metrics["match"] == 0.0
    assert error == "no answer matches /^v=DMARC1/"


def test_rcode_and_expectation_errors_are_both_told() -> None:
    params = DnsParams(name="x", expect=("192.0.2.1",))
    status, metrics, error, _ = evaluate(params, rcode=2)
    assert status is ProbeStatus.FAILED and metrics["match"] == 0.0
    assert error == "rcode SERVFAIL, expected NOERROR; expected answers missing: 192.0.2.1"


async def test_system_mode_without_a_usable_file_is_a_failed_result(tmp_path: Path) -> None:
    empty = tmp_path / "resolv.conf"
    empty.write_text("# no nameserver here\n")
    for path in (empty, tmp_path / "missing.conf"):
        params = DnsParams(name="x", server="system", resolv_conf=str(path), timeout=0.5)
        result = await DnsProbe().run(TARGET, params)
        assert result.status is ProbeStatus.FAILED
        assert result.error is not None and str(path) in result.error
        assert result.metrics["query_ms"] is None
