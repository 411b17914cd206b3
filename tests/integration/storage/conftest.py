"""Fixtures of the storage integration tests: the real InfluxDB 1.x server is the session's
(``tests/conftest.py``: ``influxdb``), shared with the attack tests."""
