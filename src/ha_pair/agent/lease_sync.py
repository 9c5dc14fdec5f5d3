"""Lease sync inside the agent: when to exchange with the peer, and what status shows about it.

Triggers: a lease event from dnsmasq (hotplug, through the events FIFO) -> at once, a push of what
changed since the peer last heard from us; a request to import leases (from the forced command
serving the peer, which on a node not answering DHCP has already written dnsmasq's file: see
LeaseStore.write_ahead) -> a restart of dnsmasq once the requests have been quiet for
APPLY_QUIET_S, or APPLY_MAX_DELAY_S after the first (a burst costs one restart, and dnsmasq's
memory is needed only when this node answers DHCP: the MASTER catch-up restarts it before that
if it is still owed). No fixed debounce before a push (it was 50 ms, a fifth of the propagation
time): a job of either kind is queued at most once, so the events of a burst that arrive while
one runs make one more run after it, which takes everything they brought. Every reconcile_interval, and
after every transition -> a full exchange (hello for the clock, then exchange). While the peer is
unreachable, retries back off from RETRY_MIN_S to the reconcile interval. The SSH work runs in
one worker thread, so the event loop keeps answering status meanwhile.
"""

from __future__ import annotations

import gc
from _queue import SimpleQueue  # queue.SimpleQueue, without queue.py (and heapq) in the agent
import time

from .. import leanthreads, log
from ..leasesync.importer import answering_dhcp, recover as recover_import
from ..leasesync.store import LeaseStore
from ..leasesync.sync import CLOCK_WARNING_S, exchange, hello, push, state_lines
from ..leasesync.transport import TransportError, stop_all
from ..paths import Paths

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any, Callable

RETRY_MIN_S = 5.0
APPLY_QUIET_S = 1.0
APPLY_MAX_DELAY_S = 5.0


class LeaseSync:
    def __init__(self, paths: Paths, peer: str, port: int, reconcile_s: int,
                 schedule: Callable[[float, str, Callable[[], None]], None]) -> None:
        self.paths = paths
        self.peer = peer
        self.port = port
        self.reconcile_s = reconcile_s
        self.schedule = schedule  # (delay, name, callback): the loop's timers; one pending per name
        self.jobs: SimpleQueue = SimpleQueue()
        self._waiting: set[str] = set()  # coalescing jobs queued and not yet started
        self._waiting_lock = leanthreads.Lock()
        self.state = self.initial_state(peer)
        self._changed_at: float | None = None
        self._counting: LeaseStore | None = None
        self._retry_s = RETRY_MIN_S
        self._apply_asked: tuple[float, float] | None = None  # (first, last) request not yet queued
        self._peer_has: set[bytes] | None = None  # lines the peer got from us; None: send everything
        self._worker = leanthreads.Thread(self._work)
        self._worker.start()
        self.schedule(0, "lease-full", self.full)
        if paths.dnsmasq_behind.exists():  # owed by a forced command whose request this agent never got
            self._queue_once("apply")

    @staticmethod
    def initial_state(peer: str) -> dict[str, Any]:
        """What status shows as `lease_sync` before the first exchange: every field, nothing known."""
        return {
            "enabled": True, "peer": peer, "peer_reachable": None, "last_push": None, "last_pull": None,
            "last_error": None, "last_error_kind": None, "lag_s": None, "leases_local": None, "leases_peer": None,
            "conflicts": 0, "tombstones": None, "clock_offset_s": None, "clock_warning": False,
            "dnsmasq_restarts": 0, "bytes_last_exchange": None, "malformed_lines": 0,
        }

    # -- triggers (called from the event loop) ---------------------------------------------------
    def on_event(self, word: str) -> None:
        if word == "leases-changed":
            if self._changed_at is None:
                self._changed_at = time.time()
            self._queue_once("exchange")
        elif word == "leases-apply":
            now = time.monotonic()
            self._apply_asked = (self._apply_asked[0] if self._apply_asked else now, now)
            self.schedule(APPLY_QUIET_S, "lease-apply", self._apply_due)

    def _apply_due(self) -> None:
        """The apply timer: queue the job once the requests are quiet, or have waited long enough."""
        if self._apply_asked is None:
            return
        first, last = self._apply_asked
        now = time.monotonic()
        wait = min(last + APPLY_QUIET_S, first + APPLY_MAX_DELAY_S) - now
        if wait > 0:
            self.schedule(wait, "lease-apply", self._apply_due)
            return
        self._apply_asked = None
        self._queue_once("apply")

    def _queue_once(self, job: str) -> None:
        """Queue `job` unless it is queued already and has not started: the run still to come
        reads the lease files when it starts, so it covers this event too."""
        with self._waiting_lock:
            if job in self._waiting:
                return
            self._waiting.add(job)
        self.jobs.put(job)

    def full(self) -> None:
        self.jobs.put("full")
        self.schedule(self.reconcile_s, "lease-full", self.full)

    def on_transition(self) -> None:
        self.full_now()

    def full_now(self) -> None:
        """A full exchange at once (after a transition, or asked for over ubus)."""
        self.schedule(0, "lease-full-now", lambda: self.jobs.put("full"))

    def stop(self) -> None:
        self.jobs.put(None)
        stop_all()

    def status(self) -> dict[str, Any]:
        status = dict(self.state)
        # the peer's exchanges update the counts too; one store object: making one reads /etc/config/dhcp
        self._counting = self._counting or LeaseStore(self.paths)
        counts = self._counting.counts()
        status["leases_local"], status["tombstones"] = counts["leases"], counts["tombstones"]
        return status

    # -- the worker thread ---------------------------------------------------------------------
    def _work(self) -> None:
        try:
            if recover_import(self.paths):  # an agent (or import) killed while dnsmasq was stopped
                log.warning("dnsmasq had been left stopped by an interrupted lease import: started it again")
        except Exception:
            log.exception("could not recover from an interrupted lease import")
        while True:
            job = self.jobs.get()
            if job is None:
                return
            with self._waiting_lock:
                self._waiting.discard(job)
            gc.disable()  # a job builds a lease object per lease, none in a cycle: collecting
            try:  # passes over tens of thousands of them cost more than the merge itself
                if job == "apply":
                    self._apply()
                else:
                    self._exchange(full=job == "full")
            except Exception:  # the worker must survive anything a sync can throw
                log.exception(f"lease sync {job} failed")
            finally:
                gc.enable()

    def _apply(self) -> None:
        store = LeaseStore(self.paths)
        if answering_dhcp(self.paths):  # the node answering DHCP is never restarted for a sync, but
            if not store.dnsmasq_behind():  # one written ahead of must be: its grants would be lost
                return
            log.warning("dnsmasq answers DHCP with its lease file written ahead of it: restarting it")
        if (store.dnsmasq_behind() or store.needs_apply()) and store.apply_to_dnsmasq(int(time.time())):
            self.state["dnsmasq_restarts"] += 1

    def _push(self, changed_at: float | None) -> None:
        """A lease event: only what the peer does not have yet goes over the wire."""
        outcome, self._peer_has = push(self.paths, self.peer, self.port, self._peer_has or set())
        if not outcome.ok:
            self._peer_has = None  # unknown now: the next round is a full exchange
            self._failed(outcome.error_kind or "failed", outcome.error or "")
            return
        finished = time.time()
        self.state.update(peer_reachable=True, last_push=finished, last_error=None, last_error_kind=None)
        if outcome.sent:
            self.state["bytes_last_exchange"] = outcome.sent + outcome.received
            self.state["lag_s"] = round(finished - changed_at, 3) if changed_at else self.state["lag_s"]
        self.state["malformed_lines"] += outcome.malformed_local

    def _exchange(self, full: bool) -> None:
        changed_at, self._changed_at = self._changed_at, None
        if not full and self._peer_has is not None:
            self._push(changed_at)
            return
        if full:
            try:
                info, _ = hello(self.paths, self.peer, self.port)
                self.state["clock_offset_s"] = round(info.clock_offset, 3)
                self.state["clock_warning"] = abs(info.clock_offset) > CLOCK_WARNING_S
                if self.state["clock_warning"]:
                    log.warning(f"the peer's clock is {info.clock_offset:+.1f} s off: lease expiries are absolute times")
            except TransportError as exc:
                self._failed(exc.kind, str(exc))
                return
        outcome = exchange(self.paths, self.peer, self.port, apply_if_not_answering=True,
                           answering=answering_dhcp(self.paths))
        if not outcome.ok:
            self._failed(outcome.error_kind or "failed", outcome.error or "")
            return
        self._peer_has = state_lines(self.paths)  # both sides now hold the merged knowledge
        finished = time.time()
        was_reachable = self.state["peer_reachable"]
        self.state.update(
            peer_reachable=True, last_push=finished, last_pull=finished, last_error=None, last_error_kind=None,
            leases_local=outcome.leases_local, leases_peer=outcome.leases_peer, tombstones=outcome.tombstones,
            bytes_last_exchange=outcome.sent + outcome.received,
            lag_s=round(finished - changed_at, 3) if changed_at else self.state["lag_s"],
        )
        self.state["conflicts"] += outcome.conflicts
        self.state["malformed_lines"] += outcome.malformed_local + outcome.malformed_peer
        for description in outcome.conflict_descriptions:
            log.warning(f"lease conflict: {description}")
        if outcome.applied:
            self.state["dnsmasq_restarts"] += 1
        self._retry_s = RETRY_MIN_S
        if was_reachable is False:
            log.info(f"lease sync with {self.peer} works again")
            self.schedule(0, "lease-full-now", lambda: self.jobs.put("full"))  # catch up on everything missed

    def _failed(self, kind: str, message: str) -> None:
        self._peer_has = None
        if self.state["last_error"] != message:
            log.warning(f"lease sync with {self.peer}: {message}")
        self.state.update(last_error=message, last_error_kind=kind,
                          peer_reachable=False if kind == "unreachable" else self.state["peer_reachable"])
        self.schedule(self._retry_s, "lease-retry", lambda: self.jobs.put("full"))
        self._retry_s = min(self._retry_s * 2, float(self.reconcile_s))
