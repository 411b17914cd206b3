"""``netgauge collector``: the process that runs a remote site's checks (see main.py)."""
