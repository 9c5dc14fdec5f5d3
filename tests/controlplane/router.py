"""One test router on its own: a network namespace with r1's links and addresses, r1's file tree
(the package's files, /etc/config from tests/support/pair.py) and the control plane with the
ha-pair agent running inside, as procd would start it. No keepalived: VRRP states are fed to the
agent's notify FIFO the way keepalived's notify lines arrive (the two-router lab has the real ones).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from tests.controlplane import stack
from tests.lab import netns
from tests.lab.topology import DEFAULT_PREFIX
from tests.support import pair, tree

NAMESPACE = f"{DEFAULT_PREFIX}cp"
BASE = "http://127.0.0.1"


class StandaloneRouter:
    def __init__(self, luci: str = "master", script_timeout: int = 60) -> None:
        self.luci = luci
        self.dir = Path(tempfile.mkdtemp(prefix="ha-pair-cp."))
        self.root = tree.make_tree(self.dir / "r1", pair.configs("r1"))
        self.namespace = NAMESPACE
        self.cp = stack.ControlPlane(self.root, self.namespace, self.dir / "scratch", http="127.0.0.1:80",
                                     script_timeout=script_timeout)

    def start(self) -> "StandaloneRouter":
        stack.install(self.root, self.luci)
        netns.del_ns(self.namespace)
        netns.add_ns(self.namespace)
        r1 = pair.ROUTERS["r1"]
        for device, peer, address in (("lan1", "lan1-far", None), ("eth1", "eth1-far", f"{r1['wan']}/24"),
                                      ("eth2", "eth2-far", f"{r1['sync']}/30")):
            netns.veth(self.namespace, device, self.namespace, peer)
            if address:
                netns.addr_add(self.namespace, device, address)
        netns.bridge(self.namespace, "br-lan")
        netns.enslave(self.namespace, "lan1", "br-lan")
        netns.addr_add(self.namespace, "br-lan", f"{r1['lan']}/24")
        self.cp.start()
        self.start_agent()
        return self

    def start_agent(self) -> None:
        self.cp.spawn("agent", "/usr/sbin/ha-pair", "agent")
        self.cp.wait_object("ha")

    def stop_agent(self) -> None:
        self.cp.stop_process("agent")

    def feed(self, text: str) -> None:
        """keepalived's notify lines, as its notify_fifo delivers them."""
        fd = os.open(self.root / "var/run/ha-pair/notify.fifo", os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)

    def wait_state(self, state: str, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            status = self.cp.call("ha", "status")
            if status.get("state") == state:
                return status
            assert time.monotonic() < deadline, f"no {state} state: {status.get('state')}"
            time.sleep(0.05)

    def stop(self) -> None:
        try:
            self.cp.stop()
            for pid in netns.ns_pids(self.namespace):
                netns.kill_pid(pid, timeout=2)
        finally:
            netns.del_ns(self.namespace)
            shutil.rmtree(self.dir, ignore_errors=True)
