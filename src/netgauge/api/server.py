"""The HTTP server netgauge runs: uvicorn's, ending the live streams when it must stop."""

from __future__ import annotations

from types import FrameType

import uvicorn

from netgauge.api.routes.live import stop_streams


class Server(uvicorn.Server):
    """uvicorn's server. On SIGINT/SIGTERM uvicorn waits for open responses to finish before
    the lifespan shutdown, and says nothing to the application: an open live stream (the
    overview's) would hold the stop up. This tells the streams first."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        stop_streams()
        super().handle_exit(sig, frame)
