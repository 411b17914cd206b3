"""A device job's ``interfaces`` and ``disks`` in the console's job form: one input per part
(include, exclude, skip types), regexes one per line (a pattern may hold a comma), a bad
pattern named next to its own input, and the saved job holding what was typed."""

from __future__ import annotations

import re

from tests.browser.conftest import Console, Server

JOB = "e2e-snmp-selection"


def test_an_snmp_job_form_selects_interfaces_and_disks(console: Console, server: Server) -> None:
    console.login()
    page = console.goto("/jobs/new")
    page.get_by_label("Name", exact=True).fill(JOB)
    page.get_by_label("Kind").select_option("snmp")
    page.get_by_label("Targets").fill("lab-router")
    page.locator("#job-enabled-box").uncheck()  # a form test: nothing is polled
    settings = page.locator(".params-kind[data-kind='snmp']")
    settings.locator("details.more-params summary").click()
    include = settings.get_by_label("Interfaces: include (snmp)")
    exclude = settings.get_by_label("Interfaces: exclude (snmp)")
    skip = settings.get_by_label("Interfaces: skip types (snmp)")
    disks = settings.get_by_label("Disks: exclude (snmp)")
    for field in (include, exclude, skip, disks, settings.get_by_label("Disks: skip types (snmp)")):
        assert field.is_visible()
    assert skip.get_attribute("placeholder") == "softwareLoopback"  # the default, shown
    assert exclude.evaluate("e => e.tagName") == "TEXTAREA"  # one pattern per line

    include.fill("(")  # not a regular expression: the server's words land next to it
    page.get_by_role("button", name="Save").click()
    error = page.locator(".field:has(#p-snmp-interfaces\\.include) .field-error")
    error.wait_for(timeout=10_000)
    assert "is not a regular expression" in error.inner_text()
    console.shot("50-job-form-selection-error")

    include.fill("")
    exclude.fill("^veth\n^br-[0-9a-f]{1,12}$")  # the second holds a comma
    disks.fill("^/run/netns")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(rf"/jobs/{JOB}$"), timeout=10_000)
    job = server.http.get(f"/api/v1/jobs/{JOB}").json()
    # a part left empty keeps its default (loopbacks still skipped): it is not sent
    assert job["params"] == {
        "interfaces": {"exclude": ["^veth", "^br-[0-9a-f]{1,12}$"]},
        "disks": {"exclude": ["^/run/netns"]},
    }

    page = console.goto(f"/jobs/{JOB}/edit")  # the edit form shows what was saved
    settings = page.locator(".params-kind[data-kind='snmp']")
    settings.locator("details.more-params summary").click()
    shown = settings.get_by_label("Interfaces: exclude (snmp)").input_value()
    assert shown == "^veth\n^br-[0-9a-f]{1,12}$"
    assert console.unlabelled() == []
    console.shot("51-job-form-selection-edit")
    assert server.http.delete(f"/api/v1/jobs/{JOB}").status_code == 204
