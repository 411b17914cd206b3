"""The InfluxDB 2 store's Flux side without a server: literals, the exact query texts, and the
annotated CSV reader on answers in the shape Flux's CSV encoder writes (CRLF line ends,
``#datatype``/``#group``/``#default`` blocks, the result name in ``#default`` and not in the
rows, a blank line between results and wherever the schema changes, an ``error`` table).

No InfluxDB 2 runs here, so nothing in this module shows what a real server answers. One test
does check every query against Flux's own parser (libflux, the ``@influxdata/flux`` npm
package's WebAssembly build, run by node) when it is installed::

    mkdir -p ~/.cache/netgauge/influxdata-flux && cd ~/.cache/netgauge/influxdata-flux
    npm pack @influxdata/flux@0.5.1 && tar xzf influxdata-flux-0.5.1.tgz --strip-components=1

(or point ``NETGAUGE_FLUX_PARSER_DIR`` at the unpacked package); it is skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from netgauge.errors import PermanentStorageError, RetryableStorageError
from netgauge.storage.influxdb2 import (
    MAX_TIME_NS,
    MIN_TIME_NS,
    flux_regex_prefix,
    flux_string,
    flux_time,
    latest_query,
    parse_annotated_csv,
    parse_time_ns,
    raw_query,
    rounds_query,
    series_query,
    stepped_query,
)

T0 = 1_700_000_000_123_456_789  # 2023-11-14T22:13:20.123456789Z
S = 1_000_000_000
ODD = 'a"b\\c${x} é,= {y}'  # every character a Flux string must escape, and more


def crlf(text: str) -> str:
    """Flux's CSV encoder ends lines with CRLF."""
    return text.replace("\n", "\r\n")


# -- literals ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (1, "1970-01-01T00:00:00.000000001Z"),
        (-1, "1969-12-31T23:59:59.999999999Z"),
        (1_500_000_000, "1970-01-01T00:00:01.500000000Z"),
        (T0, "2023-11-14T22:13:20.123456789Z"),
        (MIN_TIME_NS, "1677-09-21T00:12:43.145224194Z"),
        (MAX_TIME_NS, "2262-04-11T23:47:16.854775806Z"),
    ],
)
def test_flux_time_round_trips(ns: int, text: str) -> None:
    assert flux_time(ns) == text
    assert parse_time_ns(text) == ns


def test_times_beyond_influxdbs_range_are_clamped() -> None:
    assert flux_time(2**63 + 5) == flux_time(MAX_TIME_NS)
    assert flux_time(-(2**64)) == flux_time(MIN_TIME_NS)


def test_parse_time_takes_what_go_writes() -> None:
    # RFC3339Nano drops trailing zeros (and the dot when nothing is left)
    assert parse_time_ns("2023-11-14T22:13:20Z") == T0 - 123_456_789
    assert parse_time_ns("2023-11-14T22:13:20.1Z") == T0 - 23_456_789
    assert parse_time_ns("2023-11-14T23:13:20.123456789+01:00") == T0
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_time_ns("2023-11-14 22:13:20Z")


def test_flux_string_escapes() -> None:
    assert flux_string(ODD) == '"a\\"b\\\\c\\${x} é,= {y}"'
    assert flux_string("two\nlines\ttab\r") == '"two\\nlines\\ttab\\r"'
    assert flux_string("$ {not interpolation}") == '"$ {not interpolation}"'


def test_regex_prefix_escapes_what_flux_regexes_need() -> None:
    assert flux_regex_prefix("icmp.") == "/^icmp\\./"
    assert flux_regex_prefix('if{name="eth0, x=1"}.') == '/^if\\{name="eth0, x=1"\\}\\./'
    assert flux_regex_prefix("a/b c") == "/^a\\/b c/"  # a space must not be escaped in Flux


# -- the queries -------------------------------------------------------------------------------
RANGE = "  |> range(start: 2023-11-14T22:13:20.123456789Z, stop: 2023-11-14T22:13:30.123456789Z)\n"
ALL_TIME = (
    "  |> range(start: 1677-09-21T00:12:43.145224194Z, stop: 2262-04-11T23:47:16.854775806Z)\n"
)
CPU = (
    '  |> filter(fn: (r) => r._measurement == "device_metrics" and r._field == "value" '
    'and r.device_id == "r1" and r.metric_name == "cpu")\n'
)


def test_raw_query_text() -> None:
    assert raw_query("netgauge", "r1", "cpu", T0, T0 + 10 * S) == (
        'from(bucket: "netgauge")\n' + RANGE + CPU + '  |> keep(columns: ["_time", "_value"])\n'
    )


def test_status_is_the_device_status_series() -> None:
    assert raw_query("netgauge", "r1", "status", T0, T0 + 10 * S) == (
        'from(bucket: "netgauge")\n'
        + RANGE
        + '  |> filter(fn: (r) => r._measurement == "device_status" and r._field == "status" '
        'and r.device_id == "r1")\n'
        '  |> keep(columns: ["_time", "_value"])\n'
    )


def test_stepped_query_text_windows_start_at_start() -> None:
    query = stepped_query("netgauge", "r1", "cpu", T0, T0 + 10 * S, 2_500_000_000, ["count", "sum"])
    assert (
        query
        == (
            'data = () => from(bucket: "netgauge")\n'
            + RANGE
            + CPU
            + "  |> window(every: 2500000000ns, offset: 123456789ns)\n"  # T0 mod 2.5 s
            "\n"
            'data() |> count() |> yield(name: "count")\n'
            'data() |> sum() |> yield(name: "sum")\n'
        )
    )


def test_latest_series_and_rounds_query_texts() -> None:
    assert latest_query("b", "device_status", "r1") == (
        'from(bucket: "b")\n'
        + ALL_TIME
        + '  |> filter(fn: (r) => r._measurement == "device_status" and r._field == "status" '
        'and r.device_id == "r1")\n'
        "  |> last()\n"
        '  |> keep(columns: ["_time", "_value", "device_id"])\n'
    )
    assert latest_query("b", "device_metrics", None) == (
        'from(bucket: "b")\n'
        + ALL_TIME
        + '  |> filter(fn: (r) => r._measurement == "device_metrics" and r._field == "value")\n'
        "  |> last()\n"
        '  |> keep(columns: ["_time", "_value", "device_id", "metric_name"])\n'
    )
    assert series_query("b", None) == (
        'from(bucket: "b")\n'
        + ALL_TIME
        + '  |> filter(fn: (r) => ((r._measurement == "device_metrics" and r._field == "value") '
        'or (r._measurement == "device_status" and r._field == "status")))\n'
        "  |> last()\n"
        '  |> keep(columns: ["_measurement", "device_id", "metric_name"])\n'
    )
    assert rounds_query("b", "r1", "icmp", T0, T0 + 10 * S) == (
        'from(bucket: "b")\n'
        + RANGE
        + '  |> filter(fn: (r) => r._measurement == "device_metrics" and r._field == "value" '
        'and r.device_id == "r1" and r.metric_name =~ /^icmp\\./)\n'
        '  |> keep(columns: ["_time", "_value", "metric_name"])\n'
    )


def _every_query() -> list[str]:
    kind = 'a.b+c*(d)|[e]{f}^$#&-~/ g\\h"i'
    return [
        raw_query('net"gauge', ODD, 'if{name="eth0, x=1"}.in', T0, T0 + 10 * S),
        stepped_query("b", ODD, "status", T0, T0 + 10 * S, 2_500_000_000, ["count", "min", "sum"]),
        latest_query("b", "device_metrics", None),
        latest_query("b", "device_status", ODD),
        series_query("b", ODD),
        series_query("b", None),
        rounds_query("b", ODD, kind, MIN_TIME_NS, MAX_TIME_NS),
    ]


_PARSE_WITH_LIBFLUX = r"""
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
const dir = process.argv[1];
const src = readFileSync(join(dir, 'flux.js'), 'utf8')
  .replace(/^import \* as wasm from .*$/m, 'let wasm; export function setWasm(w) { wasm = w; }');
const glue = await import('data:text/javascript;base64,' + Buffer.from(src).toString('base64'));
const wasm = readFileSync(join(dir, 'flux_bg.wasm'));
const { instance } = await WebAssembly.instantiate(wasm, { './flux.js': glue });
glue.setWasm(instance.exports);
const found = JSON.parse(readFileSync(0, 'utf8')).map((query) => {
  const errors = [];
  const walk = (node) => {
    if (node && typeof node === 'object') {
      if (Array.isArray(node.errors)) errors.push(...node.errors.map((e) => e.msg));
      for (const key in node) walk(node[key]);
    }
  };
  walk(glue.parse(query));
  return errors;
});
console.log(JSON.stringify(found));
"""


def _libflux() -> tuple[str, Path]:
    node = shutil.which("node")
    default = Path.home() / ".cache" / "netgauge" / "influxdata-flux"
    package = Path(os.environ.get("NETGAUGE_FLUX_PARSER_DIR") or default)
    if node is None or not (package / "flux_bg.wasm").is_file():
        pytest.skip(f"needs node and the @influxdata/flux package in {package} (see docstring)")
    return node, package


def _parse_errors(queries: list[str]) -> list[list[str]]:
    node, package = _libflux()
    done = subprocess.run(
        [node, "--no-warnings", "--input-type=module", "-e", _PARSE_WITH_LIBFLUX, str(package)],
        input=json.dumps(queries),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found: list[list[str]] = json.loads(done.stdout)
    return found


def test_every_query_parses_with_fluxs_own_parser() -> None:
    assert _parse_errors(_every_query()) == [[] for _ in _every_query()]
    # and the check has teeth: an escaped space in a regex, an unescaped ${
    assert all(_parse_errors(["x = /a\\ b/", 'x = "a${b"']))


# -- annotated CSV -----------------------------------------------------------------------------
LATEST = crlf(
    "#datatype,string,long,dateTime:RFC3339,double,string,string\n"
    "#group,false,false,false,false,true,true\n"
    "#default,_result,,,,,\n"
    ",result,table,_time,_value,device_id,metric_name\n"
    ",,0,2023-11-14T22:13:20.123456789Z,12.5,r1,cpu\n"
    ",,1,2023-11-14T22:13:21Z,100000000000000000000,r1,mem\n"
    ',,2,2023-11-14T22:13:22.5Z,+Inf,"sw 1,a=b","if{name=""eth0""}.in"\n'
    ",,3,2023-11-14T22:13:23Z,-0.000001,r2,\n"
    "\n"
)


def test_tables_of_one_schema_typed_by_datatype() -> None:
    rows = parse_annotated_csv(LATEST)
    assert [r["table"] for r in rows] == [0, 1, 2, 3]
    assert {r["result"] for r in rows} == {"_result"}  # from #default: the cells are empty
    whole = T0 - 123_456_789  # 2023-11-14T22:13:20Z
    assert [r["_time"] for r in rows] == [T0, whole + S, whole + 2 * S + S // 2, whole + 3 * S]
    assert [r["_value"] for r in rows] == [12.5, 1e20, float("inf"), -1e-06]
    assert rows[2]["device_id"] == "sw 1,a=b" and rows[2]["metric_name"] == 'if{name="eth0"}.in'
    assert rows[3]["metric_name"] is None  # an empty cell without a default is null


STEPPED = crlf(
    "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,long,string,string,string,string\n"
    "#group,false,false,true,true,false,true,true,true,true\n"
    "#default,count,,,,,,,,\n"
    ",result,table,_start,_stop,_value,_field,_measurement,device_id,metric_name\n"
    ",,0,2023-11-14T22:13:20.123456789Z,2023-11-14T22:13:22.623456789Z,3,value,device_metrics,r1,cpu\n"
    ",,1,2023-11-14T22:13:25.123456789Z,2023-11-14T22:13:27.623456789Z,1,value,device_metrics,r1,cpu\n"
    "\n"
    "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string,string\n"
    "#group,false,false,true,true,false,false,true,true,true,true\n"
    "#default,min,,,,,,,,,\n"
    ",result,table,_start,_stop,_time,_value,_field,_measurement,device_id,metric_name\n"
    ",,0,2023-11-14T22:13:20.123456789Z,2023-11-14T22:13:22.623456789Z,2023-11-14T22:13:21.123456789Z,0.5,value,device_metrics,r1,cpu\n"
    ",,1,2023-11-14T22:13:25.123456789Z,2023-11-14T22:13:27.623456789Z,2023-11-14T22:13:25.123456789Z,7,value,device_metrics,r1,cpu\n"
    "\n"
)


def test_several_results_each_with_its_annotations() -> None:
    rows = parse_annotated_csv(STEPPED)
    assert [(r["result"], r["table"], r["_start"], r["_value"]) for r in rows] == [
        ("count", 0, T0, 3),
        ("count", 1, T0 + 5 * S, 1),
        ("min", 0, T0, 0.5),
        ("min", 1, T0 + 5 * S, 7.0),
    ]
    assert isinstance(rows[0]["_value"], int) and isinstance(rows[3]["_value"], float)


def test_a_schema_change_without_a_blank_line_and_an_empty_table() -> None:
    # an empty table is written as its annotations (group key values as defaults), no rows
    text = crlf(
        "#datatype,string,long,string,double\n"
        "#group,false,false,true,false\n"
        "#default,_result,0,r9,\n"
        ",result,table,device_id,_value\n"
        "#datatype,string,long,string,long\n"
        "#group,false,false,true,false\n"
        "#default,_result,,,\n"
        ",result,table,device_id,_value\n"
        ",,1,r1,4\n"
    )
    assert parse_annotated_csv(text) == [
        {"result": "_result", "table": 1, "device_id": "r1", "_value": 4}
    ]


@pytest.mark.parametrize("text", ["", "\r\n", "\r\n\r\n"])
def test_an_empty_answer_has_no_rows(text: str) -> None:
    assert parse_annotated_csv(text) == []


def test_an_error_table_after_data_raises_its_message() -> None:
    text = LATEST + crlf(
        "#datatype,string,string\n"
        "#group,true,true\n"
        "#default,,\n"
        ",error,reference\n"
        ',"runtime error @3:6-3:52: filter: type conflict: string != float",\n'
    )
    with pytest.raises(PermanentStorageError, match="type conflict: string != float"):
        parse_annotated_csv(text)


def test_an_answer_without_annotations_is_read_as_text() -> None:
    # what a bare application/vnd.flux body gets: result names in the rows, no types
    text = crlf(",result,table,_time,_value\n,_result,0,2023-11-14T22:13:20.123456789Z,1.5\n\n")
    assert parse_annotated_csv(text) == [
        {
            "result": "_result",
            "table": "0",
            "_time": "2023-11-14T22:13:20.123456789Z",
            "_value": "1.5",
        }
    ]


def test_a_row_that_does_not_fit_its_header_is_retryable() -> None:
    with pytest.raises(RetryableStorageError, match="unreadable CSV row"):
        parse_annotated_csv(crlf(",result,table,_value\n,,0\n"))
