"""The configuration matrix for golden tests and `keepalived -t`: together the cases use every
option of /etc/config/ha (test_render_golden checks that)."""

from __future__ import annotations

from tests.support import pair

NETWORK_V6 = pair.network("r1").replace(
    "option netmask '255.255.255.0'\n\nconfig interface 'wan'",
    "option netmask '255.255.255.0'\n\tlist ip6addr 'fd00:50::2/64'\n\nconfig interface 'wan'",
)

# An extra interface, not carrying a VIP, to track as a health check.
NETWORK_UPLINK2 = pair.network("r1") + """
config interface 'wan2'
	option device 'eth3'
	option proto 'dhcp'

config interface 'wan3'
	option device 'eth4'
	option proto 'dhcp'
"""

# The LAN bridge with a second port: lan1 is the uplink to the LAN switch, lan2 a local client.
NETWORK_TWO_PORTS = pair.network("r1").replace("list ports 'lan1'", "list ports 'lan1'\n\tlist ports 'lan2'")

CHECKS = """
config check 'upstream'
	option type 'ping'
	option target '198.51.100.254'
	option interval '1'
	option timeout '1'
	option fall '2'
	option rise '3'
	option failure 'weight'
	option weight '-80'

config check 'custom'
	option type 'script'
	option script '/usr/bin/ha-custom-check'
	option failure 'fault'

config check 'uplink2'
	option type 'interface'
	option interface 'wan2'
	option failure 'weight'
	option weight '-70'

config check 'uplink3'
	option type 'interface'
	option interface 'wan3'
	option failure 'fault'
"""

SINGLE_VIP = """
config global 'global'
	option enabled '1'
	option role 'secondary'
	option peer '10.255.0.2'
	option sync_interface 'sync'
	option node_name 'edge-b'
	option priority '90'

config vip 'lan'
	option interface 'lan'
	option vrid '7'
	list address '192.168.50.1/24'

config check 'upstream'
	option type 'ping'
	option target '198.51.100.254'

config check 'custom'
	option type 'script'
	option script '/usr/bin/ha-custom-check'
	option failure 'fault'

config conntrack 'conntrack'
	option enabled '0'

config dhcp 'dhcp'
	option managed '0'
	option lease_sync '0'
"""

# name -> (router, ha text, network text or None for the router's default)
# One dynamic public IP: the WAN gets its address by DHCP with a shared MAC, its default route in
# table 250; the fallback route via the LAN VIP in table 240 (what `ha-pair show` proposes)
NETWORK_SINGLE_WAN = pair.network("r1").replace(
    "\toption device 'eth1'\n\toption proto 'static'\n\toption ipaddr '198.51.100.2'\n"
    "\toption netmask '255.255.255.0'\n\toption gateway '198.51.100.254'\n",
    "\toption device 'eth1'\n\toption proto 'dhcp'\n\toption ip4table '250'\n"
) + """
config device
\toption name 'eth1'
\toption macaddr '02:aa:bb:cc:dd:01'

config route
\toption interface 'lan'
\toption target '0.0.0.0/0'
\toption gateway '192.168.50.1'
\toption table '240'

config rule
\toption in 'loopback'
\toption lookup '240'
\toption priority '32780'
"""
SINGLE_WAN_HA = pair.ha("r1", extra_global="\toption single_wan_ip 'wan'\n").replace(
    "config vip 'wan'\n\toption interface 'wan'\n\toption vrid '52'\n\tlist address '198.51.100.1/24'\n", ""
).replace("option vrid '51'", "option vrid '51'\n\toption use_vmac '1'")

CASES: dict[str, tuple[str, str, str | None]] = {
    "pair-r1": ("r1", pair.ha("r1"), None),
    "pair-r2": ("r2", pair.ha("r2"), None),
    "single-vip": ("r1", SINGLE_VIP, None),
    "fast-profile": ("r1", pair.ha("r1", extra_global="\toption profile 'fast'\n"), None),
    "fastest-profile": ("r1", pair.ha("r1", extra_global="\toption profile 'fastest'\n"), None),
    "fast-not-realtime": ("r2", pair.ha("r2", extra_global="\toption profile 'fast'\n\toption realtime '0'\n"), None),
    "v3-preempt-delay": ("r1", pair.ha("r1", extra_global=(
        "\toption vrrp_version '3'\n\toption advert_int '0.5'\n\toption preempt_delay '30'\n")), None),
    # the split-brain policy and config sync are the agent's: keepalived.conf is the same with them
    "nopreempt": ("r2", pair.ha("r2", extra_global="\toption preempt '0'\n\toption split_brain 'secondary_steps_down'\n"
                                                   "\toption split_brain_recheck '30'\n\toption config_sync 'push'\n"),
                  None),
    "initial-master": ("r1", pair.ha("r1", extra_global="\toption initial_state 'master'\n"), None),
    "unicast": ("r1", pair.ha("r1", extra_global="\toption unicast '1'\n").replace(
        "list address '192.168.50.1/24'",
        "list address '192.168.50.1/24'\n\toption unicast_peer '192.168.50.3'").replace(
        "list address '198.51.100.1/24'",
        "list address '198.51.100.1/24'\n\toption unicast_peer '198.51.100.3'\n\toption unicast_src '198.51.100.2'"),
        None),
    "auth-pass": ("r1", pair.ha("r1", extra_global="\toption auth_type 'pass'\n\toption auth_pass 'S3cr3t-x'\n"), None),
    "ipv6": ("r1", pair.ha("r1", extra_global="\toption vrrp_version '3'\n", extra="""
config vip 'lan6'
	option interface 'lan'
	option vrid '61'
	list address 'fd00:50::100/64'
""").replace("list address '192.168.50.1/24'", "list address '192.168.50.1/24'\n\tlist address 'fd00:50::1/64'"),
        NETWORK_V6),
    # IPv6 on the LAN: a virtual link-local router address and a ULA VIP in the IPv4 LAN instance
    "ipv6-lan": ("r1", pair.ha("r1", extra_global="\toption profile 'fast'\n").replace(
        "list address '192.168.50.1/24'",
        "list address '192.168.50.1/24'\n\tlist address 'fe80::1'\n\tlist address 'fd00:50::1/64'"), NETWORK_V6),
    "routes-rules": ("r1", pair.ha("r1").replace(
        "list address '198.51.100.1/24'",
        "list address '198.51.100.1/24'\n\tlist virtual_routes '0.0.0.0/0 via 198.51.100.254 dev eth1 table 250'"
        "\n\tlist virtual_rules 'to all lookup 250 priority 32770'"), None),
    "single-wan": ("r1", SINGLE_WAN_HA, NETWORK_SINGLE_WAN),
    "vmac": ("r1", pair.ha("r1").replace("option vrid '51'", "option vrid '51'\n\toption use_vmac '1'"), None),
    "checks": ("r1", pair.ha("r1", extra=CHECKS), NETWORK_UPLINK2),
    "track-port": ("r1", pair.ha("r1").replace("option vrid '51'", "option vrid '51'\n\tlist track_port 'lan1'"),
                   NETWORK_TWO_PORTS),
    "conntrack-multicast": ("r1", pair.ha("r1").replace(
        "config conntrack 'conntrack'\n\toption enabled '1'\n",
        "config conntrack 'conntrack'\n\toption enabled '1'\n\toption transport 'multicast'\n"
        "\toption multicast_group '225.0.0.51'\n\toption port '3781'\n\toption mode 'notrack'\n"
        "\tlist ignore_address '192.0.2.0/24'\n\tlist ignore_address '2001:db8::1'\n"), None),
    "conntrack-alarm": ("r1", pair.ha("r1").replace(
        "config conntrack 'conntrack'\n\toption enabled '1'\n",
        "config conntrack 'conntrack'\n\toption enabled '1'\n\toption mode 'alarm'\n"
        "\tlist protocol 'udp'\n\tlist protocol 'tcp'\n"), None),
    "conntrack-external": ("r1", pair.ha("r1").replace(
        "config conntrack 'conntrack'\n\toption enabled '1'\n",
        "config conntrack 'conntrack'\n\toption enabled '1'\n\toption disable_external_cache '0'\n"), None),
    "dhcp-sections": ("r1", pair.ha("r1").replace(
        "config dhcp 'dhcp'\n\toption managed '1'\n",
        "config dhcp 'dhcp'\n\toption managed '1'\n\tlist section 'lan'\n\toption lease_sync '1'\n"
        "\toption reconcile_interval '30'\n\toption ssh_port '2222'\n"), None),
}

EXECUTABLES = ("/usr/bin/ha-custom-check",)
