"""Every file ha-pair touches, under one root prefix.

On a router the root is `/`. Tests and the lab give each router its own directory
(`--root DIR`), so two routers' files never mix and nothing needs to run as a real router.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    root: Path = Path("/")

    def under(self, absolute: str) -> Path:
        """A router path (`/etc/config/ha`) inside this root."""
        return self.root / absolute.lstrip("/")

    def config(self, package: str) -> Path:
        return self.under(f"/etc/config/{package}")

    @property
    def generated_dir(self) -> Path:  # tmpfs on OpenWrt: regenerated at every start
        return self.under("/var/etc/ha-pair")

    @property
    def run_dir(self) -> Path:
        return self.under("/var/run/ha-pair")

    @property
    def state_dir(self) -> Path:  # kept across sysupgrade: keys, pinned host keys, undo records
        return self.under("/etc/ha-pair")

    @property
    def libexec_dir(self) -> Path:
        return self.under("/usr/libexec/ha-pair")

    @property
    def keepalived_conf(self) -> Path:
        return self.generated_dir / "keepalived.conf"

    @property
    def conntrackd_conf(self) -> Path:
        return self.generated_dir / "conntrackd.conf"

    @property
    def dhcp_guard(self) -> Path:
        return self.generated_dir / "dhcp-guard.nft"

    @property
    def notify_fifo(self) -> Path:
        return self.run_dir / "notify.fifo"

    @property
    def notify_script(self) -> Path:
        return self.libexec_dir / "notify"

    @property
    def check_helper(self) -> Path:
        return self.libexec_dir / "check"

    @property
    def control_socket(self) -> Path:
        return self.run_dir / "agent.sock"

    @property
    def history(self) -> Path:
        return self.run_dir / "history.json"

    @property
    def state_file(self) -> Path:  # written by the notify script: master|backup|fault|stop
        return self.run_dir / "state"

    @property
    def transitions_log(self) -> Path:  # appended by the notify script
        return self.run_dir / "transitions.log"

    @property
    def checks_dir(self) -> Path:  # one result file per health check, written by the check helper
        return self.run_dir / "checks"

    @property
    def conntrackd_lock(self) -> Path:
        return self.run_dir / "conntrackd.lock"

    @property
    def conntrackd_socket(self) -> Path:
        return self.run_dir / "conntrackd.ctl"

    @property
    def dhcp_record(self) -> Path:
        return self.state_dir / "dhcp-applied.json"
