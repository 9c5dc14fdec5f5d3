"""The /etc/config/ha schema: every section type and option, its type, typed default and meaning.

This table is the one source for: reading values (types, ranges and defaults: validate.py reads
them), warning about unknown options, the configuration reference in README.md (reference.py), the
LuCI form's defaults, choices and ranges (luci_form.py generates luci-app-ha's ha/schema.js), and
tests keep all of them in step with it.
"""

from __future__ import annotations

import ipaddress
from ..record import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any

# Kinds understood by values.read_option(); "list" options may repeat. A default is a value of what
# values.convert() returns for its kind: bool, int, str (enum, string, path), an ipaddress object,
# and for "seconds" (decimal seconds with at most two decimals) whole centiseconds.
BOOL, INT, SECONDS, ENUM, IPV4, IP, CIDR, STRING, PATH = (
    "bool", "int", "seconds", "enum", "ipv4", "ip", "cidr", "string", "path",
)


@record(frozen=True)
class When:
    """A default that follows other options of the section: `value` where each option named in
    `match` has the (typed, effective) value given there."""

    match: tuple[tuple[str, Any], ...]
    value: Any


def when(value: Any, **match: Any) -> When:
    return When(tuple(match.items()), value)


@record(frozen=True)
class Option:
    name: str
    kind: str
    default: Any  # typed (see the kinds above); None: no default (required, or unset means off)
    doc: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    is_list: bool = False
    secret: bool = False
    grammar: str = "plain_text"  # string kinds: the rule in grammar.py for where the value lands
    cases: tuple[When, ...] = ()  # defaults that follow other options, first match wins; else `default`
    derived: str | None = None  # a default found elsewhere (another file, the interface), in words

    def default_in(self, section: dict[str, Any]) -> Any:
        """The default where the section's options have the effective values in `section`."""
        for case in self.cases:
            if all(section.get(name) == value for name, value in case.match):
                return case.value
        return self.default


@record(frozen=True)
class SectionType:
    type: str
    doc: str
    options: tuple[Option, ...]
    single: bool  # at most one section of this type

    def option(self, name: str) -> Option | None:
        for option in self.options:
            if option.name == name:
                return option
        return None

    def __getitem__(self, name: str) -> Option:
        option = self.option(name)
        if option is None:
            raise KeyError(f"{self.type} has no option {name!r}")
        return option


GLOBAL = SectionType(
    "global",
    "The node and the pair: one section, named `global`.",
    (
        Option("enabled", BOOL, False, "Run ha-pair on this node. Shipped disabled."),
        Option("role", ENUM, "primary", "This node's role; sets the default priority.",
               choices=("primary", "secondary")),
        Option("priority", INT, 150, "VRRP priority; the default follows the role.",
               minimum=1, maximum=254, cases=(when(100, role="secondary"),)),
        Option("node_name", STRING, None,
               "Name of this node (keepalived router_id); default the hostname from /etc/config/system, "
               "else `ha-` and the role.",
               grammar="router_id", derived="hostname"),
        Option("peer", IPV4, None,
               "The peer's IPv4 address on the sync link (conntrack sync, lease sync)."),
        Option("sync_interface", STRING, None,
               "OpenWrt logical interface of the dedicated link to the peer, e.g. `sync`.",
               grammar="uci_name"),
        Option("single_wan_ip", STRING, None,
               "One dynamic public IP: the OpenWrt logical interface (e.g. `wan`) on which both routers "
               "get the same DHCP address (same MAC); only the master routes through it, the backup through "
               "the master. `ha-pair check` says what /etc/config/network needs, `ha-pair show` prints it.",
               grammar="uci_name"),
        Option("profile", ENUM, "default",
               "`default`: VRRPv2, 1 s adverts (takeover ≈ 3.6 s). `fast`: VRRPv3, 0.1 s adverts "
               "(takeover ≈ 0.35 s). `fastest`: VRRPv3, 0.04 s adverts (takeover ≈ 0.17 s). Explicit "
               "vrrp_version/advert_int win over the profile.",
               choices=("default", "fast", "fastest")),
        Option("vrrp_version", ENUM, "2", "VRRP protocol version.", choices=("2", "3"),
               cases=(when("3", profile="fast"), when("3", profile="fastest"))),
        Option("advert_int", SECONDS, 100,
               "Seconds between adverts. Below 1 s needs VRRPv3 (centisecond steps).",
               minimum=0.01, maximum=255, cases=(when(10, profile="fast", vrrp_version="3"),
                                                 when(4, profile="fastest", vrrp_version="3"))),
        Option("realtime", BOOL, False,
               "keepalived's VRRP process runs with real-time scheduling and its memory locked "
               "(`vrrp_rt_priority`, `vrrp_no_swap`), so that a busy router (CPU, process or memory "
               "bursts) does not send its adverts late, which the peer takes for a failure when adverts "
               "are short. On by default with profile fast and fastest.",
               cases=(when(True, profile="fast"), when(True, profile="fastest"))),
        Option("preempt", BOOL, True,
               "The higher priority node takes mastership back when it returns."),
        Option("preempt_delay", INT, 0,
               "Seconds a returning higher-priority node waits, once it hears the peer, before taking "
               "over. With profile fast and fastest it is 2: a margin for conntrackd's resync after the "
               "sync gate has let the node in (a starting node stays in FAULT until it holds the peer's "
               "connections, see Failover).",
               minimum=0, maximum=1000, cases=(when(2, profile="fast"), when(2, profile="fastest"))),
        Option("initial_state", ENUM, "backup",
               "State keepalived starts in. `backup` on both nodes is the robust choice; "
               "`master` cannot be combined with preempt 0.",
               choices=("backup", "master")),
        Option("unicast", BOOL, False,
               "Send VRRP adverts by unicast to each VIP's `unicast_peer` instead of multicast."),
        Option("auth_type", ENUM, "none",
               "VRRP authentication. `pass` is clear text, VRRPv2 only, at most 8 characters.",
               choices=("none", "pass")),
        Option("auth_pass", STRING, None, "Password for auth_type pass (1-8 bytes, printable ASCII).",
               secret=True, grammar="password"),
        Option("split_brain", ENUM, "report",
               "What a split brain (both nodes master, told over the sync link) does besides status, log and "
               "the `split_brain` hook: `report` nothing more; `secondary_steps_down`: the secondary goes to "
               "FAULT and tries mastership again after `split_brain_recheck` seconds, or at once when the peer "
               "stops being master or cannot be asked.",
               choices=("report", "secondary_steps_down")),
        Option("config_sync", ENUM, "manual",
               "`push`: the primary sends the shared part of /etc/config/ha to the peer whenever ha-pair "
               "reloads with a changed one (Save & Apply, `reload_config`, `/etc/init.d/ha-pair reload`), as "
               "`ha-pair config-sync` does; `manual`: only that command sends it.",
               choices=("manual", "push")),
        Option("split_brain_recheck", INT, 60,
               "With split_brain secondary_steps_down: seconds the secondary stays out before it tries "
               "again (a split brain still there makes it master until it is confirmed again: 1.6-2.0 s in the lab).",
               minimum=5, maximum=3600),
    ),
    single=True,
)

VIP = SectionType(
    "vip",
    "One virtual IP group: one VRRP instance on one interface. All vip sections move together.",
    (
        Option("interface", STRING, None, "OpenWrt logical interface (`lan`, `wan`, ...).",
               grammar="uci_name"),
        Option("vrid", INT, None, "VRRP virtual router id, unique per interface (1-255).",
               minimum=1, maximum=255),
        Option("address", CIDR, None,
               "Virtual address with prefix, IPv4 or IPv6 (IPv6 needs VRRPv3); repeatable. A link-local one "
               "(e.g. fe80::1, /64 if no prefix) on a LAN VIP makes it the LAN's IPv6 router (see IPv6 on the LAN).",
               is_list=True),
        Option("unicast_peer", IP, None,
               "With unicast: the peer's address on this interface."),
        Option("unicast_src", IP, None,
               "With unicast: this node's source address; default its static address on the interface.",
               derived="interface address"),
        Option("virtual_routes", STRING, None,
               "Route added on the master, keepalived syntax (e.g. `0.0.0.0/0 via 192.0.2.1 dev eth1`); repeatable.",
               is_list=True, grammar="keepalived_words"),
        Option("virtual_rules", STRING, None,
               "Policy rule added on the master, keepalived syntax "
               "(single dynamic WAN IP recipe: `to all lookup 250 priority 32770`); repeatable.",
               is_list=True, grammar="keepalived_words"),
        Option("use_vmac", BOOL, False,
               "Put the addresses on a macvlan with the VRRP virtual MAC (switches see no MAC move)."),
        Option("track_port", STRING, None,
               "A port of the interface's bridge whose link this node needs (e.g. the uplink to the LAN "
               "switch, `lan1`): when it loses carrier this node gives up mastership at once, even while "
               "other ports keep the bridge up; repeatable. Default: the bridge's port when it has "
               "exactly one (its carrier is seen sooner than the bridge's), none otherwise.",
               is_list=True, grammar="interface_name", derived="the bridge's only port"),
    ),
    single=False,
)

CHECK = SectionType(
    "check",
    "A health check. A failing check makes this node give up mastership.",
    (
        Option("type", ENUM, None,
               "`ping`: a target answers ping; `script`: an executable exits 0; "
               "`interface`: an interface's link is up.",
               choices=("ping", "script", "interface")),
        Option("target", IP, None, "ping: address to ping."),
        Option("script", PATH, None, "script: absolute path of an executable, run with no arguments.",
               grammar="script_path"),
        Option("interface", STRING, None, "interface: OpenWrt logical interface to track.",
               grammar="uci_name"),
        Option("interval", INT, 2, "Seconds between checks (ping, script).", minimum=1, maximum=3600),
        Option("timeout", INT, 1, "Seconds a ping or script may take.", minimum=1, maximum=3600),
        Option("fall", INT, 3, "Failures in a row that mark the check down.", minimum=1, maximum=255),
        Option("rise", INT, 2, "Successes in a row that mark it up again.", minimum=1, maximum=255),
        Option("failure", ENUM, "weight",
               "`weight`: lower this node's priority by `weight`, so the peer takes over while it is "
               "healthy; `fault`: enter FAULT (no mastership even if the peer is also failing).",
               choices=("weight", "fault")),
        Option("weight", INT, -60, "Priority change while the check is down (failure weight).",
               minimum=-253, maximum=253),
    ),
    single=False,
)

# What conntrackd can sync, as ha.conntrack.protocol names them (the renderer maps them to the
# names conntrackd looks up in /etc/protocols)
CONNTRACK_PROTOCOLS = ("tcp", "sctp", "dccp", "udp", "icmp", "icmpv6")

CONNTRACK = SectionType(
    "conntrack",
    "Connection tracking state sync with conntrackd over the sync link: one section, `conntrack`.",
    (
        Option("enabled", BOOL, True, "Sync connection (and NAT) state to the peer."),
        Option("mode", ENUM, "ftfw", "conntrackd sync mode: `ftfw` (reliable), `notrack`, `alarm`.",
               choices=("ftfw", "notrack", "alarm")),
        Option("transport", ENUM, "unicast",
               "`unicast`: UDP to the peer address; `multicast`: UDP multicast on the sync link.",
               choices=("unicast", "multicast")),
        Option("multicast_group", IPV4, ipaddress.IPv4Address("225.0.0.50"),
               "Multicast group for transport multicast."),
        Option("port", INT, 3780, "UDP port of the sync traffic.", minimum=1, maximum=65535),
        Option("disable_external_cache", BOOL, True,
               "1: the peer's connections are injected into this node's kernel as they happen, so a "
               "takeover needs no commit and no packet meets a node without state (measured: 0 TCP resets "
               "where committing at takeover sent ~20 per handover). 0: keep them in conntrackd's cache and "
               "commit at takeover (the classic primary-backup.sh way). With mode alarm it is 0: conntrackd "
               "does not support it there.",
               cases=(when(False, mode="alarm"),)),
        Option("ignore_address", CIDR, None,
               "More addresses or networks whose own traffic is not synced (own, peer, VIP and sync "
               "link addresses are always ignored); repeatable.",
               is_list=True),
        Option("protocol", ENUM, None,
               "Sync only connections of these protocols (conntrackd's `Protocol Accept`, VyOS "
               "`accept-protocol`); repeatable. Default: all of them. A connection of a protocol left "
               "out does not survive a failover.",
               choices=CONNTRACK_PROTOCOLS, is_list=True),
    ),
    single=True,
)

DHCP = SectionType(
    "dhcp",
    "How ha-pair treats dnsmasq's DHCP: one section, `dhcp`.",
    (
        Option("managed", BOOL, True,
               "Give clients the VIP as gateway (option 3) and DNS server (option 6) and set `force` "
               "in the managed /etc/config/dhcp sections. Turning it off undoes exactly those changes."),
        Option("section", STRING, None,
               "Name of a `dhcp` section in /etc/config/dhcp to manage; repeatable. Default: every "
               "dhcp section whose interface carries an IPv4 VIP.",
               is_list=True, grammar="uci_section_ref", derived="all with a VIP"),
        Option("lease_sync", BOOL, True, "Synchronise DHCP leases with the peer over SSH (pair the routers "
               "first: `ha-pair keys`, `ha-pair trust-peer`)."),
        Option("reconcile_interval", INT, 60,
               "Seconds between full lease exchanges, on top of the exchange at every lease change.",
               minimum=5, maximum=3600),
        Option("ssh_port", INT, 22, "The peer's SSH port on the sync link.", minimum=1, maximum=65535),
    ),
    single=True,
)

SECTION_TYPES: dict[str, SectionType] = {s.type: s for s in (GLOBAL, VIP, CHECK, CONNTRACK, DHCP)}
