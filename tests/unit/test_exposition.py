"""Series names into Prometheus families and labels (the parsing of ``Metric.series()``)."""

from __future__ import annotations

from netgauge.api.routes.exposition import family_name
from netgauge.pollers.readings import Metric
from netgauge.series import split_series


def test_names_are_prometheus_names() -> None:
    assert family_name("icmp.rtt_avg_ms") == "netgauge_icmp_rtt_avg_ms"
    assert family_name("http.tls-days") == "netgauge_http_tls_days"


def test_series_labels_round_trip_whatever_the_characters() -> None:
    for value in ("/", "C:", 'a "quoted" \\ path', "température", "x,y=z}"):
        metric = Metric("disk_percent", 1.0, {"mount": value})
        assert split_series(metric.series()) == ("disk_percent", {"mount": value})
    assert split_series("icmp.loss_pct") == ("icmp.loss_pct", {})
