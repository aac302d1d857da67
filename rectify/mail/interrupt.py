"""The one exception a graceful stop of the outbox raises (kept import-light for the CLI's error handler)."""

from __future__ import annotations

import signal


class SendInterrupted(KeyboardInterrupt):
    """SIGINT/SIGTERM during a flush: in-flight messages were finished and marked, the rest given back.

    A KeyboardInterrupt, so nothing retries it (Prefect does not retry a BaseException)."""

    def __init__(self, signum: int, sent: int, released: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"stopped by {name}: {sent} message(s) sent, {released} given back to the queue "
                         "(`rectify outbox retry` or the next run sends them)")
        self.signum, self.sent, self.released = signum, sent, released

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
