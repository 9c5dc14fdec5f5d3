"""Inside a router's namespaces (started by tests/package/router.py through `unshare`).

PID 1 of the new PID namespace only reaps orphans; its child sets the router up and serves the
test: the root's /tmp (tmpfs, with /var pointing there), /proc, /dev, the host's shared libraries
and Python's standard library read-only, the network devices asked for (veth pairs), busybox syslogd, ubusd,
and the procd stand-in; then it runs the test's requests, one JSON line each on stdin:
  {"op": "sh", "cmd": "...", "timeout": 60}  ->  {"rc": 0, "out": "...", "err": "..."}
  {"op": "events"}                           ->  {"events": [...]}   (the procd stand-in's log)
  {"op": "quit"}
Everything started here dies with the namespace.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import threading
from pathlib import Path

from tests.package.procd_standin import Procd
from tests.package.router import MOUNTPOINTS

ROUTER_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9)}


def sh(argv: list[str]) -> None:
    subprocess.run(argv, check=True)


def mount_bind(source: str, target: Path, readonly: bool = True) -> None:
    target.mkdir(parents=True, exist_ok=True)
    sh(["mount", "--bind", source, str(target)])
    if readonly:
        sh(["mount", "-o", "remount,bind,ro", str(target)])


def set_up(root: Path, devices: list[dict]) -> None:
    sh(["mount", "--make-rprivate", "/"])
    sh(["mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", str(root / "tmp")])
    for sub in ("run/ubus", "lock", "log", "state", "tmp", ".uci", "procd-standin"):
        (root / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    (root / "proc").mkdir(exist_ok=True)
    sh(["mount", "-t", "proc", "proc", str(root / "proc")])
    (root / "dev").mkdir(exist_ok=True)
    sh(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", str(root / "dev")])
    for name, (major, minor) in DEVICES.items():
        os.mknod(root / "dev" / name, 0o20666, os.makedev(major, minor))
        (root / "dev" / name).chmod(0o666)
    for mountpoint, source in MOUNTPOINTS.items():
        mount_bind(source, root / mountpoint)
    sh(["ip", "link", "set", "lo", "up"])
    for device in devices:
        # a veth pair with both ends in here (this kernel has no dummy devices)
        peer = f"{device['name'][:13]}-p"
        sh(["ip", "link", "add", device["name"], "type", "veth", "peer", "name", peer])
        sh(["ip", "link", "set", peer, "up"])
        sh(["ip", "link", "set", device["name"], "up"])
        for address in device.get("addresses", []):
            sh(["ip", "address", "add", address, "dev", device["name"]])


def in_root(root: Path, argv: list[str], **kwargs: object) -> subprocess.Popen:
    argv = ["chroot", str(root), *argv]
    return subprocess.Popen(argv, env={"PATH": ROUTER_PATH}, **kwargs)  # type: ignore[call-overload]


def serve_procd(procd: Procd, socket: Path, ready: threading.Event) -> None:
    from ha_pair.ubus.libubus import UbusConnection

    conn = UbusConnection(str(socket))
    conn.add_object("service", procd.methods())
    ready.set()
    selector = selectors.DefaultSelector()
    selector.register(conn.fileno(), selectors.EVENT_READ)
    while True:
        if selector.select(timeout=0.5):
            conn.handle_readable()
        procd.reap()


def run_command(root: Path, request: dict) -> dict:
    try:
        proc = subprocess.run(["chroot", str(root), "/bin/sh", "-c", request["cmd"]], capture_output=True,
                              env={"PATH": ROUTER_PATH, "HOME": "/root", **request.get("env", {})},
                              timeout=request.get("timeout", 120), stdin=subprocess.DEVNULL)
        return {"rc": proc.returncode, "out": proc.stdout.decode(errors="replace"),
                "err": proc.stderr.decode(errors="replace")}
    except subprocess.TimeoutExpired as exc:
        return {"rc": -1, "out": (exc.stdout or b"").decode(errors="replace"),
                "err": f"timed out after {exc.timeout} s\n" + (exc.stderr or b"").decode(errors="replace")}


def agent(root: Path, devices: list[dict]) -> None:
    set_up(root, devices)
    in_root(root, ["/sbin/syslogd", "-n", "-O", "/tmp/log/messages"])
    ubusd = in_root(root, ["/sbin/ubusd"])
    socket = root / "tmp/run/ubus/ubus.sock"
    for _ in range(100):
        if socket.exists():
            break
        if ubusd.poll() is not None:
            raise SystemExit("ubusd exited")
        threading.Event().wait(0.05)
    procd = Procd(root, root / "tmp/procd-standin")
    ready = threading.Event()
    threading.Thread(target=serve_procd, args=(procd, socket, ready), daemon=True).start()
    if not ready.wait(10):
        raise SystemExit("the procd stand-in did not register")
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "quit":
            break
        if request["op"] == "sh":
            reply = run_command(root, request)
        elif request["op"] == "events":
            with procd.lock:
                procd.reap()
                reply = {"events": list(procd.events)}
        else:
            reply = {"error": f"unknown op {request['op']}"}
        print(json.dumps(reply), flush=True)
    procd.stop_all()


def main() -> None:
    root = Path(sys.argv[1])
    devices = json.loads(sys.argv[2]) if len(sys.argv) > 2 else []
    if os.getpid() == 1:
        child = os.fork()
        if child:
            # PID 1: reap orphans until the agent is done; leaving ends every process in here
            while True:
                pid, status = os.wait()
                if pid == child:
                    os._exit(os.waitstatus_to_exitcode(status))
    agent(root, devices)


if __name__ == "__main__":
    main()
