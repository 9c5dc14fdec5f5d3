"""DHCP clients in the lab's client namespace: busybox udhcpc, one per client identity.

Each simulated client has its own client-id (option 61): dnsmasq keys leases by it, so one
namespace can hold many clients. The udhcpc script records what the client was given.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.lab import netns

# Like a real client, the leased address goes on the interface (udhcpc sends its RELEASE from
# it); the namespace's static address stays for the other tests.
SCRIPT = """#!/bin/sh
case "$1" in
    bound|renew)
        ip addr replace "$ip/${{mask:-24}}" dev "$interface"
        {{ echo "ip=$ip"; echo "router=$router"; echo "dns=$dns"; echo "serverid=$serverid"; }} > {out}.tmp
        mv {out}.tmp {out} ;;
    deconfig)
        [ -f {out} ] && ip addr del "$(sed -n 's/^ip=//p' {out})/${{mask:-24}}" dev "$interface" 2>/dev/null ;;
esac
exit 0
"""


@dataclass
class Client:
    ns: str
    workdir: Path
    client_id: str  # hex, e.g. "01aabbccddee01"
    hostname: str | None = None
    process: subprocess.Popen | None = None

    @property
    def result_path(self) -> Path:
        return self.workdir / f"lease-{self.client_id}"

    def _script(self) -> str:
        path = self.workdir / f"udhcpc-{self.client_id}.sh"
        path.write_text(SCRIPT.format(out=self.result_path))
        path.chmod(0o755)
        return str(path)

    def _argv(self, requested: str | None, foreground_release: bool) -> list[str]:
        argv = ["udhcpc", "-f", "-i", "eth0", "-s", self._script(), "-t", "6", "-T", "2", "-A", "1", "-C",
                "-x", f"0x3d:{self.client_id}"]
        if self.hostname is not None:
            argv += ["-x", f"hostname:{self.hostname}"]
        if requested:
            argv += ["-r", requested]
        argv += ["-R"] if foreground_release else ["-q", "-n"]
        return argv

    def lease(self, requested: str | None = None, timeout: float = 60) -> dict[str, str]:
        """Get a lease and exit (no RELEASE): what the client was given, {} if nothing."""
        self.result_path.unlink(missing_ok=True)
        netns.ns_run(self.ns, *self._argv(requested, False), check=False, timeout=timeout)
        return self.result()

    def hold(self, timeout: float = 60) -> dict[str, str]:
        """Get a lease and keep running (udhcpc -R releases it when stopped)."""
        self.result_path.unlink(missing_ok=True)
        self.process = netns.spawn(self.ns, self._argv(None, True))
        deadline = time.monotonic() + timeout
        while not self.result_path.exists():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"client {self.client_id} got no lease")
            time.sleep(0.05)
        return self.result()

    def release(self) -> None:
        """SIGTERM to a held udhcpc: with -R it sends DHCPRELEASE before exiting."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(10)
            netns.kill_pid(self.process.pid)
            self.process = None

    def result(self) -> dict[str, str]:
        try:
            return dict(line.split("=", 1) for line in self.result_path.read_text().splitlines() if "=" in line)
        except OSError:
            return {}


def client(ns: str, workdir: Path, number: int, hostname: str | None = None) -> Client:
    return Client(ns, workdir, f"ff{number:08x}", hostname)
