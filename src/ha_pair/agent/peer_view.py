"""The peer view inside the agent: ask the peer for its report (the forced command's `state`
verb) every POLL_S seconds, every POLL_MASTER_S while this node is master (split brain is a
master's problem: found within a few seconds, at the cost of one SSH call to the peer every 2 s)
and right after each transition, in a worker thread of its own so the event loop never waits for
SSH. Status shows the last report and when it was heard; `on_report` runs after each attempt."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from .. import log
from ..paths import Paths
from ..status.peer_report import view

POLL_S = 5.0
POLL_MASTER_S = 2.0


class PeerView:
    def __init__(self, paths: Paths, host: str, port: int, own: Callable[[], dict[str, Any]],
                 interval: Callable[[], float] = lambda: POLL_S, on_report: Callable[[], None] = lambda: None
                 ) -> None:
        """`own`: this node's side of the comparison (shared_digest, vrrp, vrrp_auth); `interval`:
        seconds until the next poll, asked after each one."""
        self.paths, self.host, self.port = paths, host, port
        self.own, self.interval, self.on_report = own, interval, on_report
        self.report: dict[str, Any] | None = None
        self.heard: float | None = None
        self.error: str | None = None
        self.error_kind: str | None = None
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._work, name="peer-view", daemon=True)
        self._thread.start()

    def poll_now(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop = True
        self._wake.set()

    def status(self) -> dict[str, Any]:
        return view(self.report, self.heard, self.error, self.error_kind, self.own(), time.time())

    def ask_once(self) -> dict[str, Any]:
        from ..operate.peer import ask
        from ..leasesync.transport import TransportError

        try:
            report = ask(self.paths, self.host, self.port)
        except TransportError as exc:
            if self.error != str(exc):
                log.warning(f"peer view: cannot ask {self.host}: {exc}")
            self.error, self.error_kind = str(exc), exc.kind
            raise
        if self.error is not None:
            log.info(f"peer view: {self.host} answers again")
        self.report, self.heard, self.error, self.error_kind = report, time.time(), None, None
        return report

    def _work(self) -> None:
        while not self._stop:
            try:
                self.ask_once()
            except Exception:  # recorded above (or a bug: the worker must survive it)
                pass
            self.on_report()
            self._wake.wait(self.interval())
            self._wake.clear()
