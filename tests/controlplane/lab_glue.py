"""The control plane on the two-router lab as it is today (tests/lab: host programs with a --root
tree per router, procd played by mini_procd). All that is specific to those stand-in routers is
here, so that it is easy to drop when the lab's routers run OpenWrt's procd:

- each router gets ubusd and rpcd (r1 also uhttpd on its LAN address) from tests/controlplane/stack;
  the lab booted its agent before libubus was in the tree, so the agent is restarted once (killed,
  mini_procd respawns it) and then finds libubus in the tree and ubusd at /var/run/ubus/ubus.sock;
- procd's part in LuCI's Save & Apply is played by `ServiceTrigger`: the ubus object `service`
  whose `event` method rpcd calls after `uci apply` ({"type": "config.change", "data":
  {"package": "ha"}}); for the ha package it asks the lab's mini_procd to reload ha-pair
  (its SIGHUP = `/etc/init.d/ha-pair reload`), as procd's reload trigger would.
With procd (issue 10): install() stays, procd starts ubusd/rpcd/uhttpd and owns `service`.
"""

from __future__ import annotations

import os
import selectors
import signal
import threading
from pathlib import Path

from tests.controlplane import stack
from tests.support import pair


class ServiceTrigger:
    """procd's `service event` for config changes, on one router's ubusd."""

    def __init__(self, socket: Path, reload_ha_pair) -> None:
        from ha_pair.ubus import UbusConnection

        self.reload_ha_pair = reload_ha_pair
        self.events: list[dict] = []
        self.connection = UbusConnection(str(socket))
        self.connection.add_object("service", {"event": self.event})
        self._stop_read, self._stop_write = os.pipe()
        self._thread = threading.Thread(target=self._pump, name="service-trigger", daemon=True)
        self._thread.start()

    def event(self, args: dict) -> dict:
        self.events.append(args)
        if args.get("type") == "config.change" and (args.get("data") or {}).get("package") == "ha":
            self.reload_ha_pair()
        return {}

    def _pump(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.connection.fileno(), selectors.EVENT_READ)
            selector.register(self._stop_read, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fd == self._stop_read:
                        return
                    self.connection.handle_readable()

    def close(self) -> None:
        os.write(self._stop_write, b"x")
        self._thread.join(5)
        self.connection.close()
        os.close(self._stop_read)
        os.close(self._stop_write)


class LabControlPlane:
    def __init__(self, lab, luci: str = "master") -> None:
        self.lab = lab
        self.luci = luci
        self.planes: dict[str, stack.ControlPlane] = {}
        self.triggers: dict[str, ServiceTrigger] = {}

    @property
    def base(self) -> str:
        """Where a LAN client reaches r1's LuCI."""
        return f"http://{pair.ROUTERS['r1']['lan']}"

    def start(self) -> "LabControlPlane":
        for name, router in self.lab.routers.items():
            stack.install(router.root, self.luci)
            http = f"{pair.ROUTERS[name]['lan']}:80" if name == "r1" else None
            plane = stack.ControlPlane(router.root, router.namespace, self.lab.dir / f"control-{name}", http=http)
            plane.start()
            self.planes[name] = plane
            self.triggers[name] = ServiceTrigger(router.root / stack.SOCKET.lstrip("/"),
                                                 lambda r=router: os.kill(r.procd.pid, signal.SIGHUP))
            os.kill(router.instance_pid("agent"), signal.SIGTERM)  # respawned with libubus in the tree
        for plane in self.planes.values():
            plane.wait_object("ha", timeout=30)
        return self

    def stop(self) -> None:
        for trigger in self.triggers.values():
            trigger.close()
        for plane in self.planes.values():
            plane.stop()
        self.triggers.clear()
        self.planes.clear()
