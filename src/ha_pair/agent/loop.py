"""The agent's one event loop: keepalived's notify FIFO, the control socket, ubus, signals.

It sleeps until something happens or a deadline is due, and only these have deadlines: the lease
sync's timers (debounced pushes and imports, the periodic full exchange, retries), a ubus
registration retry while ubusd's name is taken or it is away (it comes back through inotify on
ubusd's socket, not by polling: see ubus.registration), and the 1 s limit of each control-socket
client. Everything the data plane needs is done by keepalived's notify script; this loop only
follows and reports.
"""

from __future__ import annotations

import os
import _signal  # not signal.py: see spawn.py
import stat
import time

from .. import __version__, epoll_selector, leanthreads, log, runfiles
from ..config.shared import vrrp_auth, vrrp_profile
from ..events.keepalived_fifo import FifoLineError, LineBuffer, parse_line
from ..fspath import FsPath
from ..operate import hold, step_down
from ..paths import Paths
from ..state.observed import Snapshot
from ..state.pair import Transition, apply_event, resumed, with_history
from ..state.split_brain import SplitBrain
from ..status.build import ConfigOnDisk, build_status, check_down
from . import config_child, history, probes
from .heap import release_free_heap
from .control import ControlServer
from .lease_sync import LeaseSync
from .peer_view import PeerView
from .reasons import ReasonContext, infer_reason
from .split_brain import SplitBrainHandling

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any, Callable
    from ..config.model import Model
    from ..ubus.registration import Registration

CONNTRACK_CACHE_S = 1.0


def open_fifo(path: FsPath) -> int:
    """Open keepalived's notify FIFO for reading, creating it if needed. O_RDWR: the agent is a
    writer too, so the FIFO never reports end-of-file when keepalived restarts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if not stat.S_ISFIFO(path.stat().st_mode):
            path.unlink()
            os.mkfifo(path, 0o600)
    except FileNotFoundError:
        os.mkfifo(path, 0o600)
    return os.open(path, os.O_RDWR | os.O_NONBLOCK)


class Agent(SplitBrainHandling):
    def __init__(self, paths: Paths, ubus_socket: str | None = None) -> None:
        """`ubus_socket` None: libubus's own default on a router (root /), the tree's
        /var/run/ubus/ubus.sock under another root (the lab)."""
        self.paths = paths
        self.ubus_socket = ubus_socket or (None if paths.root == "/" else str(paths.ubus_socket))
        self.model = None
        self.config_errors: list[str] = []
        self.config_stamp: tuple = ()
        self.disk_digest: str | None = None
        self.load_config()
        # a restarted agent (procd respawns it) resumes what keepalived last reported
        self.state = resumed(with_history(history.load(paths.history)), runfiles.transitions(paths),
                             self.model.sync_group if self.model is not None else True)
        self.started = time.time()
        self.selector = epoll_selector.EpollSelector()
        self.lines = LineBuffer()
        self.stop_requested = False
        self.reload_requested = False
        self.ubus: Registration | None = None
        self.ubus_note = ""  # why there is no ubus (python3-ctypes missing)
        self._conntrack_cache: tuple[float, dict] = (0.0, {})
        self.timers: dict[str, tuple[float, Callable[[], None]]] = {}
        self.timer_lock = leanthreads.Lock()
        self.wake_write = -1
        self.event_lines = LineBuffer()
        self.lease_sync: LeaseSync | None = None
        self.peer_view: PeerView | None = None
        self.split_brain = SplitBrain()
        self.control: ControlServer | None = None
        self.fifo = -1

    # -- configuration ------------------------------------------------------------------------
    def load_config(self) -> None:
        """(Re)load the configuration in effect: at start and on SIGHUP (procd's reload)."""
        model = self._validate_disk(self._config_stamp())
        if model is None:
            log.error(f"configuration invalid, keeping the previous one: {'; '.join(self.config_errors)}")
            return
        self.model = model

    def _config_stamp(self) -> tuple:
        stamp = []
        for package in ("ha", "network", "dhcp", "system"):
            try:
                info = self.paths.config(package).stat()
                stamp.append((package, info.st_mtime_ns, info.st_size))
            except OSError:
                stamp.append((package, None, None))
        return tuple(stamp)

    def check_config_on_disk(self) -> None:
        """On demand (status): has /etc/config changed since it was validated? Then validate it
        again, to report errors or unapplied changes; the configuration in effect stays."""
        stamp = self._config_stamp()
        if stamp != self.config_stamp:
            self._validate_disk(stamp)

    def _validate_disk(self, stamp: tuple) -> Model | None:
        """Validate /etc/config as it is now (in a child: config_child); remember its errors and
        digest, and when it was read."""
        self.config_stamp = stamp
        model, self.config_errors = config_child.validate(self.paths)
        self.disk_digest = model.digest if model else None
        return model

    # -- handlers (control socket and ubus) ---------------------------------------------------
    def handlers(self) -> dict[str, Callable[[dict], dict]]:
        """The methods of ubus object `ha`, also answered on the control socket."""
        return {"status": self.status, "history": self.history, "handover": self.handover,
                "maintenance": self.maintenance, "lease_sync": self.lease_sync_now, "config_sync": self.config_sync}

    def control_handlers(self) -> dict[str, Callable[[dict], dict]]:
        """The control socket's (root only): the ubus methods, and this node's report for the peer
        with the VRRP authentication's fingerprint, which ubus and status never show."""
        return {**self.handlers(), "peer_report": self.peer_report}

    def peer_report(self, _args: dict) -> dict:
        from ..status.peer_report import report
        out = report(self.status({}), time.time())
        if self.model is not None:
            out["vrrp_auth"] = vrrp_auth(self.model)
        return out

    def own_side(self) -> dict[str, Any]:
        """What the peer view compares with the peer's report."""
        model = self.model
        if model is None:
            return {}
        return {"shared_digest": model.shared_digest, "vrrp": vrrp_profile(model), "vrrp_auth": vrrp_auth(model),
                "state": self.state.node_state}

    @staticmethod
    def policies() -> dict[str, dict[str, str]]:
        """The ubus argument policies (`ubus -v list ha`): argument name -> blobmsg type."""
        return {"maintenance": {"state": "string", "force": "bool"}, "config_sync": {"dry_run": "bool"}}

    def status(self, _args: dict) -> dict:
        self.check_config_on_disk()
        return build_status(self.model, self.state, self.snapshot(), self.agent_info(),
                            ConfigOnDisk(tuple(self.config_errors), self.disk_digest),
                            self.lease_sync.status() if self.lease_sync else None,
                            hold.describe(self.paths), self.peer_view.status() if self.peer_view else None,
                            {**self.split_brain.as_dict(), "policy": self.model.node.split_brain if self.model
                               else None, "stepped_down": step_down.stepped_down(self.paths)})

    def _operate(self, what: Callable[[Any], dict]) -> dict:
        """handover and maintenance (operate/procedures.py) for ubus and the control socket; the
        answer has `ok`, and `error` with the reason when not."""
        from ..operate import procedures

        if self.model is None:
            return {"ok": False, "error": "no valid configuration in effect"}
        try:
            answer = what(self.model)
        except (procedures.Refused, procedures.Failed) as exc:
            kind = "refused" if isinstance(exc, procedures.Refused) else "failed"
            return {"ok": False, "refused": kind == "refused", "error": f"{kind}: {exc}"}
        finally:
            if self.peer_view is not None:
                self.peer_view.poll_now()
        return answer

    def _ask_peer(self) -> dict:
        if self.peer_view is None:
            raise RuntimeError("no peer configured (ha.global.peer)")
        return self.peer_view.ask_once()

    def handover(self, _args: dict) -> dict:
        from ..operate import procedures
        return self._operate(lambda model: procedures.handover(self.paths, model, self._ask_peer, "ubus"))

    def maintenance(self, args: dict) -> dict:
        from ..operate import procedures
        state = args.get("state")
        if state not in ("on", "off"):
            return {"ok": False, "error": "argument state must be \"on\" or \"off\""}
        force = args.get("force") in (True, 1, "1", "true")
        return self._operate(lambda model: procedures.maintenance(self.paths, model, state == "on", force,
                                                                 self._ask_peer, "ubus"))

    def lease_sync_now(self, _args: dict) -> dict:
        """A full lease exchange with the peer now. It runs in the lease-sync worker: the answer
        does not wait for it, status.lease_sync (last_pull, last_error) tells how it went."""
        if self.lease_sync is None:
            return {"ok": False, "error": "lease sync is not running (ha.dhcp.lease_sync 0, or no valid configuration)"}
        self.lease_sync.full_now()
        return {"ok": True, "scheduled": "full exchange", "last_pull": self.lease_sync.state.get("last_pull")}

    def config_sync(self, args: dict) -> dict:
        """The shared part of /etc/config/ha to the peer (`ha-pair config-sync`): the diff, and
        whether the peer took it. Like handover, it waits for the peer (about a second): the loop
        answers nothing else meanwhile, the data plane does not wait for it. In a child: config_child."""
        return config_child.config_sync(self.paths, args.get("dry_run") in (True, 1, "1", "true"))

    def history(self, _args: dict) -> dict:
        return {"history": [t.as_dict() for t in self.state.history]}

    def agent_info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "version": __version__, "started": round(self.started, 3),
                "uptime_s": round(time.time() - self.started),
                "ubus": self.ubus is not None and self.ubus.connection is not None,
                "ubus_note": self.ubus_note or (self.ubus.disabled if self.ubus else "") or None}

    def snapshot(self) -> Snapshot:
        model = self.model
        if model is None:
            return Snapshot(time.time())
        devices = sorted({v.device for v in model.vips})
        watched = devices + [c.device for c in model.checks if c.device] + \
            ([model.node.sync_device] if model.node.sync_device else [])
        addresses, carriers = probes.interfaces(list(dict.fromkeys(devices + watched)))
        return Snapshot(
            time=time.time(),
            addresses={device: addresses[device] for device in devices},
            carriers={device: carriers[device] for device in watched},
            checks={c.name: runfiles.check_result(self.paths, c.name) for c in model.checks},
            conntrack=self.conntrack_stats() if model.conntrack.enabled else {},
            dhcp_answering=runfiles.dhcp_answering(self.paths) if model.dhcp.managed else None,
            sync_gate_closed=runfiles.sync_gate_closed(self.paths),
        )

    def conntrack_stats(self) -> dict:
        taken, stats = self._conntrack_cache
        if time.monotonic() - taken > CONNTRACK_CACHE_S:
            stats = probes.conntrackd_stats(self.paths.conntrackd_socket)
            self._conntrack_cache = (time.monotonic(), stats)
        return stats

    # -- transitions --------------------------------------------------------------------------
    def reason_context(self, to_state: str) -> ReasonContext:
        model = self.model
        if model is None:
            return ReasonContext(stopping=self.stop_requested)
        _, carriers = probes.interfaces(list({v.device for v in model.vips} | {c.device for c in model.checks
                                                                                if c.device}))
        down = [(check.name, check.failure) for check in model.checks
                if check_down(check, runfiles.check_result(self.paths, check.name),
                              carriers[check.device] if check.device else None)]
        links = tuple(v.device for v in model.vips if carriers[v.device] is False)
        reachable = None
        if to_state == "master" and model.node.peer is not None:
            reachable = probes.peer_reachable(str(model.node.peer))
        held = hold.read_hold(self.paths)
        operator = ""
        if held == hold.OUT and step_down.stepped_down(self.paths) is not None:
            operator = "split_brain"
        elif held == hold.OUT:
            operator = "maintenance" if hold.maintenance(self.paths) is not None else "handover"
        elif held == hold.YIELD:
            operator = "handover"
        return ReasonContext(tuple(down), tuple(dict.fromkeys(links)), reachable, self.stop_requested, operator)

    @staticmethod
    def _lines(fd: int, buffer: LineBuffer) -> list[str]:
        """Complete lines now readable from a FIFO (none when a wake-up found nothing)."""
        try:
            return buffer.feed(os.read(fd, 65536))
        except BlockingIOError:
            return []

    def on_fifo_readable(self, fd: int) -> None:
        for line in self._lines(fd, self.lines):
            try:
                event = parse_line(line)
            except FifoLineError as exc:
                log.warning(f"ignoring keepalived FIFO line: {exc}")
                continue
            if event is None:
                continue
            uses_group = self.model.sync_group if self.model is not None else event.kind == "GROUP"
            self.state, transition = apply_event(
                self.state, event, time.time(), uses_group, lambda f, t: infer_reason(f, t, self.reason_context(t)))
            if transition is not None:
                self.on_transition(transition)

    def on_transition(self, transition: Transition) -> None:
        log.info(f"{transition.scope}: {transition.from_state} -> {transition.to_state} ({transition.reason})")
        if hold.maintenance(self.paths) is not None:
            log.warning("this node is in MAINTENANCE mode: out of mastership until `ha-pair maintenance off`")
        if self.lease_sync is not None:
            self.lease_sync.on_transition()
        self.check_split_brain()  # no longer master: an episode ends here
        if self.peer_view is not None:
            self.peer_view.poll_now()
        try:
            history.save(self.paths.history, self.state.history)
        except OSError as exc:
            log.warning(f"could not save the history: {exc}")
        if self.ubus is not None:
            node = self.model.node.name if self.model else None
            self.ubus.send_event("ha.transition", {**transition.as_dict(), "node": node})

    def watch_fifo(self) -> Any:
        """keepalived unlinks and re-creates the notify FIFO at every reload when it created it
        (it does when it starts before the agent): follow the path to the new FIFO."""
        try:
            from ..inotify import PathWatch
            watch = PathWatch(self.paths.notify_fifo)
        except (ImportError, OSError) as exc:  # no ctypes: a keepalived reload may leave us behind
            log.warning(f"cannot watch {self.paths.notify_fifo}: {exc}")
            return None
        self.selector.register(watch.fileno(), epoll_selector.EVENT_READ, lambda _fd: self.on_fifo_path(watch))
        return watch

    def on_fifo_path(self, watch: Any) -> None:
        if not watch.read():
            return
        try:
            replaced = os.stat(self.paths.notify_fifo).st_ino != os.fstat(self.fifo).st_ino
        except OSError:
            return
        if replaced:
            self.on_fifo_readable(self.fifo)  # what keepalived wrote before it replaced the FIFO
            self.selector.unregister(self.fifo)
            os.close(self.fifo)
            self.fifo = open_fifo(self.paths.notify_fifo)
            self.selector.register(self.fifo, epoll_selector.EVENT_READ, self.on_fifo_readable)
            log.info(f"following keepalived to its new {self.paths.notify_fifo}")

    # -- timers and the events FIFO (lease changes) ---------------------------------------------
    def schedule(self, delay: float, name: str, callback: Callable[[], None]) -> None:
        """Run `callback` in the loop after `delay` s; a timer of that name already pending stays as
        it is (a burst of events gives one run). Callable from any thread."""
        with self.timer_lock:
            if name not in self.timers:
                self.timers[name] = (time.monotonic() + delay, callback)
        if self.wake_write >= 0:
            try:
                os.write(self.wake_write, b"t")
            except (BlockingIOError, OSError):
                pass

    def run_due_timers(self) -> None:
        now = time.monotonic()
        with self.timer_lock:
            due = [(name, cb) for name, (at, cb) in self.timers.items() if at <= now]
            for name, _ in due:
                del self.timers[name]
        for name, callback in due:
            try:
                callback()
            except Exception:
                log.exception(f"timer {name} failed")

    def on_events_readable(self, fd: int) -> None:
        for line in self._lines(fd, self.event_lines):
            word = line.split()[0] if line.split() else ""
            if word.startswith("leases-") and self.lease_sync is not None:
                self.lease_sync.on_event(word)
            elif word == "peer-master" and self.peer_view is not None and self.state.node_state == "master":
                self.peer_view.poll_now()  # the peer, asking us, says it is master too

    def start_lease_sync(self) -> None:
        model = self.model
        if model is None or not model.dhcp.lease_sync or model.node.peer is None:
            return
        self.lease_sync = LeaseSync(self.paths, str(model.node.peer), model.dhcp.ssh_port,
                                    model.dhcp.reconcile_interval, self.schedule)

    def start_peer_view(self) -> None:
        model = self.model
        if model is None or model.node.peer is None:
            return
        self.peer_view = PeerView(self.paths, str(model.node.peer), model.dhcp.ssh_port, self.own_side,
                                  self.peer_poll_interval,
                                  lambda: self.schedule(0, "split-brain", self.check_split_brain))

    # -- config sync ----------------------------------------------------------------------------
    def push_config(self, before: str | None) -> None:
        """ha.global.config_sync push, on the primary: a reload with a changed shared part sends it
        to the peer, in a thread of its own (SSH and the peer's reload take seconds)."""
        model = self.model
        if model is None or model.node.config_sync != "push" or model.node.role != "primary" \
                or model.node.peer is None or model.shared_digest == before:
            return

        def send() -> None:
            answer = config_child.config_sync(self.paths, dry_run=False)  # it logs what the peer did
            if not answer["ok"]:
                log.warning(f"config sync (push): not taken by {model.node.peer}: {answer['error']}")

        leanthreads.Thread(send).start()

    # -- ubus ---------------------------------------------------------------------------------
    def start_ubus(self) -> None:
        try:
            from ..ubus.registration import Registration
        except ImportError as exc:  # no ctypes (python3-ctypes missing)
            self.ubus_note = f"ubus unavailable: {exc}"
            return
        self.ubus = Registration("ha", self.handlers(), self.ubus_socket,
                                 str(self.paths.ubus_socket), self.selector, str(self.paths.root),
                                 self.policies())
        self.ubus.start()

    # -- the loop -----------------------------------------------------------------------------
    def _timeout(self) -> float | None:
        with self.timer_lock:  # the lease worker thread schedules timers too
            deadlines = [at for at, _ in self.timers.values()]
        if self.ubus is not None and self.ubus.deadline() is not None:
            deadlines.append(self.ubus.deadline())
        if self.control is not None and self.control.next_deadline() is not None:
            deadlines.append(self.control.next_deadline())
        if not deadlines:
            return None  # nothing to do until something happens
        return max(0.0, min(deadlines) - time.monotonic())

    def _on_signal(self, signum: int, _frame: object) -> None:
        if signum == _signal.SIGHUP:
            self.reload_requested = True
        else:
            self.stop_requested = True

    def run(self) -> int:
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        _signal.set_wakeup_fd(wake_write)
        for signum in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP):
            _signal.signal(signum, self._on_signal)
        self.wake_write = wake_write
        self.fifo = open_fifo(self.paths.notify_fifo)
        events = open_fifo(self.paths.events_fifo)
        control = ControlServer(self.paths.control_socket, self.control_handlers(), self.selector)
        self.control = control
        self.selector.register(wake_read, epoll_selector.EVENT_READ, lambda fd: os.read(fd, 512))
        self.selector.register(self.fifo, epoll_selector.EVENT_READ, self.on_fifo_readable)
        fifo_watch = self.watch_fifo()
        self.selector.register(events, epoll_selector.EVENT_READ, self.on_events_readable)
        self.start_lease_sync()
        self.start_peer_view()
        self.start_ubus()
        log.info(f"agent started (pid {os.getpid()}), {len(self.state.history)} transitions in history")
        if hold.maintenance(self.paths) is not None:
            log.warning("this node is in MAINTENANCE mode: out of mastership until `ha-pair maintenance off`")
        if step_down.stepped_down(self.paths) is not None:  # a restarted agent keeps the policy's promise
            self._policy_recheck()
        release_free_heap()  # starting has allocated and freed a few MB
        try:
            while not self.stop_requested:
                for key, _ in self.selector.select(self._timeout()):
                    key.data(key.fd)
                if self.reload_requested:
                    self.reload_requested = False
                    before = self.model.shared_digest if self.model else None
                    self.load_config()
                    log.info("configuration reloaded")
                    self.push_config(before)
                if self.ubus is not None:
                    self.ubus.run_due()
                self.run_due_timers()
                control.expire()
        finally:
            if self.lease_sync is not None:
                self.lease_sync.stop()
            if self.peer_view is not None:
                self.peer_view.stop()
            if self.ubus is not None:
                self.ubus.close()
            control.close()
            os.close(self.fifo)
            if fifo_watch is not None:
                fifo_watch.close()
            os.close(events)
            _signal.set_wakeup_fd(-1)
            log.info("agent stopped")
        return 0
