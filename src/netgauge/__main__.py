"""``python -m netgauge`` is the ``netgauge`` command."""

from netgauge.cli import main

main()
