# One dynamic public IP (ha.global.single_wan_ip): keep the backup silent on the shared WAN.
# Sourced after paths.sh and nft-switch.sh by keepalived's notify script and the init script; acts
# only when ha-pair generated $HA_WAN_SILENCE (the table $HA_NFT_WAN_TABLE, see
# src/ha_pair/render/wan_silence.py).
#
#   wan_speak no    drop every frame the WAN device sends (ARP replies, DHCP, IPv6 included), then
#                   freeze the WAN's DHCP client (SIGSTOP): it keeps the shared address and routes
#                   and never reaches its lease's end, which would remove them; the master renews
#                   the lease for the shared MAC meanwhile, so the ISP sees one client
#   wan_speak yes   let the device speak, resume the DHCP client and have it renew at once
#                   (SIGUSR1): the renewal is the new master's first frame, so the ISP's switch
#                   learns the shared MAC on this port. A client without a lease (this node booted
#                   as backup) ignores SIGUSR1 while it is discovering (busybox: "initial
#                   negotiations in progress") and would wait for its next retry, up to 3 s: netifd
#                   restarts it instead (ifup), and the new one asks at once
#   wan_speak again the master's WAN open again, its client running (no renewal): undoes a silence
#                   that landed after this node became master (see the notify script's end)
#   wan_speak free  what a node that is no longer part of a pair needs: the table gone, the client
#                   resumed

# The WAN device, from the loaded table (what the node runs with), else from the generated file
# (the one place ha-pair wrote it, validated)
wan_device() {
	{ nft list chain $HA_NFT_WAN_TABLE $HA_NFT_WAN_EGRESS 2>/dev/null || cat "$HA_WAN_SILENCE" 2>/dev/null; } |
		sed -n 's/.*hook egress device "\([^"]*\)".*/\1/p' | head -n 1
}

# netifd's udhcpc on that device (OpenWrt's dhcp.sh: -p /var/run/udhcpc-<device>.pid), or nothing
wan_dhcp_pid() {
	local device pid
	device="$(wan_device)"
	[ -n "$device" ] || return 0
	read -r pid < "${HA_PAIR_ROOT:-}/var/run/udhcpc-$device.pid" 2>/dev/null
	[ -n "$pid" ] && [ -d "/proc/$pid" ] && echo "$pid"
}

wan_dhcp_client() {
	local pid
	pid="$(wan_dhcp_pid)"
	[ -n "$pid" ] || return 0
	for signal in "$@"; do kill "-$signal" "$pid" 2>/dev/null; done
	return 0
}

# MASTER: renew a held lease, or have netifd start a client that asks for one now
wan_dhcp_now() {
	local pid interface
	pid="$(wan_dhcp_pid)"
	[ -n "$pid" ] || return 0
	kill -CONT "$pid" 2>/dev/null
	if ip -4 addr show dev "$(wan_device)" 2>/dev/null | grep -q ' inet '; then
		kill -USR1 "$pid" 2>/dev/null
	else
		# netifd runs the client with the logical interface's name in INTERFACE
		interface="$(tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | sed -n 's/^INTERFACE=//p')"
		[ -n "$interface" ] && ifup "$interface" </dev/null >/dev/null 2>&1 &
	fi
	return 0
}

wan_speak() {
	[ "$1" = free ] || [ -f "$HA_WAN_SILENCE" ] || return 0
	case "$1" in
		yes)
			nft_switch_open "$HA_NFT_WAN_TABLE" "$HA_NFT_WAN_SWITCH" || return 1
			wan_dhcp_now
			;;
		no)
			nft_switch_close "$HA_NFT_WAN_TABLE" "$HA_NFT_WAN_SWITCH" "$HA_NFT_WAN_BACKUP_RULE" || return 1
			wan_dhcp_client STOP
			;;
		again)
			nft_switch_open "$HA_NFT_WAN_TABLE" "$HA_NFT_WAN_SWITCH" || return 1
			wan_dhcp_client CONT
			;;
		free)
			wan_dhcp_client CONT
			nft delete table $HA_NFT_WAN_TABLE 2>/dev/null
			return 0
			;;
	esac
}
