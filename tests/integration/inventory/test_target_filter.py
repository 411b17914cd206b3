"""TargetFilter's names and exclude on SQLite and PostgreSQL: few names bound one by one,
many as one JSON parameter; the same answer either way as Python's set arithmetic."""

from __future__ import annotations

import random

import pytest

from netgauge.inventory import Inventory, TargetFilter
from netgauge.inventory.tables import TargetRow
from netgauge.models import TargetType

N = 3_000


def _fill(inventory: Inventory) -> list[str]:
    names = [f"h{i:04d}" for i in range(N)] + ["o'brien", 'q"uote', "50%_off", "back\\slash"]
    with inventory.session() as s:
        s.add_all(
            TargetRow(
                name=n,
                address="192.0.2.1",
                type="device" if i % 5 == 0 else "destination",
                source="test",
            )
            for i, n in enumerate(names)
        )
    return names


@pytest.mark.parametrize("size", [3, 499, 500, 501, 2_500])
def test_names_and_exclude_match_set_arithmetic(inventory: Inventory, size: int) -> None:
    everyone = _fill(inventory)
    rng = random.Random(size)
    picked = rng.sample(everyone, size) + ["not-in-the-inventory"]
    kinds = {n: ("device" if i % 5 == 0 else "destination") for i, n in enumerate(everyone)}
    inside = sorted(n for n in everyone if n in set(picked))
    outside = sorted(n for n in everyone if n not in set(picked))

    page = inventory.list_targets(TargetFilter(names=picked), 10_000, 0)
    assert page.total == len(inside) and [r.name for r in page.items] == inside
    page = inventory.list_targets(TargetFilter(exclude=picked), 10_000, 0)
    assert page.total == len(outside) and [r.name for r in page.items] == outside
    # combined with the other filters, paged: the total is the whole match's
    devices_out = [n for n in outside if kinds[n] == "device"]
    page = inventory.list_targets(TargetFilter(type=TargetType.DEVICE, exclude=picked), 10, 20)
    assert page.total == len(devices_out) and [r.name for r in page.items] == devices_out[20:30]


def test_an_empty_name_list_matches_nothing_and_an_empty_exclude_everything(
    inventory: Inventory,
) -> None:
    everyone = _fill(inventory)
    assert inventory.list_targets(TargetFilter(names=[]), 10, 0).total == 0
    assert inventory.list_targets(TargetFilter(exclude=[]), 10, 0).total == len(everyone)
