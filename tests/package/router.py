"""A live router made from a root directory: the package's scripts run as on a router.

`add_programs()` puts into a root what the scripts call, at OpenWrt's paths: busybox (as /bin/sh
and its applets: OpenWrt's shell is busybox ash), util-linux flock (procd.sh locks with it),
OpenWrt's uci, ubus, ubusd and jshn built from the pinned sources, Debian's nft, dropbearkey,
dbclient and Python 3 (bookworm's 3.11, as 24.10 ships), and the release's package manager (opkg
or apk) built from the pinned sources.
`Router` boots such a root in its own mount, network, PID, UTS and IPC namespaces
(tests/package/router_ns.py): /tmp is a tmpfs, ubusd runs, and a procd stand-in answers the
init scripts. Tests talk to it with `sh()`; checks use only what also works on a router with the
real procd (`ubus call service list`, /proc), so they can later run inside the lab's routers.

Nothing here touches the host outside the namespaces: shared libraries and the Python standard
library are bind-mounted read-only inside them, the network devices are dummies in the router's
own network namespace, and everything started ends with it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests import vendor
from tests.vendor.packaging import Release, stage_tool

REPO = Path(__file__).resolve().parents[2]
# busybox applets the scripts use (not reboot, sysctl, mount, ...: nothing that could reach the host)
APPLETS = (
    "sh ash awk basename cat chmod chown cmp cp cut date dirname echo egrep env expr false fgrep find grep "
    "gunzip gzip head hostname id kill ln logger ls md5sum mkdir mkfifo mktemp mv nproc pidof printf ps "
    "readlink realpath rm rmdir sed seq sha256sum sleep sort stat syslogd tail tar tee test timeout touch tr "
    "true uname uniq usleep wc which xargs zcat [ [["
).split()


# the host's Python 3 (Debian's, as the router's python3) and its multiarch library directory,
# which the router's namespaces mount read-only at the same paths
HOST_PYTHON = Path(os.path.realpath("/usr/bin/python3"))  # /usr/bin/python3.11
PYTHON_STDLIB = f"/usr/lib/{HOST_PYTHON.name}"
BYTECODE_TAG = "cpython-" + HOST_PYTHON.name.removeprefix("python").replace(".", "")
HOST_LIB_DIR = next(str(p) for p in sorted(Path("/usr/lib").glob("*-linux-gnu")) if (p / "libc.so.6").exists())
MOUNTPOINTS = {  # in the root -> from the host
    "lib" + HOST_LIB_DIR[len("/usr/lib"):]: HOST_LIB_DIR,
    HOST_LIB_DIR.lstrip("/"): HOST_LIB_DIR,
    "lib64": "/lib64",
    PYTHON_STDLIB.lstrip("/"): PYTHON_STDLIB,
}


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def add_programs(root: Path, release: Release) -> None:
    listing = subprocess.run(["busybox", "--list-full"], capture_output=True, text=True, check=True).stdout.split()
    paths = {Path(p).name: p for p in listing}
    _copy(Path("/usr/bin/busybox"), root / "bin/busybox")
    for applet in APPLETS:
        link = root / paths.get(applet, f"bin/{applet}")
        if not link.exists() and not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to("/bin/busybox")
    _copy(Path(shutil.which("flock") or "/usr/bin/flock"), root / "usr/bin/flock")
    _copy(Path("/usr/sbin/nft"), root / "usr/sbin/nft")
    # what OpenWrt's dropbear package brings for the lease sync (Debian's dropbear-bin builds)
    for program in ("dropbearkey", "dbclient"):
        _copy(Path(f"/usr/bin/{program}"), root / "usr/bin" / program)
    _copy(HOST_PYTHON, root / "usr/bin" / HOST_PYTHON.name)
    (root / "usr/bin/python3").unlink(missing_ok=True)
    (root / "usr/bin/python3").symlink_to(HOST_PYTHON.name)
    _copy(vendor.STAGE / "bin/uci", root / "sbin/uci")
    _copy(vendor.STAGE / "bin/ubus", root / "bin/ubus")
    _copy(vendor.STAGE / "sbin/ubusd", root / "sbin/ubusd")
    _copy(vendor.STAGE / "bin/jshn", root / "usr/bin/jshn")
    for lib in (vendor.STAGE / "lib").glob("*.so*"):
        target = root / "lib" / lib.name
        if lib.is_symlink():
            target.unlink(missing_ok=True)
            target.symlink_to(os.readlink(lib))
        else:
            _copy(lib, target)
    if release.uses_apk:
        _copy(stage_tool("apk"), root / "usr/bin/apk")
    else:
        _copy(stage_tool("opkg"), root / "bin/opkg")
        # what the opkg package puts on a router (package/system/opkg/files)
        _copy(release.tree / "package/system/opkg/files/opkg.conf", root / "etc/opkg.conf")
    # Debian's daemons keep pid files in /run; OpenWrt builds them with runstatedir /var/run
    if not (root / "run").is_symlink():
        (root / "run").symlink_to("var/run")
    for mountpoint in MOUNTPOINTS:
        (root / mountpoint).mkdir(parents=True, exist_ok=True)


@dataclass
class Result:
    rc: int
    out: str
    err: str

    def check(self) -> "Result":
        assert self.rc == 0, f"exit {self.rc}\nstdout:\n{self.out}\nstderr:\n{self.err}"
        return self


class Router:
    """A running router (see the module's docstring); use as a context manager."""

    def __init__(self, root: Path, devices: list[dict] | None = None) -> None:
        self.root = root
        env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}",
               "HA_PAIR_UBUS_LIBDIR": str(vendor.STAGE / "lib"), "PYTHONDONTWRITEBYTECODE": "1"}
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--net", "--pid", "--uts", "--ipc", "--fork", "--kill-child",
             sys.executable, "-m", "tests.package.router_ns", str(root), json.dumps(devices or [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line or not json.loads(line).get("ready"):
            self.close()
            raise RuntimeError(f"the router did not start: {line!r} {self.proc.stderr.read()}")  # type: ignore[union-attr]

    def _request(self, **request: object) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the router ended: {self.proc.stderr.read()}")  # type: ignore[union-attr]
        return json.loads(line)

    def sh(self, cmd: str, timeout: float = 120, env: dict[str, str] | None = None) -> Result:
        reply = self._request(op="sh", cmd=cmd, timeout=timeout, env=env or {})
        return Result(reply["rc"], reply["out"], reply["err"])

    def events(self) -> list[dict]:
        return self._request(op="events")["events"]

    def services(self) -> dict:
        """procd's view, as `ubus call service list` gives it (real procd or the stand-in)."""
        out = self.sh("ubus call service list '{}'").check().out
        return json.loads(out) if out.strip() else {}

    def daemons(self, comm: str) -> list[int]:
        """PIDs of top-level `comm` processes (not children of another `comm`), from /proc."""
        out = self.sh(
            f"for d in /proc/[0-9]*; do c=$(cat $d/comm 2>/dev/null) || continue; [ \"$c\" = {comm} ] || continue; "
            f"p=$(cut -d' ' -f4 $d/stat); [ \"$(cat /proc/$p/comm 2>/dev/null)\" = {comm} ] && continue; "
            "echo ${d#/proc/}; done").check().out
        return sorted(int(pid) for pid in out.split())

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")  # type: ignore[union-attr]
                self.proc.stdin.flush()  # type: ignore[union-attr]
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired, ValueError):
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "Router":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
