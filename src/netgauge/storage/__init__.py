"""Storage: the Sink/Query seams, the batching writer, and one module per backend."""

from netgauge.storage.base import LatestValue, Point, Query, Sink, SinkHealth
from netgauge.storage.embedded import EmbeddedStore
from netgauge.storage.writer import BatchWriter

__all__ = ["BatchWriter", "EmbeddedStore", "LatestValue", "Point", "Query", "Sink", "SinkHealth"]
