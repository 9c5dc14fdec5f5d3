"""Failover scenarios on a running Lab, each returning what was measured.

Shared by the scenario tests (which assert on these facts), `make demo` (which tells them as a
story) and `make bench` (which repeats them). Client gap = the longest interval without ping
replies for a client pinging the inet host through the VIP about every 16 ms.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass, field
from typing import Callable

from tests.lab import ipv6, wireguard
from tests.lab.pair_lab import RESETS_CHAIN, Lab
from tests.lab.traffic import Flows, Pinger, UdpStreams

MIN_OFF_S = 2.0
# keepalived repeats its gratuitous ARPs garp_master_delay (5 s) after becoming master: a failure
# measured before that mixes two transitions. Benchmarks wait this long between scenarios.
SETTLE_S = 6.0
FLOW_RESUME_TIMEOUT = 25.0  # a paused flow may wait for TCP's retransmission backoff; a dead one for keepalive


@dataclass
class Measurement:
    gap_ms: float  # longest interval without replies
    lost: int  # pings without reply
    takeover_s: float  # from the failure until the expected router held every VIP
    sent: int = 0
    gap6_ms: float | None = None  # the same for a ping over IPv6 in the same run (LabOptions(ipv6=True))
    lost6: int | None = None  # counted from its first reply: a cold start of IPv6 neighbour caches is not an outage


@dataclass
class FlowOutcome:
    total: int
    survived_failover: int
    survived_failback: int
    broken_failover: dict[str, int] = field(default_factory=dict)  # kind -> flows broken
    broken_failback: dict[str, int] = field(default_factory=dict)


def measure(lab: Lab, inject: Callable[[], None], master: str, timeout: float, what: str,
            random_phase: bool = True, phase: float | None = None) -> Measurement:
    """Ping through the VIP, inject a failure, wait until `master` holds the VIPs and pings flow.
    The failure comes `phase` seconds after an advert of the master, else at a random point."""
    topo = lab.topo
    with contextlib.ExitStack() as stack:
        ping = stack.enter_context(Pinger(topo.client_ns, topo.inet_addr))
        # IPv6: the client's own SLAAC address, routed (not translated) via the virtual link-local router
        ping6 = stack.enter_context(Pinger(topo.client_ns, ipv6.INET)) if lab.options.ipv6 else None
        for pinger in filter(None, (ping, ping6)):
            if not pinger.wait_flowing(timeout=15):
                raise AssertionError(f"{what}: no ping replies to {pinger.dest} through the pair before the failure")
        if phase is not None:
            lab.at_advert_phase(phase)
        elif random_phase:
            lab.random_phase()
        start = ping.mark()
        if ping6:
            ping6.mark(start)
        inject()
        lab.wait_for(lambda: lab.master() == master, timeout, what)
        took = time.monotonic() - start  # from the failure, even when inject() itself took a while
        for pinger in filter(None, (ping, ping6)):
            if not pinger.wait_flowing(timeout=15, min_replies=10, since=time.monotonic()):
                raise AssertionError(f"{what}: traffic to {pinger.dest} did not resume on {master}")
        result = ping.stop()
        result6 = ping6.stop() if ping6 else None
    return Measurement(gap_ms=result.longest_gap_ms, lost=result.lost, takeover_s=took, sent=result.sent,
                       gap6_ms=result6.longest_gap_ms if result6 else None,
                       lost6=_lost_after_first_reply(result6) if result6 else None)


def _lost_after_first_reply(result) -> int:
    seqs = result.reply_seqs
    return max(0, result.sent - min(seqs) + 1 - len(seqs)) if seqs else result.sent


def _timeout(lab: Lab) -> float:
    return 10 * lab.options.advert_int + 10


def power_loss(lab: Lab, victim: str = "r1", survivor: str = "r2", phase: float | None = None) -> Measurement:
    return measure(lab, lambda: lab.power_off(victim), survivor, _timeout(lab), f"{survivor} takes over",
                   phase=phase)


def lan_link_failure(lab: Lab, victim: str = "r1", survivor: str = "r2", phase: float | None = None) -> Measurement:
    return measure(lab, lambda: lab.lan_link(victim, False), survivor, _timeout(lab),
                   f"{survivor} takes over both VIPs after {victim}'s LAN link fails", phase=phase)


def graceful_stop(lab: Lab, victim: str = "r1", survivor: str = "r2", phase: float | None = None) -> Measurement:
    return measure(lab, lambda: lab.routers[victim].service("stop"), survivor, _timeout(lab),
                   f"{survivor} takes over after {victim} stops cleanly", phase=phase)


def operator_handover(lab: Lab, master: str = "r1", peer: str = "r2") -> Measurement:
    """`ha-pair handover` on the master (the old master then yields, so the next one can hand back)."""
    return measure(lab, lambda: lab.run_ha_pair(master, "handover"), peer, _timeout(lab),
                   f"{peer} holds the VIPs after `ha-pair handover` on {master}")


def split_brain(lab: Lab, timeout: float = 20) -> dict[str, float]:
    """Block VRRP on both switches (the sync link stays up) until both routers hold the VIPs and
    each has confirmed the split brain; VRRP stays blocked (the caller unblocks). Returns, per
    router, the seconds from r2's transition to MASTER to its confirmation (status
    split_brain.detected, on the agents' clock: one host clock for both)."""
    both = {lab.topo.lan_vip, lab.topo.wan_vip}
    lab.vrrp_blocked(True)
    lab.wait_for(lambda: lab.vips("r1") == both and lab.vips("r2") == both, timeout, "both routers hold the VIPs")
    deadline = time.monotonic() + timeout
    statuses: dict[str, dict] = {}
    while len(statuses) < len(lab.routers):
        for name in lab.routers:
            status = lab.status(name)
            if name not in statuses and status.get("split_brain", {}).get("active"):
                statuses[name] = status
        if time.monotonic() > deadline:
            raise AssertionError(f"split brain not confirmed on every router: {sorted(statuses)}")
        time.sleep(0.1)
    r2_master = lab.status("r2")["since"]
    return {name: status["split_brain"]["detected"] - r2_master for name, status in statuses.items()}


def power_return(lab: Lab, router: str = "r1") -> Measurement:
    """Power the router on and measure the client's gap when it preempts.

    The router stays off for at least MIN_OFF_S first: a real reboot takes far longer, and a
    takeover within a second of the previous one meets the client's neighbour `locktime` (1 s),
    which ignores the new master's gratuitous ARPs until keepalived repeats them 5 s later."""
    time.sleep(MIN_OFF_S)
    wait = _timeout(lab) + lab.options.preempt_delay
    return measure(lab, lambda: lab.power_on(router), router, wait, f"{router} preempts after power-on",
                   random_phase=False)


def restore(lab: Lab) -> None:
    """Back to the start state: both routers up with all links, r1 master, and settled: the next
    failure comes at least MIN_OFF_S after this takeover (see power_return)."""
    was_master = lab.master() == "r1"
    for name, router in lab.routers.items():
        lab.topo.set_links(name, True, which=("lan", "wan"), side="switch")
        if not router.running:
            lab.power_on(name)
        elif router.ha_stopped:
            router.service("start")
    lab.sync_link(True)
    lab.vrrp_blocked(False)
    for name in lab.routers:
        lab.upstream_answers(name, True)
    lab.wait_for(lambda: lab.master() == "r1", _timeout(lab) + lab.options.preempt_delay + 10, "r1 master again")
    if not lab.options.baseline:  # and keepalived's notify script has finished its MASTER actions
        wait_notified(lab, "r1", "MASTER", 10)
        # a router that came back waits in FAULT until the sync gate opens (up to 10 s, longer on a
        # loaded machine): the next test starts from a backup, not from a node still starting
        for name in (n for n in lab.routers if n != "r1"):
            wait_notified(lab, name, "BACKUP", 30)
    if not was_master:
        time.sleep(MIN_OFF_S)


def wait_notified(lab: Lab, name: str, state: str, timeout: float) -> None:
    """Until the last transition the router's notify script wrote down is to `state`."""
    def notified() -> bool:
        last = lab.routers[name].transitions()[-1:]
        return bool(last) and state in last[0]
    lab.wait_for(notified, timeout, f"{name}'s notify script done with {state}")


def _broken_by_kind(flows: Flows, since: float) -> dict[str, int]:
    counts: dict[str, int] = {}
    for flow in flows.status():
        if flow.broken and (flow.broken_at or 0) >= since:
            counts[flow.kind] = counts.get(flow.kind, 0) + 1
    return counts


FAILURES: dict[str, tuple[Callable[[Lab], None], Callable[[Lab], None]]] = {
    # name: (fail r1, bring r1 back)
    "power": (lambda lab: lab.power_off("r1"), lambda lab: (time.sleep(MIN_OFF_S), lab.power_on("r1"))),
    "lan_link": (lambda lab: lab.lan_link("r1", False), lambda lab: lab.lan_link("r1", True)),
    "graceful": (lambda lab: lab.routers["r1"].service("stop"), lambda lab: lab.routers["r1"].service("start")),
}


def tcp_flows(lab: Lab, n: int = 10, failure: str = "power", interval: float = 0.1) -> FlowOutcome:
    """n echo flows (client talks) and n push flows (server talks first after the takeover)
    through NAT: how many survive a failover of r1 to r2 and the failback to r1."""
    fail, recover = FAILURES[failure]
    # Keepalive only after 10 s idle: a push flow must meet the new master with the server's packet
    # first (as a download does), not with a client keepalive probe that loose TCP pickup would adopt.
    with Flows(lab.topo, n=n, interval=interval, keepalive=(10, 1, 5)) as flows:
        if not flows.wait_all_established(timeout=15):
            raise AssertionError(f"flows did not establish: {[f for f in flows.status() if not f.established]}")
        total = len(flows.status())
        lab.random_phase()
        failover = time.monotonic()
        fail(lab)
        lab.wait_for(lambda: lab.master() == "r2", _timeout(lab), f"r2 takes over ({failure}, flows)")
        # survival counts data that came through the new master: packets still in flight when the
        # failure was injected would otherwise pass a dead flow off as a survivor
        taken = time.monotonic()
        flows.wait_resumed(taken, timeout=FLOW_RESUME_TIMEOUT)
        survived_failover = len(flows.survivors_since(taken))
        broken_failover = _broken_by_kind(flows, failover)

        recover(lab)
        lab.wait_for(lambda: lab.master() == "r1", _timeout(lab) + lab.options.preempt_delay, "r1 preempts (flows)")
        failback = time.monotonic()
        flows.wait_resumed(failback, timeout=FLOW_RESUME_TIMEOUT)
        survived_failback = len(flows.survivors_since(failback))
        broken_failback = _broken_by_kind(flows, failback)
    return FlowOutcome(total, survived_failover, survived_failback, broken_failover, broken_failback)


def tcp_resets(lab: Lab, router: str) -> int:
    """TCP resets the router has sent (counted by the lab's chain in fw4's table)."""
    out = lab.routers[router].exec("nft", "list", "chain", "inet", "fw4", RESETS_CHAIN).stdout
    match = re.search(r"counter packets (\d+)", out)
    return int(match.group(1)) if match else 0


@dataclass
class HandoverOutcome:
    handovers: int
    flows: int
    resets_sent: int  # by the new master, to servers whose packets met it before it had their state
    broken: int


def graceful_handovers(lab: Lab, runs: int = 3, flows: int = 30, interval: float = 0.01) -> HandoverOutcome:
    """keepalived issue 2254: in a planned handover traffic never stops, so the new master receives
    the servers' next packets at once. Count the resets it sends and the flows that break."""
    outcome = HandoverOutcome(0, 0, 0, 0)
    for _ in range(runs):
        with Flows(lab.topo, n=0, n_push=flows, interval=interval, keepalive=(10, 1, 5)) as pushing:
            if not pushing.wait_all_established(timeout=15):
                raise AssertionError("push flows did not establish")
            before = tcp_resets(lab, "r2")
            lab.routers["r1"].service("stop")
            lab.wait_for(lambda: lab.master() == "r2", _timeout(lab), "r2 takes over (graceful, push flows)")
            pushing.wait_resumed(time.monotonic(), timeout=FLOW_RESUME_TIMEOUT)
            outcome.resets_sent += tcp_resets(lab, "r2") - before
            outcome.broken += len(pushing.broken())
            outcome.handovers += 1
            outcome.flows += flows
        restore(lab)
        time.sleep(SETTLE_S)
    return outcome


@dataclass
class UdpOutcome:
    total: int
    resumed_failover: dict[str, int]  # kind -> streams flowing through the new master
    resumed_failback: dict[str, int]
    gap_ms_failover: dict[str, float]  # kind -> longest silence of that kind around the transition
    gap_ms_failback: dict[str, float]


def udp_streams(lab: Lab, streams: int = 2, failure: str = "power", resume_s: float = 10.0) -> UdpOutcome:
    """`streams` echo streams (the client sends every 10 ms, the server answers) and `streams` push
    streams (the server sends every 10 ms to the address and port the NAT gave the client, which
    sends nothing after its first datagram) through NAT, across a failover of r1 to r2 and the
    failback. A push stream can only resume through a router that holds its conntrack entry."""
    fail, recover = FAILURES[failure]
    with UdpStreams(lab.topo, echo=streams, push=streams) as udp:
        if not udp.wait_flowing(time.monotonic(), timeout=15):
            raise AssertionError(f"UDP streams did not start: {udp.status()}")
        lab.random_phase()
        failover = time.monotonic()
        fail(lab)
        lab.wait_for(lambda: lab.master() == "r2", _timeout(lab), f"r2 takes over ({failure}, UDP)")
        taken = time.monotonic()
        udp.wait_flowing(taken, timeout=resume_s)
        after_failover = udp.status()
        recover(lab)
        lab.wait_for(lambda: lab.master() == "r1", _timeout(lab) + lab.options.preempt_delay, "r1 preempts (UDP)")
        failback = time.monotonic()
        udp.wait_flowing(failback, timeout=resume_s)
        after_failback = udp.status()

    def resumed(status, since: float) -> dict[str, int]:
        return {kind: sum(1 for s in status if s.kind == kind and s.last and s.last > since) for kind in ("echo", "push")}

    def gaps(status, since: float, until: float) -> dict[str, float]:
        return {kind: max(s.gap_ms_after(since) if s.last and s.last > until else float("inf")
                          for s in status if s.kind == kind) for kind in ("echo", "push")}

    return UdpOutcome(len(after_failback), resumed(after_failover, taken), resumed(after_failback, failback),
                      gaps(after_failover, failover, taken), gaps(after_failback, failback, failback))


@dataclass
class TunnelOutcome:
    resumed_failover: bool  # the peer's pings got answers through the new master within the window
    resumed_failback: bool | None  # None: no failback run
    gap_ms_failover: float | None  # longest silence inside the tunnel around the transition (None: never resumed)
    gap_ms_failback: float | None
    endpoint_before: str  # where the peer sends the client's packets: the NAT's address and port
    endpoint_after: str
    handshakes_before: dict[str, int]  # per end, its latest handshake (epoch s)
    handshakes_after: dict[str, int]
    tunnel_age_s: float  # from the handshake to the end: below wireguard.REKEY_AFTER_S no rekey was due

    @property
    def rehandshaked(self) -> bool:
        return self.handshakes_after != self.handshakes_before


def wireguard_tunnel(lab: Lab, failure: str = "power", resume_s: float = 10.0, failback: bool = True) -> TunnelOutcome:
    """A WireGuard tunnel from the LAN client to the inet host through the NAT; the peer (inet) pings
    the client's tunnel address every 10 ms, across a failover of r1 to r2 and (`failback`) back.

    The peer drives: its encrypted datagrams reach the client only through a router that holds
    the tunnel's NAT entry, and the client sends nothing until it hears from the peer (a ping from
    the client would make a new entry on the new master by itself, as UDP echo streams do)."""
    fail, recover = FAILURES[failure]
    with wireguard.Tunnel(lab.topo) as tunnel, Pinger(lab.topo.inet_ns, wireguard.CLIENT_ADDR) as ping:
        opened = time.monotonic()
        if not ping.wait_flowing(timeout=15):
            raise AssertionError("no ping replies from the client through the WireGuard tunnel before the failure")
        endpoint, handshakes = tunnel.endpoint(), tunnel.latest_handshakes()
        lab.random_phase()
        failover = time.monotonic()
        fail(lab)
        lab.wait_for(lambda: lab.master() == "r2", _timeout(lab), f"r2 takes over ({failure}, WireGuard)")
        resumed_failover = ping.wait_flowing(timeout=resume_s, min_replies=10, since=time.monotonic())
        resumed_failback = None
        failback_at = None
        if failback:
            recover(lab)
            lab.wait_for(lambda: lab.master() == "r1", _timeout(lab) + lab.options.preempt_delay,
                         "r1 preempts (WireGuard)")
            failback_at = time.monotonic()
            resumed_failback = ping.wait_flowing(timeout=resume_s, min_replies=10, since=failback_at)
        after = (tunnel.endpoint(), tunnel.latest_handshakes())
        age = time.monotonic() - opened
        replies = ping.stop()

    def gap(since: float, until: float | None, resumed: bool | None) -> float | None:
        return replies.longest_gap_ms_between(since, until) if resumed else None

    return TunnelOutcome(resumed_failover, resumed_failback,
                         gap(failover, failback_at, resumed_failover),
                         gap(failback_at, None, resumed_failback) if failback_at else None,
                         endpoint, after[0], handshakes, after[1], round(age, 1))
