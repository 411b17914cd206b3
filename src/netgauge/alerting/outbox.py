"""Delivering the outbox: every notification is stored before it is sent, sent until a
receiver takes it (exponential backoff from 2 s to 5 minutes), and given up only after
``give_up_s`` (default a day), visibly (state ``failed``, the last error kept).

Per receiver in order: a receiver that is down holds back only its own notifications.
Each attempt is recorded (attempts, last error, next attempt), so the console shows them.
A crash between the receiver's answer and that record means one more copy on restart;
the webhook's ``Idempotency-Key`` (the notification's id) lets a receiver drop it.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from netgauge.alerting.notifiers import Notifier
from netgauge.alerting.store import AlertStore, Outgoing
from netgauge.clock import Clock
from netgauge.errors import NotificationError

log = structlog.get_logger(__name__)
IDLE_S = 30.0  # look again this often when nothing is due (rows added by another process)
Delivered = Callable[[Outgoing, str | None], None]  # (notification, error); in a thread


def backoff_s(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``: 2, 4, 8... up to 300, with 10 % jitter."""
    base: float = min(2.0 * 2.0 ** max(0, attempts - 1), 300.0)
    return base * (1 + random.random() * 0.1)  # noqa: S311 - jitter, not a secret


class OutboxSender:
    """Sends due notifications through their notifiers."""

    def __init__(
        self,
        store: AlertStore,
        notifiers: dict[str, Notifier],
        clock: Clock,
        *,
        give_up_s: float = 86400.0,
        delivered: Delivered | None = None,
    ) -> None:
        self.store, self.notifiers, self.clock = store, notifiers, clock
        self.give_up = timedelta(seconds=give_up_s)
        self.delivered = delivered
        self.wake = asyncio.Event()
        self.sent = 0
        self.failed_attempts = 0
        self.given_up_at: datetime | None = None

    async def run(self) -> None:
        """Until cancelled: send what is due, then sleep until the next is."""
        while True:
            try:
                await self.send_due()
                nxt = await asyncio.to_thread(self.store.next_due)
            except Exception:  # the database away for a moment: try again, never stop
                log.exception("outbox.failed")
                nxt = None
            wait = IDLE_S
            if nxt is not None:
                wait = max(0.0, min(IDLE_S, (nxt - self.clock.now()).total_seconds()))
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=wait)
            except TimeoutError:
                pass

    async def send_due(self) -> int:
        """One pass over what is due now; returns how many were delivered."""
        due = await asyncio.to_thread(self.store.due, self.clock.now())
        by_receiver: dict[str, list[Outgoing]] = defaultdict(list)
        for item in due:
            by_receiver[item.receiver].append(item)
        results = await asyncio.gather(*(self._send_all(items) for items in by_receiver.values()))
        return sum(results)

    async def _send_all(self, items: list[Outgoing]) -> int:
        sent = 0
        for item in items:
            if not await self._send(item):
                break  # keep this receiver's order: the rest wait for the first
            sent += 1
        return sent

    async def _send(self, item: Outgoing) -> bool:
        notifier = self.notifiers.get(item.receiver)
        error: str | None
        if notifier is None:
            error = f"no notifier named {item.receiver!r} any more"
        else:
            try:
                await notifier.send(item.payload, item.id)
                error = None
            except NotificationError as exc:
                error = str(exc)
            except Exception as exc:  # a bug in a notifier is that notification's error
                log.exception("outbox.notifier_crashed", receiver=item.receiver)
                error = f"{type(exc).__name__}: {exc}"
        now = self.clock.now()
        retry_at = self._retry_at(item, now) if error else None
        await asyncio.to_thread(self.store.attempted, item.id, now, error, retry_at)
        if error is None:
            self.sent += 1
        elif retry_at is None:
            self.given_up_at = now
            self.failed_attempts += 1
        else:
            self.failed_attempts += 1
            log.warning(
                "notification.failed",
                receiver=item.receiver,
                id=item.id,
                attempt=item.attempts + 1,
                error=error,
                retry_at=retry_at.isoformat() if retry_at else None,
            )
        if self.delivered is not None and (error is None or retry_at is None):
            await asyncio.to_thread(self.delivered, item, error)
        return error is None

    def given_up_recently(self, now: datetime, within_s: float = 3600.0) -> bool:
        """Whether a notification was given up within the last ``within_s``."""
        return self.given_up_at is not None and now - self.given_up_at <= timedelta(
            seconds=within_s
        )

    def _retry_at(self, item: Outgoing, now: datetime) -> datetime | None:
        if now - item.created_at >= self.give_up:
            return None
        return now + timedelta(seconds=backoff_s(item.attempts + 1))


__all__ = ["OutboxSender", "backoff_s"]
