"""paths.Paths for the package's shell scripts: /usr/share/ha-pair/paths.sh, which the init script,
keepalived's notify and check scripts and the dhcp hotplug hook source, so that every file name
they share with the Python side is spelled once, in paths.py; and the nftables tables and chains
the scripts switch, spelled once in the renderers that generate them; and the numbers they write
for keepalived's tracked files, spelled once in operate/hold.py. A test keeps the shipped
file equal to this output; regenerate it with
`PYTHONPATH=src python3 -m ha_pair.shell_paths > files/usr/share/ha-pair/paths.sh`.
"""

from __future__ import annotations

from .paths import Paths
from .operate import hold
from .render import dhcp_guard, wan_silence

TARGET = "files/usr/share/ha-pair/paths.sh"
ROOT = "HA_PAIR_ROOT"  # set by the sourcing script: "" on a router, a router tree's directory in the lab

# shell variable -> Paths property
VARIABLES = (
    ("HA_GENERATED_DIR", "generated_dir"),
    ("HA_RUN_DIR", "run_dir"),
    ("HA_CHECKS_DIR", "checks_dir"),
    ("HA_HOOKS_DIR", "hooks_dir"),
    ("HA_COMMAND", "command"),
    ("HA_HOOKS", "hooks_runner"),
    ("HA_CONNTRACKD_RUN", "conntrackd_run"),
    ("HA_KEEPALIVED_RUN", "keepalived_run"),
    ("HA_CONNTRACKD_RESYNC", "conntrackd_resync"),
    ("HA_SYNC_GATE_SCRIPT", "sync_gate_script"),
    ("HA_OPENWRT_SERVICES", "openwrt_services"),
    ("HA_KEEPALIVED_CONF", "keepalived_conf"),
    ("HA_CONNTRACKD_CONF", "conntrackd_conf"),
    ("HA_DHCP_GUARD", "dhcp_guard"),
    ("HA_WAN_SILENCE", "wan_silence"),
    ("HA_EVENTS_FIFO", "events_fifo"),
    ("HA_STATE_FILE", "state_file"),
    ("HA_TRANSITIONS_LOG", "transitions_log"),
    ("HA_DHCP_ANSWERING", "dhcp_answering"),
    ("HA_HOLD_FILE", "hold_file"),
    ("HA_SYNC_GATE", "sync_gate"),
    ("HA_NOTIFY_LOG", "notify_log"),
    ("HA_NOTIFY_WANTED", "notify_wanted"),
    ("HA_NOTIFY_DONE", "notify_done"),
    ("HA_NOTIFY_LOCK", "notify_lock"),
    ("HA_NOTIFY_ORDER_LOCK", "notify_order_lock"),
    ("HA_RENDER_CHANGED", "render_changed"),
    ("HA_KEEPALIVED_PID", "keepalived_pid"),
    ("HA_KEEPALIVED_VRRP_PID", "keepalived_vrrp_pid"),
    ("HA_HA_CONFIG", "ha_config"),
    ("HA_NETWORK_CONFIG", "network_config"),
    ("HA_DHCP_CONFIG", "dhcp_config"),
    ("HA_SYSTEM_CONFIG", "system_config"),
    ("HA_DNSMASQ_INIT", "dnsmasq_init"),
    ("HA_DNSMASQ_LOCK", "dnsmasq_lock"),
    ("HA_DNSMASQ_BEHIND", "dnsmasq_behind"),
)


# shell variable -> an nftables name the scripts use (tables with their family, as `nft` takes them)
NFT_NAMES = (
    ("HA_NFT_DHCP_TABLE", dhcp_guard.TABLE),
    ("HA_NFT_DHCP_BRIDGE_TABLE", dhcp_guard.BRIDGE_TABLE),
    ("HA_NFT_DHCP_SWITCH", dhcp_guard.SWITCH_CHAIN),
    ("HA_NFT_DHCP_BACKUP_RULE", dhcp_guard.switch_rule()),
    ("HA_NFT_WAN_TABLE", wan_silence.TABLE),
    ("HA_NFT_WAN_EGRESS", wan_silence.EGRESS_CHAIN),
    ("HA_NFT_WAN_SWITCH", wan_silence.BACKUP_CHAIN),
    ("HA_NFT_WAN_BACKUP_RULE", wan_silence.switch_rule()),
)


# shell variable -> a number the scripts write into a file keepalived tracks (operate/hold.py)
TRACK_VALUES = (
    ("HA_TRACK_YIELD", hold.YIELD),  # the hold file after a handover: priority 1
    ("HA_TRACK_FAULT", hold.OUT),  # FAULT: maintenance, and the sync gate while closed
)


def values(paths: Paths) -> dict[str, str]:
    """Each variable's value for a root, as the sourced fragment sets it."""
    return {name: str(getattr(paths, attribute)) for name, attribute in VARIABLES}


def fragment() -> str:
    lines = [
        "# Generated from ha-pair's src/ha_pair/paths.py and the nftables names of its renderers by",
        "# ha_pair.shell_paths: do not edit (a test compares the two). Sourced by the package's shell",
        "# scripts with HA_PAIR_ROOT set to the router tree's root: empty on a router, a directory in the lab.",
    ]
    lines += [f'{name}="${{{ROOT}:-}}{value}"' for name, value in values(Paths("/")).items()]
    lines += [f'{name}="{value}"' for name, value in NFT_NAMES]
    lines += [f'{name}="{value}"' for name, value in TRACK_VALUES]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(fragment(), end="")
