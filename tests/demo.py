"""`make demo`: a real two-router pair in network namespaces, driven by ha-pair, failing over.

The story: the routers come up from one UCI file each, r1 becomes master, a client pings the
internet through the VIP and holds 20 TCP connections through NAT; r1 loses power, r2 takes
over; r1 returns and takes back. Then the same with the `fast` profile. Everything is torn down
at the end, also on Ctrl-C.
"""

from __future__ import annotations

import sys
import time

from tests.lab import scenarios
from tests.lab.dhcp_clients import client
from tests.lab.pair_lab import Lab, LabOptions
from tests.lab.topology import LabTerminated, install_signal_handlers
from tests.lab.traffic import Flows
from tests.support import pair

T0 = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {text}", flush=True)


def generated_summary(lab: Lab) -> str:
    conf = (lab.routers["r1"].root / "var/etc/ha-pair/keepalived.conf").read_text()
    instances = conf.count("vrrp_instance ")
    group = "in one sync group" if "vrrp_sync_group" in conf else "no sync group"
    return f"keepalived.conf ({instances} VRRP instances {group}), conntrackd.conf (FTFW on the sync link eth2), " \
           "DHCP handing out the VIP as gateway and DNS"


def story(profile: str, with_flows: bool) -> None:
    options = LabOptions(profile=profile)
    print(f"\n=== profile '{profile}': VRRPv{3 if profile == 'fast' else 2}, adverts every "
          f"{options.advert_int:g} s ===", flush=True)
    with Lab(options) as lab:
        say(f"both routers up from /etc/config/ha; ha-pair generated {generated_summary(lab)}")
        say(f"r1 is master: it holds {pair.LAN_VIP} (LAN) and {pair.WAN_VIP} (WAN); r2 is backup")
        laptop = None
        if with_flows:
            # the agents started at boot, before the routers were paired: their first exchanges
            # failed and are retried
            lab.wait_for(lambda: lab.status("r2").get("lease_sync", {}).get("peer_reachable") is True, 60,
                         "lease sync up")
            say("lease sync over SSH between the paired routers is up")
            laptop = client(lab.topo.client_ns, lab.dir, 1)
            lease = laptop.lease()
            asked = time.monotonic()
            lab.wait_for(lambda: lease["ip"] in lab.routers["r2"].leases(), 10, "the lease reaches r2")
            say(f"a laptop got {lease['ip']} by DHCP from r1 (gateway and DNS {lease['router']}); the lease was "
                f"in r2's dnsmasq {(time.monotonic() - asked) * 1000:.0f} ms later (synced over SSH)")
        flows = Flows(lab.topo, n=10, keepalive=(10, 1, 5)).start() if with_flows else None
        try:
            if flows is not None:
                flows.wait_all_established(timeout=15)
                say("the client holds 20 TCP connections to the internet through NAT "
                    "(10 where it talks, 10 where the server streams to it)")
            say("the client pings the internet host through the VIP every 16 ms; r1 now loses power")
            down = scenarios.power_loss(lab)
            failover = time.monotonic()  # r2 holds the VIPs: data from now on came through it
            say(f"r2 took over both VIPs {down.takeover_s * 1000:.0f} ms after the power loss; "
                f"the client's longest gap was {down.gap_ms:.0f} ms, {down.lost} pings lost")
            if flows is not None:
                flows.wait_resumed(failover, timeout=scenarios.FLOW_RESUME_TIMEOUT)
                say(f"{len(flows.survivors_since(failover))} of 20 TCP connections carried on through r2 "
                    "(conntrackd had synced their state)")
            if laptop is not None:
                again = laptop.lease(requested=lease["ip"])
                say(f"the laptop renewed with r2 (server {again.get('serverid')}) and kept {again.get('ip')}")
            say("r1 gets its power back")
            back = scenarios.power_return(lab)
            say(f"r1 booted (procd to the end of /etc/rc.d in {lab.boot_seconds['r1']:.1f} s) and took the VIPs back "
                f"{back.takeover_s * 1000:.0f} ms after power-on (preempt); longest gap {back.gap_ms:.0f} ms, "
                f"{back.lost} pings lost")
            if flows is not None:
                failback = time.monotonic()
                flows.wait_resumed(failback, timeout=scenarios.FLOW_RESUME_TIMEOUT)
                say(f"{len(flows.survivors_since(failback))} of 20 TCP connections are still alive on r1")
        finally:
            if flows is not None:
                flows.stop()
    say("lab torn down: no namespace or process left")


def main() -> int:
    install_signal_handlers()
    print("ha-pair demo: two OpenWrt routers (r1 primary, r2 secondary) in namespaces, each booted by procd from its\n"
          "/etc/config (netifd, fw4, dnsmasq, dropbear), ha-pair installed on both and paired over SSH; a client on\n"
          "the LAN, an internet host on the WAN.")
    try:
        story("default", with_flows=True)
        story("fast", with_flows=False)
    except (KeyboardInterrupt, LabTerminated):
        print("\ninterrupted: lab torn down", file=sys.stderr)
        return 130
    print(f"\ndone in {time.monotonic() - T0:.0f} s. `make bench` repeats these measurements; `make test` runs "
          "every scenario.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
