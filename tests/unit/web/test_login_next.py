"""Where the login page sends the browser afterwards: a path of this site, nothing else."""

from __future__ import annotations

import pytest

from netgauge.web.pages.login import safe_next


@pytest.mark.parametrize(
    "given",
    [
        None,
        "",
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "/\t/evil.example",  # browsers drop tabs and newlines: this is //evil.example
        "/\n/evil.example",
        "/\r/evil.example",
        "javascript:alert(1)",
        "/ /x",
    ],
)
def test_anything_but_a_plain_local_path_goes_to_the_overview(given: str | None) -> None:
    assert safe_next(given) == "/"


@pytest.mark.parametrize("given", ["/", "/destinations?site=hq&page=2", "/devices/gw-1"])
def test_a_local_path_is_kept(given: str) -> None:
    assert safe_next(given) == given
