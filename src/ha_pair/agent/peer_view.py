"""The peer view inside the agent: ask the peer for its report (the forced command's `state`
verb) every POLL_S seconds, right after each transition, and when the peer, asking, said it is
master while this node is (the agent's events FIFO: split brain is then found on both nodes
within about a second, without polling faster), in a worker thread of its own so the event loop
never waits for SSH. Each question tells the peer this node's state. Status shows the last report
and when it was heard; `on_report` runs after each attempt."""

from __future__ import annotations

import time

from .. import leanthreads, log
from ..paths import Paths
from ..status.peer_report import view

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any, Callable

POLL_S = 5.0
POLL_STEPPED_DOWN_S = 2.0  # a secondary out for a split brain comes back soon after the primary fails


class PeerView:
    def __init__(self, paths: Paths, host: str, port: int, own: Callable[[], dict[str, Any]],
                 interval: Callable[[], float] = lambda: POLL_S, on_report: Callable[[], None] = lambda: None
                 ) -> None:
        """`own`: this node's side of the comparison (shared_digest, vrrp, vrrp_auth) and its VRRP
        state; `interval`: seconds until the next poll, asked after each one."""
        self.paths, self.host, self.port = paths, host, port
        self.own, self.interval, self.on_report = own, interval, on_report
        self.report: dict[str, Any] | None = None
        self.heard: float | None = None
        self.error: str | None = None
        self.error_kind: str | None = None
        self._wake = leanthreads.Event()
        self._stop = False
        self._thread = leanthreads.Thread(self._work)
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
            report = ask(self.paths, self.host, self.port, own_state=self.own().get("state"))
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
