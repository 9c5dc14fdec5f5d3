"""Every file ha-pair touches, under one root prefix.

On a router the root is `/`. Tests and the lab give each router its own directory
(`--root DIR`), so two routers' files never mix and nothing needs to run as a real router.
"""

from __future__ import annotations

import os
from .fspath import FsPath


class Paths:
    """Immutable; a plain class rather than a dataclass so that `ha-pair status` starts without
    importing dataclasses (and inspect) on a small router."""

    __slots__ = ("root",)

    def __init__(self, root: str = "/") -> None:
        object.__setattr__(self, "root", FsPath(os.fspath(root)))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Paths is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Paths) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)

    def __repr__(self) -> str:
        return f"Paths(root={self.root!r})"

    def under(self, absolute: str) -> FsPath:
        """A router path (`/etc/config/ha`) inside this root."""
        return self.root / absolute.lstrip("/")

    def config(self, package: str) -> FsPath:
        return self.under(f"/etc/config/{package}")

    @property
    def generated_dir(self) -> FsPath:  # tmpfs on OpenWrt: regenerated at every start
        return self.under("/var/etc/ha-pair")

    @property
    def run_dir(self) -> FsPath:
        return self.under("/var/run/ha-pair")

    @property
    def state_dir(self) -> FsPath:  # kept across sysupgrade: keys, pinned host keys, undo records
        return self.under("/etc/ha-pair")

    @property
    def libexec_dir(self) -> FsPath:
        return self.under("/usr/libexec/ha-pair")

    @property
    def keepalived_conf(self) -> FsPath:
        return self.generated_dir / "keepalived.conf"

    @property
    def conntrackd_conf(self) -> FsPath:
        return self.generated_dir / "conntrackd.conf"

    @property
    def dhcp_guard(self) -> FsPath:
        return self.generated_dir / "dhcp-guard.nft"

    @property
    def notify_fifo(self) -> FsPath:
        return self.run_dir / "notify.fifo"

    @property
    def notify_script(self) -> FsPath:
        return self.libexec_dir / "notify"

    @property
    def check_helper(self) -> FsPath:
        return self.libexec_dir / "check"

    @property
    def control_socket(self) -> FsPath:
        return self.run_dir / "agent.sock"

    @property
    def history(self) -> FsPath:
        return self.run_dir / "history.json"

    @property
    def state_file(self) -> FsPath:  # written by the notify script: master|backup|fault|stop
        return self.run_dir / "state"

    @property
    def transitions_log(self) -> FsPath:  # appended by the notify script
        return self.run_dir / "transitions.log"

    @property
    def checks_dir(self) -> FsPath:  # one result file per health check, written by the check helper
        return self.run_dir / "checks"

    @property
    def conntrackd_lock(self) -> FsPath:
        return self.run_dir / "conntrackd.lock"

    @property
    def conntrackd_socket(self) -> FsPath:
        return self.run_dir / "conntrackd.ctl"

    @property
    def ubus_socket(self) -> FsPath:  # ubusd's socket on OpenWrt (libubus's compiled-in default)
        return self.under("/var/run/ubus/ubus.sock")

    @property
    def dhcp_record(self) -> FsPath:
        return self.state_dir / "dhcp-applied.json"
