"""OpenWrt's control plane on one router: ubusd, rpcd (with the real luci-base and luci-app-ha
ACL files) and uhttpd serving LuCI and /ubus, built from OpenWrt's sources (tests/vendor),
running with the router's file tree as their `/`, inside the router's network namespace.

The router tree is the one the package installs into (tests/support/tree.py): `install()` adds
OpenWrt's programs and libraries, LuCI's client side, luci-app-ha as luci.mk installs it
(htdocs/ -> /www, root/ -> /), /etc/config/rpcd with the test users and the LuCI dispatcher
stand-in at /www/cgi-bin/luci (see luci_dispatcher.py). `ControlPlane.start()` then gives the
daemons a private mount namespace whose `/` is a tmpfs with
  /usr              the host's /usr with the tree's usr/ laid over it (overlayfs: python3, sh and
                    glibc come from the host, OpenWrt's files from the tree),
  /etc /var /tmp /www /root   the tree's own directories (bind mounts: what rpcd writes to
                    /etc/config is the tree's file, which the agent and the tests read),
  /dev and /proc    the host's /dev, a proc,
and chroots into it. Nothing of the host is changed.

This is the single test router without procd (router.py). The two-router lab's routers run
OpenWrt's procd, which starts the same daemons from their init scripts (packages.py installs them,
sharing install_rpcd_files/install_luci/rpcd_config with this module).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests import vendor
from tests.lab import netns
from tests.vendor.control import ROOTFS, luci_tree

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "luci-app-ha"
DISPATCHER = Path(__file__).with_name("luci_dispatcher.py")
COMPONENTS = ("ubus", "uci", "rpcd", "uhttpd")
SOCKET = "/var/run/ubus/ubus.sock"
RPCD_TIMEOUT_S = 30  # /etc/config/rpcd's timeout, as OpenWrt ships it
LIBRARIES = ("libubox.so", "libubus.so", "libblobmsg_json.so", "libjson_script.so", "libuci.so", "uhttpd_ubus.so")


@dataclass(frozen=True)
class User:
    """A login in /etc/config/rpcd: its ACL groups for reading and for writing."""

    name: str
    password: str
    read: tuple[str, ...]
    write: tuple[str, ...] = ()


# Who logs in to LuCI in the tests. Any LuCI account needs `unauthenticated` (session access)
# and luci-base (the right to call `uci` at all) besides the app's own group; none of these three
# may read `network`.
USERS = (
    User("root", "r00t-pass", ("*",), ("*",)),
    User("ha-admin", "admin-pass", ("unauthenticated", "luci-base", "luci-app-ha", "luci-mod-status-index"),
         ("luci-base", "luci-app-ha", "luci-app-ha-operate")),
    User("ha-viewer", "viewer-pass", ("unauthenticated", "luci-base", "luci-app-ha", "luci-mod-status-index")),
    User("ha-only", "only-pass", ("luci-app-ha",), ("luci-app-ha",)),
)


def require_components(luci: str) -> None:
    """Build (once) what the control plane needs; skips or, under CI=true, fails without sources."""
    vendor.require(*COMPONENTS, f"luci-{luci}")


def crypt_hash(password: str, salt: str) -> str:
    """A SHA-512 crypt hash as /etc/shadow holds them (glibc's libcrypt, as rpcd checks them)."""
    import ctypes

    libcrypt = ctypes.CDLL("libcrypt.so.1")
    libcrypt.crypt.restype = ctypes.c_char_p
    libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    return libcrypt.crypt(password.encode(), f"$6${salt}$".encode()).decode()


def salted_hash(user: User) -> str:
    return crypt_hash(user.password, user.name.replace("-", "")[:16])


def rpcd_config(users: tuple[User, ...] = USERS, system_users: tuple[str, ...] = ()) -> str:
    """/etc/config/rpcd: a login per user with its crypt hash, or for a name in `system_users`
    with `$p$NAME`, the system password from /etc/shadow (OpenWrt's own root login)."""
    text = f"config rpcd\n\toption socket '{SOCKET}'\n\toption timeout '{RPCD_TIMEOUT_S}'\n"
    for user in users:
        password = f"$p${user.name}" if user.name in system_users else salted_hash(user)
        text += f"\nconfig login\n\toption username '{user.name}'\n\toption password '{password}'\n"
        text += "".join(f"\tlist read '{group}'\n" for group in user.read)
        text += "".join(f"\tlist write '{group}'\n" for group in user.write)
    return text


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def install_rpcd_files(root: Path) -> None:
    """What rpcd and rpcd-mod-file install beside the program: its plugins and ACL files."""
    shutil.copytree(ROOTFS / "usr/lib/rpcd", root / "usr/lib/rpcd", dirs_exist_ok=True)
    shutil.copytree(ROOTFS / "usr/share/rpcd", root / "usr/share/rpcd", dirs_exist_ok=True)


def install_luci(root: Path, luci: str, init: bool) -> None:
    """LuCI's client side (luci-base, luci-mod-status, the bootstrap theme) and luci-app-ha, as
    luci.mk installs them (htdocs/ -> /www, root/ -> /), and the dispatcher stand-in at
    /www/cgi-bin/luci. `init`: with the packages' init scripts and uci-defaults (for a router
    whose procd runs them)."""
    tree = luci_tree(luci)
    shutil.copytree(tree / "www", root / "www", dirs_exist_ok=True)
    skip = () if init else ("uci-defaults", "init.d")
    shutil.copytree(tree / "root", root, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*skip))
    shutil.copytree(APP / "htdocs", root / "www", dirs_exist_ok=True)
    shutil.copytree(APP / "root", root, dirs_exist_ok=True)
    _copy(DISPATCHER, root / "www/cgi-bin/luci")
    (root / "www/cgi-bin/luci").chmod(0o755)


def install(root: Path, luci: str = "master") -> None:
    """Put OpenWrt's control plane, LuCI and luci-app-ha into a router tree, where OpenWrt's
    packages install them."""
    stage = vendor.STAGE
    _copy(stage / "sbin/ubusd", root / "usr/sbin/ubusd")
    _copy(stage / "bin/ubus", root / "usr/bin/ubus")
    _copy(stage / "bin/uci", root / "usr/bin/uci")
    _copy(stage / "bin/uhttpd", root / "usr/sbin/uhttpd")
    _copy(ROOTFS / "usr/sbin/rpcd", root / "usr/sbin/rpcd")
    install_rpcd_files(root)
    for library in LIBRARIES:
        _copy(stage / "lib" / library, root / "usr/lib" / library)
    install_luci(root, luci, init=False)
    (root / "etc/config/rpcd").write_text(rpcd_config())
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/ash\nnobody:*:65534:65534:nobody:/var:/bin/false\n"
                                     "ubus:*:81:81:ubus:/var/run/ubus:/bin/false\n")
    (root / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\nubus:x:81:ubus\n")
    for directory in ("var/run", "tmp", "root"):
        (root / directory).mkdir(parents=True, exist_ok=True)


MOUNT_SCRIPT = """
set -e
mount -t tmpfs -o mode=755 ha-router "$NEW"
mkdir -p "$NEW/usr" "$NEW/etc" "$NEW/var" "$NEW/tmp" "$NEW/www" "$NEW/root" "$NEW/dev" "$NEW/proc"
for d in bin sbin lib lib64; do ln -s "usr/$d" "$NEW/$d"; done
mkdir -p "$WORK"
mount -t overlay -o "lowerdir=/usr,upperdir=$ROOT/usr,workdir=$WORK" ha-usr "$NEW/usr"
for d in etc var tmp www root; do mount --bind "$ROOT/$d" "$NEW/$d"; done
mount --rbind /dev "$NEW/dev"
mount -t proc proc "$NEW/proc"
exec chroot "$NEW" /bin/sleep infinity
"""


@dataclass
class ControlPlane:
    """The daemons of one router. `http`: where uhttpd listens (None: no uhttpd, as on a router
    without LuCI); `script_timeout`: uhttpd's -t (60 on OpenWrt), also its /ubus call timeout."""

    root: Path
    namespace: str
    scratch: Path
    http: str | None = "0.0.0.0:80"
    script_timeout: int = 60
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self) -> None:
        for directory in ("new-root", "usr-work"):
            shutil.rmtree(self.scratch / directory, ignore_errors=True)
        (self.scratch / "new-root").mkdir(parents=True)
        env = {**os.environ, "ROOT": str(self.root), "NEW": str(self.scratch / "new-root"),
               "WORK": str(self.scratch / "usr-work")}
        self.processes["holder"] = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace, "unshare", "--mount", "--propagation", "private",
             "sh", "-c", MOUNT_SCRIPT], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait(lambda: os.path.exists(f"/proc/{self.holder_pid}/root/usr/sbin/ubusd"), "the router's mounts")
        (self.root / "var/run/ubus").mkdir(parents=True, exist_ok=True)
        self.spawn("ubusd", "/usr/sbin/ubusd", "-s", SOCKET)
        self._wait(lambda: (self.root / SOCKET.lstrip("/")).exists(), "ubusd's socket")
        self.start_rpcd()
        if self.http:
            self.start_uhttpd()

    def start_uhttpd(self) -> None:
        """With the options OpenWrt's /etc/init.d/uhttpd derives from its default /etc/config/uhttpd."""
        self.spawn("uhttpd", "/usr/sbin/uhttpd", "-f", "-h", "/www", "-r", "OpenWrt", "-x", "/cgi-bin",
                   "-u", "/ubus", "-U", SOCKET, "-t", str(self.script_timeout), "-T", "30", "-k", "20",
                   "-A", "1", "-n", "3", "-N", "100", "-p", self.http)
        host, port = self.http.rsplit(":", 1)
        probe = f"import socket; socket.create_connection(({host!r}, {port}), 1).close()"
        self._wait(lambda: subprocess.run(["ip", "netns", "exec", self.namespace, sys.executable, "-c", probe],
                                          capture_output=True).returncode == 0, "uhttpd listening")

    def start_rpcd(self) -> None:
        self.spawn("rpcd", "/usr/sbin/rpcd", "-s", SOCKET, "-t", str(RPCD_TIMEOUT_S))
        self._wait(lambda: "session" in self.ubus("list").stdout.split(), "rpcd's session object")

    @property
    def holder_pid(self) -> int:
        return self.processes["holder"].pid

    def command(self, *argv: str) -> list[str]:
        """argv run as a process of this router: its namespaces and its `/`."""
        return ["nsenter", "-t", str(self.holder_pid), "-m", "-n", "-r", "-w", "--", *argv]

    def spawn(self, name: str, *argv: str) -> subprocess.Popen:
        log = open(self.scratch / f"{name}.log", "ab")
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}
        self.processes[name] = subprocess.Popen(self.command(*argv), stdout=log, stderr=log, env=env)
        log.close()
        return self.processes[name]

    def stop_process(self, name: str) -> None:
        proc = self.processes.pop(name, None)
        if proc is not None:
            netns.kill_pid(proc.pid, timeout=5)
            proc.wait()

    def stop(self) -> None:
        for name in [n for n in self.processes if n != "holder"]:
            self.stop_process(name)
        self.stop_process("holder")  # the last process of the mount namespace: its mounts go with it
        shutil.rmtree(self.scratch / "usr-work", ignore_errors=True)

    def run(self, *argv: str, input: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*argv), capture_output=True, text=True, input=input, timeout=timeout,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"})

    def ubus(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return self.run("/usr/bin/ubus", "-s", SOCKET, *args, timeout=timeout)

    def call(self, obj: str, method: str, args: dict | None = None) -> dict:
        """`ubus call` as root on the router (no ACL applies); raises on a ubus error."""
        result = self.ubus("call", obj, method, json.dumps(args or {}))
        if result.returncode != 0:
            raise RuntimeError(f"ubus call {obj} {method}: exit {result.returncode} {result.stderr.strip()}")
        return json.loads(result.stdout or "{}")

    def wait_object(self, name: str, timeout: float = 15) -> None:
        self._wait(lambda: name in self.ubus("list").stdout.split(), f"ubus object {name}", timeout)

    def _wait(self, condition, what: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited {proc.returncode} while waiting for {what}: "
                                       f"{self.log(name)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(0.02)

    def log(self, name: str) -> str:
        if name == "holder" and self.processes.get("holder") and self.processes["holder"].stderr:
            return self.processes["holder"].stderr.read().decode(errors="replace")[-2000:]
        try:
            return (self.scratch / f"{name}.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

