"""``netgauge analytics patterns FILE [--json]`` run as users run it (a subprocess): one
object per line of the file (counted from its bytes), in order, with the line's text and
number; lines of one hand-labelled template share an id; a readable table; bad input
refused with one line (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.unit.analytics.test_patterns import labelled


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netgauge", "analytics", "patterns", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def objects(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_one_object_per_line_in_order(tmp_path: Path) -> None:
    messages, labels = labelled()
    path = tmp_path / "messages.log"
    path.write_text("\n".join(messages) + "\n")
    done = run(str(path), "--json")
    assert done.returncode == 0, done.stderr
    rows = objects(done.stdout)
    assert len(rows) == path.read_bytes().count(b"\n")
    assert [r["line"] for r in rows] == messages
    assert [r["number"] for r in rows] == list(range(1, len(messages) + 1))
    assert all(set(r) == {"line", "template_id", "template", "number"} for r in rows)
    # every template's id is the same wherever it appears, and lines of the hand label
    # 'tcp_timeout' share one template
    by_id = {r["template_id"]: r["template"] for r in rows}
    assert all(by_id[r["template_id"]] == r["template"] for r in rows)
    timeouts = {
        r["template_id"] for r, label in zip(rows, labels, strict=True) if label == "tcp_timeout"
    }
    assert len(timeouts) == 1


def test_blank_lines_crlf_and_bad_bytes_are_lines_too(tmp_path: Path) -> None:
    path = tmp_path / "mixed.log"
    path.write_bytes(b"SNMP timeout from 10.0.0.1\r\n\nSNMP timeout from 10.0.0.2\nbad \xff byte")
    rows = objects(run(str(path), "--json").stdout)
    assert [r["line"] for r in rows] == [
        "SNMP timeout from 10.0.0.1",
        "",
        "SNMP timeout from 10.0.0.2",
        "bad \ufffd byte",
    ]
    assert rows[0]["template"] == rows[2]["template"] == "SNMP timeout from <IP>"
    assert rows[1]["template"] == ""


def test_an_empty_file_prints_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    done = run(str(path), "--json")
    assert (done.returncode, done.stdout) == (0, "")


def test_the_table_counts_templates(tmp_path: Path) -> None:
    path = tmp_path / "m.log"
    path.write_text(
        "Connection to 10.1.2.3:22 timed out after 5.0 s\n"
        "SNMP timeout from 127.0.0.5\n"
        "Connection to 10.1.2.4:443 timed out after 3.0 s\n"
    )
    done = run(str(path))
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["count", "template_id", "template"]
    assert lines[1].split(maxsplit=2)[0::2] == ["2", "Connection to <IP> timed out after <DUR>"]
    assert lines[2].split(maxsplit=2)[0::2] == ["1", "SNMP timeout from <IP>"]
    assert lines[-1] == "3 lines, 2 templates"


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    cases = {
        (str(tmp_path / "missing.log"),): "missing.log: cannot read it: No such file",
        (str(tmp_path),): "is a directory",
        (str(tmp_path / "x"), "--similarity", "1.5"): "--similarity: 1.5 is not between 0 and 1",
        (str(tmp_path / "x"), "--depth", "2"): "--depth: 2 is less than 3",
        ("--json",): "Missing argument 'FILE'",
    }
    for args, words in cases.items():
        done = run(*args)
        assert done.returncode == 2, args
        assert done.stderr.count("\n") == 1 and words in done.stderr, done.stderr
        assert done.stderr.startswith("netgauge analytics patterns: error: ")
