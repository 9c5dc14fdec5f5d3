"""status, history, agent: the running pair, as the agent knows it (or as far as this command
can see for itself when the agent is down). Never a traceback: a plain report instead."""

from __future__ import annotations

import time

from .. import log
from ..agent import control_client
from ..paths import Paths
from .output import EXIT_FAILED, EXIT_OK, fail, print_json

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:  # the agent runs through here: it does not need argparse loaded
    from typing import Any
    import argparse


def agent(args: argparse.Namespace, paths: Paths) -> int:
    from ..agent.loop import Agent  # only the daemon needs the whole loop

    log.daemon_mode()
    return Agent(paths, args.ubus_socket).run()


def status(args: argparse.Namespace, paths: Paths) -> int:
    try:
        data = control_client.request(paths.control_socket, "status")
    except (OSError, ValueError) as exc:
        data = offline_status(paths, f"no answer on {paths.control_socket}: {exc.strerror or exc}"
                              if isinstance(exc, OSError) else f"bad answer: {exc}")
    if args.json:
        print_json(data)
    else:
        print(format_status(data))
    return EXIT_OK if data.get("agent", {}).get("running", True) else EXIT_FAILED


def history(args: argparse.Namespace, paths: Paths) -> int:
    try:
        data = control_client.request(paths.control_socket, "history")
    except (OSError, ValueError) as exc:
        return fail(f"the agent is not running ({exc}); the notify script's log is {paths.transitions_log}")
    if args.json:
        print_json(data)
        return EXIT_OK
    for item in data.get("history", []):
        print(f"{_time(item['time'])}  {item['from']:>7} -> {item['to']:<7} {item['reason']}")
    return EXIT_OK


def offline_status(paths: Paths, why: str) -> dict[str, Any]:
    """What can be known without the agent: the VIPs on the interfaces and the notify script's files."""
    from .. import runfiles
    from ..agent import probes
    from ..config.load import validate

    data: dict[str, Any] = {"agent": {"running": False, "error": why},
                            "state": runfiles.node_state(paths), "recent_transitions": runfiles.recent_transitions(paths)}
    result = validate(paths)
    if result.model is not None:
        devices = sorted({v.device for v in result.model.vips})
        present = probes.addresses_on(devices)
        data["instances"] = {
            v.name: {"device": v.device, "vips": [str(a) for a in v.addresses],
                     "vips_present": all(str(a.ip) in present.get(v.device, []) for a in v.addresses)}
            for v in result.model.vips
        }
    else:
        data["config"] = {"valid": False, "errors": [str(e) for e in result.errors]}
    return data


def _time(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _ago(epoch: float | None) -> str:
    if epoch is None:
        return ""
    seconds = max(0, int(time.time() - epoch))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f" ({seconds // size}{unit} ago)"
    return f" ({seconds}s ago)"


def format_status(data: dict[str, Any]) -> str:
    agent = data.get("agent", {})
    if agent.get("running") is False:
        lines = [f"ha-pair agent is not running ({agent.get('error')}).",
                 f"state from the notify script: {data.get('state', 'unknown')}"]
        for name, inst in data.get("instances", {}).items():
            held = "present on this node" if inst["vips_present"] else "not on this node"
            lines.append(f"  {name:<8} {inst['device']:<8} {', '.join(inst['vips'])}: {held}")
        for line in data.get("recent_transitions", []):
            lines.append(f"  transition: {line}")
        for error in data.get("config", {}).get("errors", []):
            lines.append(f"  config error: {error}")
        return "\n".join(lines)
    node = data.get("node", {})
    lines = [f"ha-pair on {node.get('name', '?')} ({node.get('role', '?')}, priority {node.get('priority', '?')}): "
             f"{data.get('state', 'unknown').upper()} since {_time(data.get('since'))}{_ago(data.get('since'))}"]
    if data.get("health"):
        lines.append(f"  {data['health']['summary']}")
    last = data.get("last_transition")
    if last:
        lines.append(f"  last transition {_time(last['time'])}: {last['from']} -> {last['to']}: {last['reason']}")
    for name, inst in data.get("instances", {}).items():
        vips = "VIPs present" if inst.get("vips_present") else "VIPs absent"
        link = "link up" if inst.get("link") else "NO LINK"
        lines.append(f"  {name:<8} {inst['device']:<8} vrid {inst['vrid']:<3} {', '.join(inst['vips'])}  "
                     f"{inst['state']}, {vips}, {link}")
    for name, check in data.get("checks", {}).items():
        state = "DOWN" if check.get("down") else "up"
        lines.append(f"  check {name} ({check['type']}): {state}, last {check.get('result')} "
                     f"x{check.get('consecutive', '-')}")
    conntrack = data.get("conntrack", {})
    if conntrack.get("enabled"):
        sync = conntrack.get("sync", {})
        lines.append(f"  conntrack: {'running' if conntrack.get('running') else 'NOT RUNNING'}, "
                     f"{conntrack.get('internal_active')} local / {conntrack.get('external_active')} peer flows, "
                     f"{sync.get('bytes_sent', 0)} B sent, {sync.get('bytes_recv', 0)} B received")
        lines += [f"    warning: {w}" for w in conntrack.get("warnings", [])]
    dhcp = data.get("dhcp", {})
    if dhcp.get("managed"):
        answering = {True: "answering", False: "not answering", None: "no guard"}[dhcp.get("answering")]
        note = "" if dhcp.get("consistent", True) else " (INCONSISTENT with the VRRP state)"
        lines.append(f"  dhcp ({', '.join(dhcp.get('sections', []))}): {answering}{note}")
    peer = data.get("peer", {})
    if peer.get("address"):
        link = {True: "link up", False: "LINK DOWN", None: "no device"}[peer.get("sync_link")]
        lines.append(f"  peer {peer['address']} via {peer.get('sync_interface')} ({peer.get('sync_device')}): {link}")
    config = data.get("config", {})
    lines.append(f"  config: {'valid' if config.get('valid') else 'INVALID'}, digest {str(config.get('digest'))[:12]}")
    lines += [f"    error: {e}" for e in config.get("errors", [])]
    if data.get("peer_view") is not None:
        lines += [""] + pair_table(data)
    return "\n".join(lines)


def _maintenance(on: bool | None, hold: str | None) -> str:
    if on is None:
        return "?"
    return "ON" if on else ("off" if hold in (None, "none") else f"off, hold {hold}")


def pair_table(data: dict[str, Any]) -> list[str]:
    """This node and the peer side by side, the peer as it reported itself over the sync channel."""
    node, view = data.get("node") or {}, data.get("peer_view") or {}
    config, maintenance = data.get("config") or {}, data.get("maintenance") or {}
    agent = data.get("agent") or {}
    if view.get("reachable"):
        heard = f"{view.get('age_s')} s ago"
    elif view.get("last_heard"):
        heard = f"NOT ANSWERING ({view.get('error_kind')}), last {_time(view['last_heard'])}"
    else:
        heard = f"never ({view.get('error_kind') or 'not asked yet'})"
    match = {True: "matches", False: "DIFFERS", None: "?"}[view.get("config_match")]
    from ..status.peer_report import not_ready

    def can(ready: bool | None, reasons: list[str]) -> str:
        return {True: "yes", False: "no: " + "; ".join(reasons), None: "?"}[ready]

    mine = not_ready(data)
    rows = [
        ("", f"this node ({node.get('name', '?')})", f"peer ({view.get('node') or '?'})"),
        ("state", str(data.get("state", "unknown")).upper(), str(view.get("state") or "?").upper()),
        ("priority", str(node.get("effective_priority", "?")), str(view.get("effective_priority") or "?")),  # effective
        ("version", str(agent.get("version", "?")), str(view.get("version") or "?")),
        ("config", str(config.get("shared_digest") or "?")[:12],
         f"{str(view.get('config_digest') or '?')[:12]} ({match})"),
        ("maintenance", _maintenance(maintenance.get("on"), maintenance.get("hold")),
         _maintenance(view.get("maintenance"), view.get("hold"))),
        ("can take over", can(not mine, mine), can(view.get("ready"), view.get("not_ready") or [])),
        ("last heard", "", heard),
    ]
    width = max(len(row[1]) for row in rows) + 2
    out = [f"  {label:<15}{here:<{width}}{there}".rstrip() for label, here, there in rows]
    out += [f"  VRRP DIFFERS: {m}" for m in view.get("vrrp_mismatch") or []]
    split = data.get("split_brain") or {}
    if split.get("active"):
        out.append(f"  SPLIT BRAIN since {_time(split.get('since'))}: {split.get('cause')}")
    if split.get("stepped_down"):
        out.append(f"  stepped down for the split brain since {_time(split['stepped_down'])} (ha.global.split_brain)")
    return out
