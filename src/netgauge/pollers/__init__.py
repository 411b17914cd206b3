"""Device pollers: one module per protocol."""
