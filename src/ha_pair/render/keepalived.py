"""keepalived.conf from the model: a pure function, model in, text out.

Shape, and why:
- both nodes start in state BACKUP (unless initial_state says otherwise) and let priority
  decide, which is what survives a simultaneous boot;
- every VIP instance is in one vrrp_sync_group so LAN and WAN always move together (no
  asymmetric routing); with a single instance there is no group (keepalived warns about a
  one-member group) and the hooks sit on the instance;
- FAULT-type health checks are tracked by the group; weighted checks are tracked by every
  member with the same weight and the group carries `sync_group_tracking_weight`, because
  keepalived otherwise ignores weighted trackers on sync group members;
- every instance tracks the operator's hold file (operate/hold.py) with weight 1: handover and
  maintenance mode change a number in it and keepalived itself leaves mastership;
- with state sync (FTFW or NOTRACK) every instance also tracks the sync gate (SYNC_GATE_NAME): a
  starting node stays in FAULT until it has the peer's connections (usr/libexec/ha-pair/sync-gate);
- in a sync group, an instance that tracks bridge ports declares its master down after one missed
  advert (`down_timer_adverts 1`) while the others keep the RFC's three (see quick_down_instances);
- transitions reach the agent through notify_fifo and the package's notify script, which
  keepalived itself runs, so the data plane never waits for Python.
"""

from __future__ import annotations

from .blocks import HEADER, block
from ..config import grammar
from ..config.model import Check, Model, Vip
from ..config.values import format_centiseconds
from ..operate.hold import TRACK_NAME

# The sync gate's track_file. At boot the firewall drops the peer's adverts until netifd's ifup has
# told fw4 the devices (~0.8 s in the lab): with 0.1 s adverts a returning node's master-down timer
# ran out first and it took the VIPs as if alone, without preempt_delay and ~0.5 s before the
# peer's connections arrived: every tracked TCP flow broke at the failback (profile fast, make bench).
# The init script writes -254 (FAULT) there when keepalived starts; the sync-gate script writes 0
# once the peer's state has arrived, the peer stayed silent, or a bound passed.
SYNC_GATE_NAME = "ha_pair_sync"



def script_name(check: Check) -> str:
    return f"chk_{check.name}"


def _block(name: str, lines: list[str]) -> list[str]:
    return block(name, lines, "    ")


# ha.global.realtime: SCHED_RR priority 10 beats every ordinary process and stays below the
# kernel's own real-time threads (irq threads 50, watchdog 99). RLIMIT_RTTIME (keepalived's default
# 10 ms of CPU without a blocking call, then SIGXCPU) is raised so a reload that parses a large
# configuration on a slow router is not killed.
VRRP_RT_PRIORITY = 10
VRRP_RLIMIT_RTTIME_US = 500000


def _global_defs(model: Model) -> list[str]:
    lines = [
        f"router_id {model.node.name}",
        "enable_script_security",
        "script_user root",
        f"notify_fifo {model.paths.notify_fifo}",
    ]
    if model.node.realtime:
        lines += [f"vrrp_rt_priority {VRRP_RT_PRIORITY}", f"vrrp_rlimit_rttime {VRRP_RLIMIT_RTTIME_US}",
                  "vrrp_no_swap"]
    return _block("global_defs", lines)


def _vrrp_script(model: Model, check: Check) -> list[str]:
    # Through the package's check helper, which records each result for `ha-pair status`.
    if check.kind == "ping":
        command = f"{model.paths.check_helper} ping {check.name} {check.target} {check.timeout}"
    else:
        # a router path: under the root like every other
        command = f"{model.paths.check_helper} script {check.name} {model.paths.under(str(check.script))}"
    return _block(f"vrrp_script {script_name(check)}", [
        f'script "{command}"',
        f"interval {check.interval}",
        f"timeout {check.timeout + 1 if check.kind == 'ping' else check.timeout}",
        f"fall {check.fall}",
        f"rise {check.rise}",
    ])


def _trackers(checks: list[Check], weighted: bool, own_devices: set[str],
              ports: tuple[str, ...] = ()) -> list[str]:
    """track_script / track_interface blocks. A check tracked without a weight puts the tracker
    into FAULT when it fails; with `weighted`, weight-type checks lower the priority instead.
    `ports` (a vip's track_port: bridge ports, followed by netlink) always mean FAULT.
    Interfaces in `own_devices` are left out, and a device is listed once: keepalived already
    tracks an instance's own interface and refuses (-t exit 5) to track one twice."""
    def entry(check: Check, name: str) -> str:
        if weighted and check.failure == "weight":
            return f"{name} weight {check.weight}"
        return name

    scripts = [entry(c, script_name(c)) for c in checks if c.kind in ("ping", "script")]
    links = list(ports) + [entry(c, str(c.device)) for c in checks
                           if c.kind == "interface" and c.device not in own_devices and c.device not in ports]
    out: list[str] = []
    if scripts:
        out += _block("track_script", scripts)
    if links:
        out += _block("track_interface", links)
    return out


def quick_down_instances(model: Model) -> frozenset[str]:
    """The sync group's instances whose master-down timer is one advert instead of three.

    When the master loses the link of such an instance (its tracked port), the instance goes to
    FAULT and the sync group with it: the other instances send a priority-0 advert on their links,
    but this one's advert cannot leave through the dead port, so the backup learns it only from
    silence. keepalived's sync group moves to MASTER only once every member wants it, so without
    this the backup waits 3 adverts + skew (3.6 s at 1 s adverts) although its other instances
    knew at once; with it, 1 advert + skew (1.6 s). A missed advert alone still moves nothing: at
    least one member keeps three adverts (the group waits for it), which is why, when every
    instance tracks ports, none is shortened. A single instance has no group and keeps three."""
    if not model.sync_group:
        return frozenset()
    tracked = frozenset(vip.name for vip in model.vips if vip.track_ports)
    return tracked if len(tracked) < len(model.vips) else frozenset()


def _hold_file(model: Model) -> list[str]:
    # The operator's hold (operate/hold.py): a number keepalived adds to the priority; below -253
    # it means FAULT. keepalived follows the file itself (inotify): no reload, no agent needed.
    return _block(f"track_file {TRACK_NAME}", [f'file "{model.paths.hold_file}"', "weight 1", "init_file 0"])


def sync_gated(model: Model) -> bool:
    """Whether a starting node waits for the peer's connections: conntrackd asks for them at
    start only in FTFW and NOTRACK mode (ALARM has no resync request)."""
    return model.conntrack.enabled and model.conntrack.mode in ("ftfw", "notrack")


def _sync_gate(model: Model) -> list[str]:
    return _block(f"track_file {SYNC_GATE_NAME}", [f'file "{model.paths.sync_gate}"', "weight 1"])


def _address_line(vip: Vip, address) -> str:
    # With use_vmac keepalived puts the addresses on the macvlan it creates: naming a dev would pin them
    # to the parent interface instead.
    return str(address) if vip.use_vmac else f"{address} dev {vip.device}"


def _instance(model: Model, vip: Vip, hooks: list[str]) -> list[str]:
    node = model.node
    lines = [
        f"state {node.initial_state.upper()}",
        f"interface {vip.device}",
        f"virtual_router_id {vip.vrid}",
        f"priority {node.priority}",
        f"advert_int {format_centiseconds(node.advert_centis)}",
        f"version {node.vrrp_version}",
    ]
    if vip.name in quick_down_instances(model):
        lines.append("down_timer_adverts 1")
    if not node.preempt:
        lines.append("nopreempt")
    elif node.preempt_delay:
        lines.append(f"preempt_delay {node.preempt_delay}")
    if vip.use_vmac:
        lines += ["use_vmac", "vmac_xmit_base"]
    if node.unicast:
        lines.append(f"unicast_src_ip {vip.unicast_src}")
        lines += _block("unicast_peer", [str(vip.unicast_peer)])
    if node.auth_type == "pass":
        lines += _block("authentication", ["auth_type PASS", f"auth_pass {node.auth_pass}"])
    lines += _block("virtual_ipaddress", [_address_line(vip, a) for a in vip.advertised])
    if vip.excluded:
        lines += _block("virtual_ipaddress_excluded", [_address_line(vip, a) for a in vip.excluded])
    if vip.virtual_routes:
        lines += _block("virtual_routes", list(vip.virtual_routes))
    if vip.virtual_rules:
        lines += _block("virtual_rules", list(vip.virtual_rules))
    lines += _block("track_file", [TRACK_NAME, SYNC_GATE_NAME] if sync_gated(model) else [TRACK_NAME])
    lines += hooks
    return _block(f"vrrp_instance {vip.name}", lines)


def render_keepalived(model: Model) -> str:
    checks = list(model.checks)
    weighted = [c for c in checks if c.failure == "weight"]
    faulting = [c for c in checks if c.failure == "fault"]
    notify = f'notify "{model.paths.notify_script}"'

    out = _global_defs(model) + [""] + _hold_file(model)
    if sync_gated(model):
        out += [""] + _sync_gate(model)
    for check in checks:
        if check.kind in ("ping", "script"):
            out += [""] + _vrrp_script(model, check)

    if model.sync_group:
        for vip in model.vips:
            out += [""] + _instance(model, vip, _trackers(weighted, True, {vip.device}, vip.track_ports))
        group = _block("group", [vip.name for vip in model.vips])
        group += _trackers(faulting, False, {vip.device for vip in model.vips})
        # weighted trackers on members (the hold file always, weighted checks) count only with this
        group.append("sync_group_tracking_weight")
        group.append(notify)
        out += [""] + _block("vrrp_sync_group ha", group)
    else:
        for vip in model.vips:
            out += [""] + _instance(model, vip, _trackers(checks, True, {vip.device}, vip.track_ports) + [notify])
    for line in out:  # the model's values were checked at their source; this guards the renderer
        grammar.keepalived_line(line)
    return HEADER + "\n".join(out) + "\n"
