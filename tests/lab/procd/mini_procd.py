"""A small stand-in for procd in the lab, run inside one router's namespace.

It runs the package's real init script through the lab's rc.common (which records the
procd_* calls), then plays procd with these rules from procd's service/instance code:
- on reload, an instance whose parameters (command, env, hashes of `file`s, ...) are unchanged
  keeps running and receives its `reload_signal`, if it has one; a changed instance restarts; an
  instance no longer declared stops; a new one starts;
- `respawn [threshold timeout retry]` (defaults 3600 5 5): a dead instance is started again after
  `timeout` seconds, until it has died `retry` times in a row, each sooner than `threshold`
  seconds after its start;
- stop: SIGTERM, then SIGKILL after `term_timeout` (default 5 s).

Control: SIGHUP = `/etc/init.d/ha-pair reload`; SIGTERM/SIGINT = stop everything and exit.
A start or reload changes the instances only when the init script reached procd_close_service,
as with procd (an empty declaration stops every instance).
State (instances, PIDs, restarts) is written as JSON to --state after every change.

usage: mini_procd.py --init INIT --rc RC --root ROOT --state FILE --log-dir DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

RESPAWN_DEFAULTS = (3600.0, 5.0, 5)


@dataclass
class Spec:
    name: str
    command: list[str] = field(default_factory=list)
    params: dict[str, list[str]] = field(default_factory=dict)

    def identity(self) -> str:
        """What procd compares on reload: everything but the reload signal itself."""
        files = {path: _file_hash(path) for path in self.params.get("file", [])}
        compared = {k: v for k, v in self.params.items() if k not in ("reload_signal",)}
        return json.dumps([self.command, compared, files], sort_keys=True)

    @property
    def respawn(self) -> tuple[float, float, int] | None:
        if "respawn" not in self.params:
            return None
        values = self.params["respawn"] + [None] * 3
        threshold, timeout, retry = (values[i] if values[i] not in (None, "") else RESPAWN_DEFAULTS[i]
                                     for i in range(3))
        return float(threshold), float(timeout), int(retry)


def _file_hash(path: str) -> str:
    try:
        return hashlib.md5(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def parse_specs(text: str) -> dict[str, Spec]:
    specs: dict[str, Spec] = {}
    current: Spec | None = None
    for line in text.splitlines():
        words = line.split("\t")
        if words[0] == "open":
            current = Spec(words[1])
        elif words[0] == "close" and current is not None:
            specs[current.name] = current
            current = None
        elif words[0] in ("set", "append") and current is not None:
            key, values = words[1], words[2:]
            if key == "command":
                current.command = values if words[0] == "set" else current.command + values
            elif words[0] == "append":
                current.params.setdefault(key, []).extend(values)
            else:
                current.params[key] = values
    return specs


@dataclass
class Instance:
    spec: Spec
    identity: str
    process: subprocess.Popen | None = None
    started: float = 0.0
    restarts: int = 0
    quick_deaths: int = 0
    respawn_at: float | None = None
    gave_up: bool = False
    exits: list[int] = field(default_factory=list)


class MiniProcd:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.instances: dict[str, Instance] = {}
        self.reloads = 0
        self.start_error = ""
        self.pending_reload = False
        self.stopping = False

    # -- the init script --------------------------------------------------------------------
    def run_init(self, action: str) -> dict[str, Spec] | None:
        with tempfile.NamedTemporaryFile(prefix="procd-shim.", dir=self.args.log_dir) as out:
            env = {**os.environ, "PROCD_SHIM_OUT": out.name, "HA_PAIR_ROOT": self.args.root}
            proc = subprocess.run(["sh", self.args.rc, self.args.init, action], env=env, capture_output=True,
                                  text=True, timeout=120)
            self.log(f"init {action}: exit {proc.returncode} {proc.stderr.strip()}")
            self.start_error = proc.stderr.strip() if proc.returncode else ""
            text = Path(out.name).read_text()
            # procd acts on what procd_close_service sent, whatever the script's exit status;
            # when the script never got there (a reload_service that refused), nothing changes
            if "close_service" not in text.splitlines():
                return None
            return parse_specs(text)

    # -- instances --------------------------------------------------------------------------
    def spawn(self, instance: Instance) -> None:
        spec = instance.spec
        log_path = Path(self.args.log_dir) / f"{spec.name}.log"
        quiet = spec.params.get("stdout") != ["1"] and spec.params.get("stderr") != ["1"]
        output = open(os.devnull if quiet else log_path, "ab")
        env = dict(os.environ)
        for item in spec.params.get("env", []):
            key, _, value = item.partition("=")
            env[key] = value
        try:
            instance.process = subprocess.Popen(spec.command, stdin=subprocess.DEVNULL, stdout=output,
                                                stderr=output, env=env, start_new_session=True)
        finally:
            output.close()
        instance.started = time.monotonic()
        instance.respawn_at = None
        self.log(f"started {spec.name} pid {instance.process.pid}: {' '.join(spec.command)}")

    def terminate(self, instance: Instance) -> None:
        process = instance.process
        if process is None or process.poll() is not None:
            instance.process = None
            return
        timeout = float((instance.spec.params.get("term_timeout") or ["5"])[0])
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.log(f"stopped {instance.spec.name} pid {process.pid}")
        instance.process = None

    def apply(self, specs: dict[str, Spec]) -> None:
        for name in list(self.instances):
            if name not in specs:
                self.terminate(self.instances.pop(name))
        for name, spec in specs.items():
            identity = spec.identity()
            current = self.instances.get(name)
            if current is None:
                current = self.instances[name] = Instance(spec, identity)
                self.spawn(current)
            elif current.identity != identity:
                self.terminate(current)
                self.instances[name] = current = Instance(spec, identity, restarts=current.restarts + 1)
                self.spawn(current)
            else:
                current.spec = spec
                signame = (spec.params.get("reload_signal") or [""])[0]
                if signame and current.process is not None and current.process.poll() is None:
                    signum = int(signame) if signame.isdigit() else getattr(signal, f"SIG{signame}")
                    current.process.send_signal(signum)
                    self.log(f"sent SIG{signal.Signals(signum).name[3:]} to {name}")
                elif current.process is None and not current.gave_up:
                    self.spawn(current)

    def reap(self) -> None:
        now = time.monotonic()
        for instance in self.instances.values():
            process = instance.process
            if process is not None and process.poll() is not None:
                instance.exits.append(process.returncode)
                instance.process = None
                respawn = instance.spec.respawn
                self.log(f"{instance.spec.name} exited with {process.returncode}")
                if respawn is None:
                    continue
                threshold, timeout, retry = respawn
                instance.quick_deaths = instance.quick_deaths + 1 if now - instance.started < threshold else 0
                if retry and instance.quick_deaths > retry:
                    instance.gave_up = True
                    self.log(f"{instance.spec.name} crashed too often, not respawning")
                else:
                    instance.respawn_at = now + timeout
            if instance.process is None and instance.respawn_at is not None and now >= instance.respawn_at:
                instance.restarts += 1
                self.spawn(instance)
        self.write_state()

    # -- bookkeeping ------------------------------------------------------------------------
    def write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "reloads": self.reloads,
            "start_error": self.start_error,
            "instances": {
                name: {
                    "pid": i.process.pid if i.process is not None and i.process.poll() is None else None,
                    "command": i.spec.command,
                    "restarts": i.restarts,
                    "exits": i.exits,
                    "gave_up": i.gave_up,
                } for name, i in self.instances.items()
            },
        }
        text = json.dumps(state, indent=1, sort_keys=True)
        path = Path(self.args.state)
        temp = path.with_suffix(".tmp")
        temp.write_text(text)
        os.replace(temp, path)

    def log(self, message: str) -> None:
        with open(Path(self.args.log_dir) / "procd.log", "a") as handle:
            handle.write(f"{time.time():.3f} {message}\n")

    # -- main loop --------------------------------------------------------------------------
    def run(self) -> int:
        signal.signal(signal.SIGHUP, lambda *_: setattr(self, "pending_reload", True))
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: setattr(self, "stopping", True))
        specs = self.run_init("start")
        self.apply(specs or {})
        self.write_state()
        while not self.stopping:
            if self.pending_reload:
                self.pending_reload = False
                self.reloads += 1
                specs = self.run_init("reload")
                if specs is not None:
                    self.apply(specs)
            self.reap()
            time.sleep(0.05)
        self.run_init("stop")
        for instance in self.instances.values():
            self.terminate(instance)
        self.write_state()
        return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    for option in ("--init", "--rc", "--root", "--state", "--log-dir"):
        parser.add_argument(option, required=True)
    args = parser.parse_args()
    Path(args.log_dir).mkdir(parents=True, exist_ok=True)
    return MiniProcd(args).run()


if __name__ == "__main__":
    sys.exit(main())
