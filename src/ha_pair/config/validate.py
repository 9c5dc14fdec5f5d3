"""Build the frozen Model from the UCI packages, reporting every problem at once.

Rules enforced here (each error names its UCI path, e.g. `ha.lan.vrid`):
types and ranges from the schema; VRID unique per device; priority 1-254; VIP inside the
interface's known subnet and not an own address; advert interval > 0, whole seconds with
VRRPv2, centiseconds up to 40.95 s with VRRPv3; IPv6 VIPs need VRRPv3; PASS only with VRRPv2
and at most 8 bytes; peer not an own address and inside the sync subnet; known
interfaces; health-check scripts that exist and are executable; preempt delay 0-1000;
preempt 0 (nopreempt) not with initial_state master; managed DHCP sections that exist and
serve an interface with an IPv4 VIP; every value that lands in a generated file or on a command
line (from ha, network and system alike) fits the grammar of where it lands (grammar.py), and
no two sections are rendered under one name. Unknown sections and options are warnings.
"""

from __future__ import annotations

import ipaddress

from .. import leanjson
from ..record import record, replace

from ..paths import Paths
from ..sha256 import sha256
from ..uci import Package, Section
from . import grammar, schema, single_wan
from .model import Check, ConntrackSync, Dhcp, DhcpSection, IPNetwork, Model, Node, SingleWan, Vip
from .network import Interface, resolve
from .shared import shared_digest
from .values import Problem, Reader, format_centiseconds

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Callable

VRRP3_MAX_ADVERT = 4095  # 12 bits of centiseconds


@record(frozen=True)
class Inputs:
    ha: Package
    network: Package | None = None
    dhcp: Package | None = None
    system: Package | None = None


@record(frozen=True)
class Result:
    model: Model | None
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return self.model is not None


def build_model(inputs: Inputs, paths: Paths, is_executable: Callable[[str], bool]) -> Result:
    """The one way to get a Model. `is_executable` answers for router paths (under the root)."""
    reader = Reader(inputs.ha)
    interfaces = resolve(inputs.network) if inputs.network is not None else {}
    if inputs.network is None:
        reader.warnings.append(Problem("network", "no /etc/config/network: interfaces cannot be resolved"))
    sections = _sections_by_type(reader)

    global_section = sections["global"][0] if sections["global"] else None
    if global_section is None:
        reader.errors.append(Problem("ha.global", "missing: add `config global 'global'`", inputs.ha.path))
        global_section = Section(type="global", name="global")
    node = _node(reader, global_section, interfaces, inputs.system)
    vips = _vips(reader, sections["vip"], node, interfaces)
    checks = _checks(reader, sections["check"], node, vips, interfaces, is_executable)
    conntrack = _conntrack(reader, sections["conntrack"], node, vips, interfaces)
    dhcp = _dhcp(reader, sections["dhcp"], vips, inputs.dhcp)
    _cross_checks(reader, global_section, node, vips, conntrack, dhcp, interfaces)
    vips, single_wan = _single_wan(reader, global_section, node, vips, interfaces, inputs.network)

    if reader.errors:
        return Result(None, tuple(reader.errors), tuple(reader.warnings))
    model = Model(node, vips, checks, conntrack, dhcp, paths, _digest(inputs.ha), shared_digest(inputs.ha),
                  single_wan)
    return Result(model, (), tuple(reader.warnings))


def _sections_by_type(reader: Reader) -> dict[str, list[Section]]:
    found: dict[str, list[Section]] = {name: [] for name in schema.SECTION_TYPES}
    for section in reader.package.sections:
        section_type = schema.SECTION_TYPES.get(section.type)
        if section_type is None:
            known = ", ".join(schema.SECTION_TYPES)
            reader.warn(section, None, f"unknown section type {section.type!r} (ignored); known: {known}")
            continue
        if section_type.single and found[section.type]:
            reader.error(section, None, f"only one {section.type!r} section is allowed")
            continue
        reader.check_unknown(section, section_type)
        found[section.type].append(section)
    return found


def _own_addresses(interfaces: dict[str, Interface]) -> dict[ipaddress.IPv4Address | ipaddress.IPv6Address, str]:
    return {address.ip: name for name, iface in interfaces.items() for address in iface.addresses}


def _interface(reader: Reader, section: Section, option: str, interfaces: dict[str, Interface]) -> Interface | None:
    name = reader.value(section, schema.Option(option, schema.STRING, None, ""))
    if name is None:
        return None
    iface = interfaces.get(name)
    if iface is None:
        known = ", ".join(sorted(interfaces)) or "none"
        reader.error(section, option, f"unknown interface {name!r} (interfaces in /etc/config/network: {known})")
        return None
    if not iface.device:
        reader.error(section, option, f"interface {name!r} has no device in /etc/config/network")
        return None
    try:
        grammar.interface_name(iface.device)
    except ValueError as exc:
        origin = iface.device_origin
        where = origin.path if origin else f"network.{name}"
        reader.errors.append(Problem(
            where, f"device {iface.device!r} (of interface {name!r}, used by {reader.path(section, option)}) {exc}",
            origin.file if origin else "", origin.line if origin else 0))
        return None
    return iface


def _rendered_name(reader: Reader, section: Section, kind: str, index: int, used: dict[str, str]) -> str | None:
    """The keepalived name of a vip or check section (`vip0` for the first anonymous vip), unique
    among its kind: two sections rendered under one name would leave one silently unused."""
    name = section.name or f"{kind}{index}"
    try:
        grammar.rendered_name(name)
    except ValueError as exc:
        reader.error(section, None, f"section name {name!r} {exc}")
        return None
    if name in used:
        reader.error(section, None, f"is rendered as {kind} {name!r}, like {used[name]}: give the sections "
                     "distinct names")
        return None
    used[name] = reader.path(section)
    return name


def _node(reader: Reader, section: Section, interfaces: dict[str, Interface], system: Package | None) -> Node:
    g = schema.GLOBAL
    enabled = reader.value(section, g["enabled"])
    role = reader.value(section, g["role"])
    profile = reader.value(section, g["profile"])
    priority = reader.value(section, g["priority"], {"role": role})
    version_text = reader.value(section, g["vrrp_version"], {"profile": profile})
    version = int(version_text)
    advert_centis = reader.value(section, g["advert_int"], {"profile": profile, "vrrp_version": version_text})
    _check_advert(reader, section, version, advert_centis)

    preempt = reader.value(section, g["preempt"])
    preempt_delay = reader.value(section, g["preempt_delay"], {"profile": profile})
    initial_state = reader.value(section, g["initial_state"])
    if not preempt and initial_state == "master":
        reader.error(section, "preempt",
                     "0 (nopreempt) cannot be combined with initial_state master: keepalived only honours "
                     "nopreempt in state BACKUP")
    if not preempt and "preempt_delay" in section.options:
        reader.warn(section, "preempt_delay", "has no effect with preempt 0")

    auth_type = reader.value(section, g["auth_type"])
    auth_pass = reader.value(section, g["auth_pass"])
    if auth_type == "pass":
        if "auth_pass" not in section.options:
            reader.error(section, "auth_pass", "missing: auth_type pass needs a password")
        if version == 3:
            reader.error(section, "auth_type",
                         "pass is ignored by keepalived with VRRPv3 (RFC 5798 has no authentication): "
                         "use vrrp_version 2 or auth_type none")
        else:
            reader.warn(section, "auth_type", "pass is sent in clear text; it only guards against accidents")
    elif auth_pass:
        reader.warn(section, "auth_pass", "is ignored with auth_type none")

    sync_iface = _interface(reader, section, "sync_interface", interfaces)
    sync_address = None
    if sync_iface is not None:
        v4 = [a for a in sync_iface.addresses if a.version == 4]
        sync_address = v4[0] if v4 else None
        if sync_address is None:
            reader.error(section, "sync_interface",
                         f"interface {sync_iface.name!r} has no static IPv4 address (set proto static and ipaddr)")

    peer = reader.value(section, g["peer"])
    if peer is not None:
        owner = _own_addresses(interfaces).get(peer)
        if owner is not None:
            reader.error(section, "peer", f"{peer} is this node's own address (on {owner!r}): give the peer's address")
        elif sync_address is not None and peer not in sync_address.network:
            reader.error(section, "peer",
                         f"{peer} is not in the sync link's subnet {sync_address.network} ({sync_iface.name})")
    split_brain = reader.value(section, g["split_brain"])
    if split_brain != "report" and peer is None:
        reader.warn(section, "split_brain", "has no effect without a peer: split brain is told over the sync link")

    return Node(
        enabled=enabled,
        role=role,
        name=_node_name(reader, section, system, role),
        priority=priority,
        vrrp_version=version,
        advert_centis=advert_centis,
        preempt=preempt,
        preempt_delay=preempt_delay,
        initial_state=initial_state,
        unicast=reader.value(section, g["unicast"]),
        auth_type=auth_type,
        auth_pass=auth_pass if auth_type == "pass" else None,
        peer=peer,
        sync_interface=sync_iface.name if sync_iface else None,
        sync_device=sync_iface.device if sync_iface else None,
        sync_address=sync_address,
        split_brain=split_brain,
        split_brain_recheck=reader.value(section, g["split_brain_recheck"]),
        config_sync=reader.value(section, g["config_sync"]),
        realtime=reader.value(section, g["realtime"], {"profile": profile}),
    )


def _check_advert(reader: Reader, section: Section, version: int, centis: int) -> None:
    where = "advert_int" if "advert_int" in section.options else "vrrp_version"
    shown = format_centiseconds(centis)
    if version == 2 and centis % 100:
        reader.error(section, where,
                     f"advert_int {shown} is not whole seconds: VRRPv2 rounds it; sub-second adverts need "
                     "vrrp_version 3")
    if version == 3 and centis > VRRP3_MAX_ADVERT:
        reader.error(section, where,
                     f"advert_int {shown} is above {format_centiseconds(VRRP3_MAX_ADVERT)} s, the VRRPv3 maximum")


def _node_name(reader: Reader, section: Section, system: Package | None, role: str) -> str:
    """ha.global.node_name, else the hostname from /etc/config/system: keepalived's router_id."""
    if "node_name" in section.options:
        return reader.value(section, schema.GLOBAL["node_name"]) or f"ha-{role}"
    for entry in system.of_type("system") if system is not None else []:
        name = entry.get("hostname")
        if not name:
            continue
        try:
            grammar.router_id(name)
        except ValueError as exc:
            line = entry.option_lines.get("hostname", entry.line)
            reader.errors.append(Problem(f"{system.name}.{system.ref(entry)}.hostname",
                                         f"{name!r} {exc}: it would be keepalived's router_id; set "
                                         "ha.global.node_name", system.path, line))
        return name
    return f"ha-{role}"


def _vips(reader: Reader, sections: list[Section], node: Node, interfaces: dict[str, Interface]) -> tuple[Vip, ...]:
    v = schema.VIP
    own = _own_addresses(interfaces)
    vips: list[Vip] = []
    used_vrid: dict[tuple[str, int], str] = {}
    vmac_vrid: dict[int, str] = {}
    used_address: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, str] = {}
    names: dict[str, str] = {}
    for index, section in enumerate(sections):
        name = _rendered_name(reader, section, "vip", index, names)
        iface = _interface(reader, section, "interface", interfaces)
        if "interface" not in section.options:
            reader.error(section, "interface", "missing (required): the OpenWrt interface, e.g. 'lan'")
        vrid = reader.value(section, v["vrid"])
        if vrid is None and "vrid" not in section.options:
            reader.error(section, "vrid", "missing (required): a VRRP id 1-255, the same on both nodes")
        addresses = _vip_addresses(reader, section, node, iface, own, used_address)
        use_vmac = reader.value(section, v["use_vmac"])
        unicast_src, unicast_peer = _unicast(reader, section, node, iface, addresses)

        if iface is not None and vrid is not None:
            key = (iface.device, vrid)
            if key in used_vrid:
                reader.error(section, "vrid", f"{vrid} is already used by {used_vrid[key]} on {iface.device}")
            used_vrid[key] = reader.path(section)
        if use_vmac and vrid is not None:
            if vrid in vmac_vrid:
                reader.error(section, "use_vmac",
                             f"vrid {vrid} with use_vmac is also used by {vmac_vrid[vrid]}: keepalived names the "
                             f"macvlan vrrp.{vrid} on every interface; use distinct vrids")
            vmac_vrid[vrid] = reader.path(section)
        if name is None or iface is None or vrid is None or not addresses:
            continue
        vips.append(Vip(
            name=name,
            interface=iface.name,
            device=iface.device or "",
            vrid=vrid,
            addresses=tuple(addresses),
            virtual_routes=tuple(reader.values(section, v["virtual_routes"])),
            virtual_rules=tuple(reader.values(section, v["virtual_rules"])),
            use_vmac=use_vmac,
            unicast_src=unicast_src,
            unicast_peer=unicast_peer,
            track_ports=_track_ports(reader, section, iface),
        ))
    return tuple(vips)


def _track_ports(reader: Reader, section: Section, iface: Interface) -> tuple[str, ...]:
    """The ports keepalived tracks for this instance: the configured ones, each a member of the
    interface's bridge; by default the bridge's only port. A bridge of several ports stays up
    while one of them is down: without a tracked uplink, its failure would go unnoticed here."""
    configured = reader.values(section, schema.VIP["track_port"])
    if "track_port" in section.options:
        for port in configured:
            if port not in iface.ports:
                members = ", ".join(iface.ports) or "none"
                reader.error(section, "track_port", f"{port!r} is not a port of {iface.device}'s bridge in "
                                                    f"/etc/config/network (its ports: {members})")
        return tuple(dict.fromkeys(configured))
    if len(iface.ports) > 1:
        reader.warnings.append(Problem(
            reader.path(section, "track_port"),
            f"{iface.device} bridges {', '.join(iface.ports)}: a failed uplink port goes unnoticed while "
            "another port keeps the bridge up; name the uplink with `list track_port`"))
    if len(iface.ports) != 1:
        return ()
    port = iface.ports[0]
    try:
        grammar.interface_name(port)
    except ValueError as exc:
        origin = iface.ports_origin
        reader.errors.append(Problem(
            origin.path if origin else f"network.{iface.name}",
            f"port {port!r} (of {iface.device}, tracked by {reader.path(section)}) {exc}",
            origin.file if origin else "", origin.line if origin else 0))
        return ()
    return (port,) if port != iface.device else ()


def _vip_addresses(reader: Reader, section: Section, node: Node, iface: Interface | None,
                   own: dict, used: dict) -> list:
    texts = section.get_list("address")
    if not texts:
        reader.error(section, "address", "missing (required): at least one address/prefix")
        return []
    addresses = []
    for text, address in zip(texts, [_safe_interface(t) for t in texts]):
        if address is None or "%" in text:
            reader.error(section, "address", f"{text!r} is not an address or address/prefix")
            continue
        # a link-local address (the IPv6 router address clients use, e.g. fe80::1) is on every link
        link_local = address.version == 6 and address.ip.is_link_local
        subnets = iface.subnets(address.version) if iface and not link_local else []
        if link_local and "/" not in text:
            address = ipaddress.ip_interface(f"{address.ip}/64")
        elif "/" not in text:
            fitting = [n for n in subnets if address.ip in n]
            if fitting:
                address = ipaddress.ip_interface(f"{address.ip}/{fitting[0].prefixlen}")
            else:
                reader.warn(section, "address", f"{text} has no prefix length; using /{address.network.prefixlen}")
        if address.version == 6 and node.vrrp_version == 2:
            reader.error(section, "address", f"{address} is IPv6: VRRPv2 is IPv4 only, set vrrp_version 3")
        if subnets and not any(address.ip in n for n in subnets):
            shown = ", ".join(str(n) for n in subnets)
            reader.error(section, "address", f"{address.ip} is not in {iface.name}'s subnet {shown}")
        if address.ip in own:
            reader.error(section, "address",
                         f"{address.ip} is this node's own address on {own[address.ip]!r}: a VIP must be an unused "
                         "address")
        if address.ip in used:
            reader.error(section, "address", f"{address.ip} is also a VIP of {used[address.ip]}")
        used[address.ip] = reader.path(section)
        addresses.append(address)
    return addresses


def _safe_interface(text: str):
    try:
        grammar.utf8(text)
        return ipaddress.ip_interface(text)
    except ValueError:
        return None


def _unicast(reader: Reader, section: Section, node: Node, iface: Interface | None, addresses: list):
    v = schema.VIP
    peer = reader.value(section, v["unicast_peer"])
    src = reader.value(section, v["unicast_src"])
    if not node.unicast:
        for option in ("unicast_peer", "unicast_src"):
            if option in section.options:
                reader.warn(section, option, "is ignored unless ha.global.unicast is 1")
        return None, None
    family = 4 if any(a.version == 4 for a in addresses) or not addresses else 6
    if peer is None:
        if "unicast_peer" not in section.options:
            reader.error(section, "unicast_peer", "missing: unicast VRRP needs the peer's address on this interface")
    elif peer.version != family:
        reader.error(section, "unicast_peer", f"{peer} is IPv{peer.version} but the instance is IPv{family}")
    if src is None and iface is not None and "unicast_src" not in section.options:
        src = iface.address(family)
        if src is None:
            reader.error(section, "unicast_src",
                         f"missing: {iface.name} has no static IPv{family} address to send unicast VRRP from")
    if src is not None and peer is not None and src == peer:
        reader.error(section, "unicast_peer", f"{peer} is this node's own unicast source address")
    return src, peer


def _checks(reader: Reader, sections: list[Section], node: Node, vips: tuple[Vip, ...],
            interfaces: dict[str, Interface], is_executable: Callable[[str], bool]) -> tuple[Check, ...]:
    c = schema.CHECK
    vip_devices = {vip.device: vip.name for vip in vips}
    tracked: dict[str, tuple[str, str]] = {}  # device -> (first check tracking it, its failure mode)
    checks: list[Check] = []
    names: dict[str, str] = {}
    for index, section in enumerate(sections):
        name = _rendered_name(reader, section, "check", index, names)
        kind = reader.value(section, c["type"])
        if kind is None and "type" not in section.options:
            reader.error(section, "type", "missing (required): ping, script or interface")
        target = reader.value(section, c["target"])
        script = reader.value(section, c["script"])
        iface = None
        relevant = {"ping": "target", "script": "script", "interface": "interface"}
        for other_kind, option in relevant.items():
            if kind and other_kind != kind and option in section.options:
                reader.warn(section, option, f"is ignored for type {kind}")
        if kind == "ping" and target is None and "target" not in section.options:
            reader.error(section, "target", "missing: a ping check needs a target address")
        if kind == "script":
            if script is None and "script" not in section.options:
                reader.error(section, "script", "missing: a script check needs an executable's absolute path")
            elif script is not None and not is_executable(script):
                reader.error(section, "script", f"missing check script: {script} does not exist or is not executable")
        if kind == "interface":
            if "interface" not in section.options:
                reader.error(section, "interface", "missing: an interface check needs the interface to track")
            iface = _interface(reader, section, "interface", interfaces)
            if iface is not None and iface.device in vip_devices:
                reader.warn(section, "interface",
                            f"{iface.name} carries VIP {vip_devices[iface.device]}: keepalived already leaves "
                            "mastership when that link goes down, so this check is not rendered for it")
        failure = reader.value(section, c["failure"])
        if iface is not None and iface.device in tracked and tracked[iface.device][1] != failure:
            reader.error(section, "interface",
                         f"{iface.name} is also tracked by {tracked[iface.device][0]} with failure "
                         f"{tracked[iface.device][1]}: keepalived cannot track one interface on the instances "
                         "(weight) and on the sync group (fault) at once")
        if iface is not None:
            tracked.setdefault(iface.device, (reader.path(section), failure))
        weight = reader.value(section, c["weight"])
        if failure == "weight" and weight == 0:
            reader.error(section, "weight", "0 never changes anything: use a non-zero weight or failure fault")
        if failure == "fault" and "weight" in section.options:
            reader.warn(section, "weight", "is ignored with failure fault")
        secondary = schema.GLOBAL["priority"].default_in({"role": "secondary"})
        if (failure == "weight" and weight < 0 and node.role == "primary"
                and node.priority + weight >= secondary):
            reader.warn(section, "weight",
                        f"{weight} leaves priority {node.priority + weight}, not below the secondary's default "
                        f"{secondary}: a failure of this check may not move the VIPs")
        if kind is None or name is None:
            continue
        checks.append(Check(
            name=name,
            kind=kind,
            interval=reader.value(section, c["interval"]),
            timeout=reader.value(section, c["timeout"]),
            fall=reader.value(section, c["fall"]),
            rise=reader.value(section, c["rise"]),
            failure=failure,
            weight=weight,
            target=target if kind == "ping" else None,
            script=script if kind == "script" else None,
            interface=iface.name if iface else None,
            device=iface.device if iface else None,
        ))
    return tuple(checks)


def _conntrack(reader: Reader, sections: list[Section], node: Node, vips: tuple[Vip, ...],
               interfaces: dict[str, Interface]) -> ConntrackSync:
    t = schema.CONNTRACK
    section = sections[0] if sections else Section(type="conntrack", name="conntrack")
    group = reader.value(section, t["multicast_group"])
    transport = reader.value(section, t["transport"])
    if transport == "multicast" and not group.is_multicast:
        reader.error(section, "multicast_group", f"{group} is not a multicast address")
    mode = reader.value(section, t["mode"])
    disable_external_cache = reader.value(section, t["disable_external_cache"], {"mode": mode})
    if mode == "alarm" and disable_external_cache:
        reader.error(section, "disable_external_cache", "is not supported by conntrackd in mode alarm")
    ignore: list[IPNetwork] = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
    ignore += [ipaddress.ip_network(a.ip) for iface in interfaces.values() for a in iface.addresses]
    if node.sync_address is not None:
        ignore.append(node.sync_address.network)
    if node.peer is not None:
        ignore.append(ipaddress.ip_network(node.peer))
    for vip in vips:
        ignore += [ipaddress.ip_network(a.ip) for a in vip.addresses]
        if vip.unicast_peer is not None:
            ignore.append(ipaddress.ip_network(vip.unicast_peer))
    ignore += [a.network for a in reader.values(section, t["ignore_address"])]
    return ConntrackSync(
        enabled=reader.value(section, t["enabled"]),
        mode=mode,
        transport=transport,
        multicast_group=group,
        port=reader.value(section, t["port"]),
        disable_external_cache=disable_external_cache,
        ignore=_without_covered(ignore),
        protocols=_protocols(reader.values(section, t["protocol"])),
    )


def _protocols(chosen: list[str]) -> tuple[str, ...]:
    """The protocols to sync in schema order, each once; every one when none is listed."""
    return tuple(p for p in schema.CONNTRACK_PROTOCOLS if p in chosen) or schema.CONNTRACK_PROTOCOLS


def _without_covered(networks: list[IPNetwork]) -> tuple[IPNetwork, ...]:
    """In order, without duplicates and without entries inside another entry."""
    unique = list(dict.fromkeys(networks))
    return tuple(n for n in unique
                 if not any(o != n and o.version == n.version and n.subnet_of(o) for o in unique))


def _dhcp(reader: Reader, sections: list[Section], vips: tuple[Vip, ...], dhcp: Package | None) -> Dhcp:
    d = schema.DHCP
    section = sections[0] if sections else Section(type="dhcp", name="dhcp")
    managed = reader.value(section, d["managed"])
    lease_sync = reader.value(section, d["lease_sync"])
    timing = {"reconcile_interval": reader.value(section, d["reconcile_interval"]),
              "ssh_port": reader.value(section, d["ssh_port"])}
    if lease_sync and not managed:
        reader.warn(section, "lease_sync", "with managed 0 ha-pair cannot tell which node answers DHCP: leases are "
                    "merged but never imported into dnsmasq")
    gateways: dict[str, ipaddress.IPv4Address] = {}
    for vip in vips:
        for address in vip.addresses:
            if address.version == 4:
                gateways.setdefault(vip.interface, address.ip)
    chosen: list[DhcpSection] = []
    explicit = reader.values(section, d["section"])
    if not managed:
        return Dhcp(False, (), lease_sync, **timing)
    if dhcp is None:
        if explicit:
            reader.error(section, "section", "no /etc/config/dhcp to manage")
        else:
            reader.warnings.append(Problem("ha.dhcp.managed", "no /etc/config/dhcp: no DHCP settings to manage"))
        return Dhcp(managed, (), lease_sync, **timing)
    if explicit:
        for name in explicit:
            target = dhcp.find(name)
            if target is None or target.type != "dhcp":
                reader.error(section, "section", f"{name!r} is not a `config dhcp` section in /etc/config/dhcp")
                continue
            interface = target.get("interface") or ""
            if interface not in gateways:
                reader.error(section, "section",
                             f"dhcp section {name!r} serves interface {interface!r}, which has no IPv4 VIP")
                continue
            chosen.append(DhcpSection(dhcp.ref(target), interface, gateways[interface]))
    else:
        for target in dhcp.of_type("dhcp"):
            interface = target.get("interface") or ""
            if interface in gateways and target.get("ignore", "0") not in ("1", "yes", "on", "true"):
                chosen.append(DhcpSection(dhcp.ref(target), interface, gateways[interface]))
    return Dhcp(managed, tuple(chosen), lease_sync, **timing)


def _cross_checks(reader: Reader, global_section: Section, node: Node, vips: tuple[Vip, ...],
                  conntrack: ConntrackSync, dhcp: Dhcp, interfaces: dict[str, Interface]) -> None:
    if not node.enabled:
        return
    if not reader.package.of_type("vip"):
        reader.errors.append(Problem("ha", "no `config vip` section: nothing to make highly available",
                                     reader.package.path))
    needs_peer = [name for name, on in (("ha.conntrack.enabled", conntrack.enabled),
                                        ("ha.dhcp.lease_sync", dhcp.lease_sync)) if on]
    if needs_peer and "peer" not in global_section.options:
        reader.error(global_section, "peer", f"missing: needed by {', '.join(needs_peer)}")
    if needs_peer and "sync_interface" not in global_section.options:
        reader.error(global_section, "sync_interface", f"missing: needed by {', '.join(needs_peer)}")
    sync_devices = {node.sync_device} if node.sync_device else set()
    for vip in vips:
        if vip.device in sync_devices:
            reader.warn(global_section, "sync_interface",
                        f"is also the interface of VIP {vip.name}: a dedicated link is what keeps state sync "
                        "independent of the LAN")


def _digest(ha: Package) -> str:
    """A fingerprint of the configuration, so both nodes can compare theirs; the password is left out."""
    content = []
    for section_type, name, options in ha.content():
        shown = {k: ("<secret>" if k == "auth_pass" else v) for k, v in options.items()}
        content.append([section_type, name, shown])
    return sha256(leanjson.dumps(content, sort_keys=True).encode("utf-8", "surrogateescape")).hexdigest()


def _single_wan(reader: Reader, section: Section, node: Node, vips: tuple[Vip, ...],
                interfaces: dict[str, Interface], network: Package | None) -> tuple[tuple[Vip, ...], SingleWan | None]:
    """ha.global.single_wan_ip: the WAN has no VIP (its DHCP address is the shared one), the LAN VIP
    carries the master's rule to the WAN table, and /etc/config/network has what the mode needs
    (each thing missing is a warning saying what to add; `ha-pair show` prints all of it)."""
    wan_name = reader.value(section, schema.GLOBAL["single_wan_ip"])
    if wan_name is None:
        return vips, None
    wan = _interface(reader, section, "single_wan_ip", interfaces)
    if wan is None:
        return vips, None
    for vip in vips:
        if vip.interface == wan.name:
            reader.error(section, "single_wan_ip", f"vip {vip.name} is on {wan.name!r}: with one dynamic public IP "
                         "the WAN has no VIP (both routers hold the DHCP address; only the master routes through it)")
    lan_vip = next((v for v in vips if v.interface != wan.name and v.family == 4), None)
    if lan_vip is None:
        reader.error(section, "single_wan_ip", "needs an IPv4 VIP on the LAN: the backup routes through it")
        return vips, None
    gateway = next(a.ip for a in lan_vip.addresses if a.version == 4)
    mode = SingleWan(wan.name, wan.device, lan_vip.interface, gateway)
    if network is not None:  # warnings: the user's file, and `ha-pair show` needs a model to print the changes
        missing, _ = single_wan.plan(network, mode.wan, mode.wan_device, mode.lan, str(gateway))
        for item in missing:
            reader.warnings.append(Problem(item.path, f"{item.message} (needed by ha.global.single_wan_ip; "
                                           "`ha-pair show` prints every change)", network.path))
    rules = lan_vip.virtual_rules
    if single_wan.MASTER_RULE not in rules:
        rules = rules + (single_wan.MASTER_RULE,)
    updated = tuple(replace(v, virtual_rules=rules) if v is lan_vip else v for v in vips)
    return updated, mode
