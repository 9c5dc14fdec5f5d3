"""A lab router: OpenWrt's own userspace, with procd as PID 1 of the router's own namespaces.

A router is a network namespace (its "hardware": the ports tests/lab/topology.py wires to the
switches) plus, while it is powered, a pid + mount + uts + ipc namespace whose PID 1 is OpenWrt's
procd. Its root file system is the shared, read-only image of tests/lab/rootfs.py under an overlay
whose upper layer is this router's "flash" (a directory that outlives power cycles, as OpenWrt's
overlay partition does); /tmp is a tmpfs, so a power cycle clears it. procd then boots the router
the OpenWrt way: ubusd, /etc/rc.d (logd, netifd from /etc/config/network, fw4 from
/etc/config/firewall, dnsmasq, dropbear, ...).

From the host:
- `root` is the router's / as the router sees it (/proc/PID1/root): read and write its files there
  while it runs (before the first boot, write the flash: `flash`). Only regular files should be
  touched through it: an absolute symlink inside would resolve on the host;
- `exec`/`spawn` run a command inside the router (nsenter into PID 1's namespaces and root);
- `power_off` kills PID 1, which ends every process of the router at once (the kernel ends a pid
  namespace with its init); the caller resets the router's network namespace (a fresh kernel state).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Sequence

from tests.lab import netns

BOOT = Path(__file__).resolve().parent / "tools" / "router-boot.sh"
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
BOOTED = "var/run/lab-booted"  # written by the lab's /etc/rc.local, i.e. once /etc/rc.d has run
RC_LOCAL = f"""# Put your custom commands here that should be executed once
# the system init finished. By default this file does nothing.
# (lab router: note that the boot has finished)
cat /proc/uptime > /{BOOTED}
exit 0
"""


class RouterError(RuntimeError):
    """The router did not boot, or a command inside it failed."""


class Router:
    """One OpenWrt router of the lab (see the module doc)."""

    def __init__(self, name: str, namespace: str, directory: Path, image: Path) -> None:
        self.name = name
        self.namespace = namespace
        self.dir = directory
        self.image = image
        self.flash = directory / "upper"
        self.process: subprocess.Popen | None = None  # `unshare` outside the router, parent of PID 1
        self.pid1: int | None = None  # procd, as the host sees it
        self.may_stay_down: tuple[str, ...] = ()  # interfaces wait_network does not wait for
        self._kmsg: threading.Thread | None = None
        self._kmsg_stop = threading.Event()
        for sub in ("upper", "work", "root"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
            (directory / sub).chmod(0o755)  # the upper layer's mode is the router's / mode
        self.write_flash("etc/rc.local", RC_LOCAL)

    # --- files ---------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        """The router's / while it runs, else its flash (what the next boot will see above the
        image)."""
        return Path(f"/proc/{self.pid1}/root") if self.running else self.flash

    def write_flash(self, inside: str, text: str, mode: int = 0o644) -> Path:
        """Write a file into the flash (the router's own layer), e.g. before its first boot."""
        path = self.flash / inside
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
        return path

    @property
    def kmsg_log(self) -> Path:
        """procd's messages before logd ran, of every boot (the router's kernel log)."""
        return self.dir / "kmsg.log"

    @property
    def console_log(self) -> Path:
        return self.dir / "console"

    # --- power ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.pid1 is not None and netns.is_alive(self.pid1)

    def power_on(self, timeout: float = 60.0) -> float:
        """Boot: a fresh tmpfs, procd as PID 1, /etc/rc.d. Returns once the boot scripts have run
        (the seconds it took)."""
        if self.running:
            raise RouterError(f"{self.name} is already running")
        started = time.monotonic()
        fifo = self.dir / "kmsg"
        if not fifo.exists():
            os.mkfifo(fifo, 0o600)
        self.console_log.write_bytes(b"")
        self._start_kmsg_reader(fifo)
        self.process = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{self.namespace}", "--", "unshare", "--fork", "--kill-child", "--pid",
             "--mount", "--uts", "--ipc", "--", "/bin/sh", str(BOOT), str(self.image), str(self.dir), self.name],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            env={"PATH": PATH})
        deadline = started + timeout
        while self.pid1 is None:
            children = _children(self.process.pid)
            if children:
                self.pid1 = children[0]
            elif self.process.poll() is not None or time.monotonic() > deadline:
                raise RouterError(f"{self.name}: stage 2 of the boot failed: {self._stage2_output()}")
            else:
                time.sleep(0.005)
        # the router's / is its own only once stage 2 has become procd (before, it is the host's)
        while self._comm() != "procd" or not (self.root / BOOTED).exists():
            if not self.running or time.monotonic() > deadline:
                raise RouterError(f"{self.name} did not finish booting within {timeout:.0f} s "
                                  f"(stage 2: {self._stage2_output()}; early log: {self.kmsg_tail()}; "
                                  f"log: {self.log()[-3000:] if self.running else '-'})")
            time.sleep(0.02)
        return time.monotonic() - started

    def power_off(self) -> None:
        """Power loss: PID 1 is killed, and with it every process of the router."""
        if self.pid1 is not None:
            try:
                os.kill(self.pid1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                netns.kill_pid(self.process.pid, sig=signal.SIGKILL)
            if self.process.stdout:
                self.process.stdout.close()
        self.process = self.pid1 = None
        self._kmsg_stop.set()
        if self._kmsg is not None:
            self._kmsg.join(timeout=5)
            self._kmsg = None

    def _comm(self) -> str:
        try:
            return Path(f"/proc/{self.pid1}/comm").read_text().strip()
        except OSError:
            return ""

    def _stage2_output(self) -> str:
        if self.process is None or self.process.stdout is None or self.process.poll() is None:
            return "still running"
        return self.process.stdout.read().decode(errors="replace").strip()[-2000:]

    def _start_kmsg_reader(self, fifo: Path) -> None:
        """Copy what the router writes to /dev/kmsg into kmsg.log. The FIFO is held open for
        writing too, so the reader never sees end-of-file between procd's messages."""
        self._kmsg_stop = stop = threading.Event()
        fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)

        def read() -> None:
            with open(self.kmsg_log, "ab") as log:
                try:
                    while not stop.is_set():
                        if select.select([fd], [], [], 0.2)[0]:
                            log.write(os.read(fd, 65536))
                            log.flush()
                finally:
                    os.close(fd)

        self._kmsg = threading.Thread(target=read, name=f"kmsg-{self.name}", daemon=True)
        self._kmsg.start()

    def kmsg_tail(self, size: int = 2000) -> str:
        try:
            return self.kmsg_log.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    # --- inside the router -------------------------------------------------------------------------
    def argv(self, *command: str, env: dict[str, str] | None = None) -> list[str]:
        """The host command line that runs `command` inside the router (for subprocess calls
        that need bytes or a process handle)."""
        if not self.running:
            raise RouterError(f"{self.name} is not running")
        environment = {"PATH": PATH, "HOME": "/root", **(env or {})}
        return ["nsenter", "-t", str(self.pid1), "-n", "-m", "-u", "-i", "-p", "-r", "-w", "--", "env", "-i",
                *(f"{key}={value}" for key, value in environment.items()), *command]

    def exec(self, *argv: str, check: bool = True, input: str | None = None, timeout: float = 60.0,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run a command inside the router (its namespaces, its root, OpenWrt's PATH)."""
        return netns.run(self.argv(*argv, env=env), check=check, input=input, timeout=timeout)

    def sh(self, script: str, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess:
        """A shell command line inside the router (busybox ash, as on OpenWrt)."""
        return self.exec("/bin/sh", "-c", script, check=check, timeout=timeout)

    def spawn(self, argv: Sequence[str], stdout: int | IO | None = subprocess.DEVNULL,
              stderr: int | IO | None = subprocess.DEVNULL) -> subprocess.Popen:
        """A long-running command inside the router (it dies with the router)."""
        return subprocess.Popen(self.argv(*argv), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                start_new_session=True)

    def host_pid(self, pid: int | None) -> int | None:
        """The host's number for a process the router knows as `pid`."""
        if pid is None or not self.running:
            return None
        for candidate in netns.ns_pids(self.namespace):
            try:
                status = Path(f"/proc/{candidate}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("NSpid:"):
                    numbers = line.split()[1:]
                    if len(numbers) > 1 and numbers[-1] == str(pid) and netns.is_alive(candidate):
                        return candidate
        return None

    def ubus(self, *args: str, check: bool = True) -> str:
        return self.exec("ubus", *args, check=check).stdout

    def services(self) -> dict:
        """procd's services and their instances (`ubus call service list`)."""
        return json.loads(self.ubus("call", "service", "list") or "{}")

    def instance(self, service: str, instance: str) -> dict:
        """One procd instance's state ({} when procd does not run it)."""
        return (self.services().get(service, {}).get("instances", {}) or {}).get(instance, {})

    def instance_pid(self, service: str, instance: str) -> int | None:
        """Host PID of a running procd instance, None when it is not running."""
        state = self.instance(service, instance)
        return self.host_pid(state.get("pid")) if state.get("running") else None

    def wait_network(self, timeout: float = 30.0) -> None:
        """Until every interface of /etc/config/network is up and fw4's ruleset knows its device
        (fw4 starts before netifd at boot and reloads from the interfaces' hotplug events)."""
        deadline = time.monotonic() + timeout
        while True:
            interfaces = [i for i in json.loads(self.ubus("call", "network.interface", "dump"))["interface"]
                          if i["interface"] not in self.may_stay_down]
            devices = [i.get("l3_device") for i in interfaces if i["interface"] != "loopback"]
            chain = self.exec("nft", "list", "chain", "inet", "fw4", "input", check=False).stdout
            if all(i["up"] for i in interfaces) and all(f'"{device}"' in chain for device in devices):
                return
            if time.monotonic() > deadline:
                raise RouterError(f"{self.name}: network not ready after {timeout:.0f} s: "
                                  f"{[(i['interface'], i['up'], i.get('l3_device')) for i in interfaces]}\n{chain}")
            time.sleep(0.1)

    def log(self, pattern: str | None = None) -> str:
        """The router's log (`logread`, optionally `-e PATTERN`); empty when it is off."""
        if not self.running:
            return ""
        argv = ["logread"] + (["-e", pattern] if pattern else [])
        return self.exec(*argv, check=False).stdout

    def init(self, service: str, action: str, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess:
        """`/etc/init.d/SERVICE ACTION` inside the router."""
        return self.exec(f"/etc/init.d/{service}", action, check=check, timeout=timeout)


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []

