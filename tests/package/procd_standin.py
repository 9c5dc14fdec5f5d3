"""procd's `service` ubus object, enough of it for init scripts to start, stop and list services.

A router tree in a directory has no procd (the lab's routers are getting the real one; this is
for the package tests' router trees). OpenWrt's real rc.common and procd.sh talk to this object
over a real ubusd exactly as they talk to procd: `set`/`add` (an init script's start), `delete`
(stop), `list`, `signal`, `event`. Instances are real processes run in the router's root.

What it does like procd: an instance whose command, environment and watched files are unchanged
by a `set` keeps running (a changed one is restarted, a missing one stopped; with a reload signal
an unchanged one gets that signal); `delete` stops with SIGTERM, then SIGKILL after the
instance's term_timeout. What it does not: respawn. An instance that exits without being stopped
is recorded as `exited` in the event log instead, so a test sees it (procd would respawn it).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ha_pair.ubus import UbusError

UBUS_STATUS_NOT_FOUND = 4
INSTANCE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Instance:
    service: str
    name: str
    spec: dict
    proc: subprocess.Popen | None = None
    halted: bool = False

    def identity(self, root: Path) -> tuple:
        """What makes procd restart an instance on `set`: command, environment, watched files."""
        files = []
        for path in self.spec.get("file", []):
            try:
                files.append(hashlib.sha256((root / path.lstrip("/")).read_bytes()).hexdigest())
            except OSError:
                files.append(None)
        return (tuple(self.spec.get("command", [])), tuple(sorted(self.spec.get("env", {}).items())), tuple(files))

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Procd:
    root: Path
    log_dir: Path
    services: dict[str, dict[str, Instance]] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def methods(self) -> dict:
        return {"set": self.set, "add": self.add, "delete": self.delete, "list": self.list,
                "signal": self.signal, "event": lambda args: {}}

    # -- ubus methods --------------------------------------------------------
    def set(self, args: dict) -> dict:
        return self._update(args, replace=True)

    def add(self, args: dict) -> dict:
        return self._update(args, replace=False)

    def delete(self, args: dict) -> dict:
        name, only = args.get("name"), args.get("instance")
        with self.lock:
            if name not in self.services:
                raise UbusError(UBUS_STATUS_NOT_FOUND, f"no service {name}")
            instances = self.services[name]
            for iname in [only] if only else list(instances):
                if iname in instances:
                    self._stop(instances.pop(iname), "stop")
            if not only:
                del self.services[name]
        return {}

    def list(self, args: dict) -> dict:
        wanted = args.get("name")
        with self.lock:
            self.reap()
            return {name: {"instances": {iname: self._describe(inst) for iname, inst in instances.items()}}
                    for name, instances in self.services.items() if wanted in (None, name)}

    def signal(self, args: dict) -> dict:
        name, only = args.get("name"), args.get("instance")
        number = int(args.get("signal", signal.SIGHUP))
        with self.lock:
            for iname, inst in self.services.get(name, {}).items():
                if only in (None, iname) and inst.running:
                    inst.proc.send_signal(number)  # type: ignore[union-attr]
                    self._event("signal", inst, signal=number)
        return {}

    # -- the rest ------------------------------------------------------------
    def _update(self, args: dict, replace: bool) -> dict:
        name = args["name"]
        wanted = {iname: Instance(name, iname, spec) for iname, spec in (args.get("instances") or {}).items()}
        with self.lock:
            current = self.services.setdefault(name, {})
            for iname, old in list(current.items()):
                new = wanted.pop(iname, None)
                if new is None:
                    if replace:
                        self._stop(current.pop(iname), "stop")
                    continue
                if old.identity(self.root) == new.identity(self.root) and old.running:
                    reload_signal = new.spec.get("reload_signal")
                    old.spec = new.spec
                    if reload_signal:
                        old.proc.send_signal(int(reload_signal))  # type: ignore[union-attr]
                        self._event("signal", old, signal=int(reload_signal))
                    continue
                self._stop(old, "restart", wait=True)
                current[iname] = new
                self._start(new)
            for iname, new in wanted.items():
                current[iname] = new
                self._start(new)
        return {}

    def _start(self, inst: Instance) -> None:
        command = inst.spec.get("command") or []
        env = {"PATH": INSTANCE_PATH, **{k: str(v) for k, v in inst.spec.get("env", {}).items()}}
        log = open(self.log_dir / f"{inst.service}.{inst.name}.log", "ab")
        root = str(self.root)

        def enter_root() -> None:
            os.chroot(root)
            os.chdir("/")

        try:
            inst.proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         preexec_fn=enter_root, start_new_session=True)
            self._event("start", inst, pid=inst.proc.pid, command=command)
        except OSError as exc:
            self._event("exited", inst, error=str(exc), command=command)
        finally:
            log.close()

    def _stop(self, inst: Instance, why: str, wait: bool = False) -> None:
        """SIGTERM now, SIGKILL after term_timeout; like procd, a stop does not wait for the exit
        (an instance may be stopping its own service), a restart does."""
        inst.halted = True
        if not inst.running:
            return
        proc = inst.proc
        assert proc is not None
        proc.send_signal(signal.SIGTERM)
        self._event(why, inst, pid=proc.pid)
        timeout = float(inst.spec.get("term_timeout", 5))

        def finish() -> None:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

        if wait:
            finish()
        else:
            threading.Thread(target=finish, daemon=True).start()

    def reap(self) -> None:
        """Record instances that exited by themselves (procd would respawn them)."""
        with self.lock:
            for instances in self.services.values():
                for inst in instances.values():
                    if inst.proc is not None and not inst.halted and inst.proc.poll() is not None:
                        inst.halted = True
                        self._event("exited", inst, pid=inst.proc.pid, returncode=inst.proc.returncode)

    def stop_all(self) -> None:
        with self.lock:
            for name in list(self.services):
                for inst in self.services.pop(name).values():
                    self._stop(inst, "stop", wait=True)

    def _describe(self, inst: Instance) -> dict:
        out: dict = {"running": inst.running, "command": inst.spec.get("command", [])}
        if inst.running:
            out["pid"] = inst.proc.pid  # type: ignore[union-attr]
        return out

    def _event(self, kind: str, inst: Instance, **detail: object) -> None:
        self.events.append({"time": time.time(), "event": kind, "service": inst.service,
                            "instance": inst.name, **detail})
