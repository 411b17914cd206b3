"""Loss bands: one scale for the charts' dots, their legend and the lists."""

from __future__ import annotations

import json

import pytest

from netgauge.status.measures import LOSS_SCALE, loss_band, loss_scale_json


@pytest.mark.parametrize(
    ("loss", "label"),
    [(None, "0 %"), (0.0, "0 %"), (0.01, "< 5 %"), (4.99, "< 5 %"), (5.0, "< 10 %"),
     (24.9, "< 25 %"), (25.0, "< 50 %"), (50.0, "≥ 50 %"), (100.0, "≥ 50 %")],
)  # fmt: skip
def test_a_loss_falls_in_the_band_its_label_says(loss: float | None, label: str) -> None:
    assert LOSS_SCALE[loss_band(loss)].label == label


def test_the_browser_gets_the_same_scale() -> None:
    sent = json.loads(loss_scale_json())
    assert [(b["below"], b["colour"]) for b in sent] == [(b.below, b.colour) for b in LOSS_SCALE]
