"""The validated configuration of one node: frozen values, built only by validate.build_model().

Renderers take this and nothing else, so whatever they emit was checked first.
"""

from __future__ import annotations

import ipaddress
from ..record import record, field

from ..paths import Paths

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@record(frozen=True)
class Node:
    enabled: bool
    role: str  # primary | secondary
    name: str
    priority: int
    vrrp_version: int
    advert_centis: int  # advert interval in centiseconds (VRRPv3 resolution)
    preempt: bool
    preempt_delay: int
    initial_state: str  # backup | master
    unicast: bool
    auth_type: str  # none | pass
    auth_pass: str | None = field(default=None, repr=False)  # a secret: never printed
    peer: ipaddress.IPv4Address | None = None
    sync_interface: str | None = None
    sync_device: str | None = None
    sync_address: ipaddress.IPv4Interface | None = None
    split_brain: str = "report"  # report | secondary_steps_down
    split_brain_recheck: int = 60  # seconds a secondary that stepped down stays out
    config_sync: str = "manual"  # manual | push (the primary pushes the shared part on reload)
    realtime: bool = False  # keepalived's VRRP process: real-time scheduling, memory locked


@record(frozen=True)
class Vip:
    name: str  # the vrrp_instance name
    interface: str  # OpenWrt logical interface
    device: str  # Linux device
    vrid: int
    addresses: tuple[IPInterface, ...]
    virtual_routes: tuple[str, ...] = ()
    virtual_rules: tuple[str, ...] = ()
    use_vmac: bool = False
    unicast_src: IPAddress | None = None
    unicast_peer: IPAddress | None = None
    track_ports: tuple[str, ...] = ()  # bridge ports whose carrier loss puts the instance in FAULT

    @property
    def family(self) -> int:
        """The instance's address family: the first address's (IPv4 first when both)."""
        versions = {a.version for a in self.addresses}
        return 4 if 4 in versions else 6

    @property
    def advertised(self) -> tuple[IPInterface, ...]:
        return tuple(a for a in self.addresses if a.version == self.family)

    @property
    def link_local(self) -> ipaddress.IPv6Interface | None:
        """The first IPv6 link-local address (e.g. fe80::1): the router address IPv6 clients use."""
        return next((a for a in self.addresses if a.version == 6 and a.ip.is_link_local), None)

    @property
    def excluded(self) -> tuple[IPInterface, ...]:
        """Addresses of the other family: moved with the instance, not advertised."""
        return tuple(a for a in self.addresses if a.version != self.family)


@record(frozen=True)
class Check:
    name: str  # the vrrp_script / tracker name
    kind: str  # ping | script | interface
    interval: int
    timeout: int
    fall: int
    rise: int
    failure: str  # weight | fault
    weight: int
    target: IPAddress | None = None
    script: str | None = None
    interface: str | None = None
    device: str | None = None


@record(frozen=True)
class ConntrackSync:
    enabled: bool
    mode: str  # ftfw | notrack | alarm
    transport: str  # unicast | multicast
    multicast_group: ipaddress.IPv4Address
    port: int
    disable_external_cache: bool
    ignore: tuple[IPNetwork, ...]  # everything whose own traffic is not synced
    protocols: tuple[str, ...] = ()  # ha.conntrack.protocol names to sync, in schema order; () = all


@record(frozen=True)
class DhcpSection:
    """A /etc/config/dhcp section that ha-pair manages, with the VIP it hands out."""

    section: str
    interface: str
    gateway: ipaddress.IPv4Address


@record(frozen=True)
class Dhcp:
    managed: bool
    sections: tuple[DhcpSection, ...]
    lease_sync: bool
    reconcile_interval: int
    ssh_port: int


@record(frozen=True)
class SingleWan:
    """One dynamic public IP shared by both routers (config/single_wan.py)."""

    wan: str  # logical interface with the shared DHCP address
    wan_device: str | None
    lan: str  # the LAN VIP's logical interface: the backup's way out, through the master
    lan_vip: ipaddress.IPv4Address


@record(frozen=True)
class Model:
    node: Node
    vips: tuple[Vip, ...]
    checks: tuple[Check, ...]
    conntrack: ConntrackSync
    dhcp: Dhcp
    paths: Paths
    digest: str  # of the validated configuration, secrets left out
    shared_digest: str = ""  # of its shared part (config/shared.py): equal on both nodes of a pair
    single_wan: "SingleWan | None" = None  # ha.global.single_wan_ip: the one-dynamic-IP mode

    @property
    def sync_group(self) -> bool:
        """keepalived warns about a one-member group, so only two or more instances get one."""
        return len(self.vips) > 1
