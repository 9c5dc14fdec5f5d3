# One dynamic public IP (ha.global.single_wan_ip): keep the backup silent on the shared WAN.
# Sourced after paths.sh by keepalived's notify script and the init script; acts only when ha-pair
# generated $HA_WAN_SILENCE (the table `netdev ha_pair_wan`, see src/ha_pair/render/wan_silence.py).
#
#   wan_speak no    drop every frame the WAN device sends (ARP replies, DHCP, IPv6 included), then
#                   freeze the WAN's DHCP client (SIGSTOP): it keeps the shared address and routes
#                   and never reaches its lease's end, which would remove them; the master renews
#                   the lease for the shared MAC meanwhile, so the ISP sees one client
#   wan_speak yes   let the device speak, resume the DHCP client and have it renew at once
#                   (SIGUSR1): the renewal is the new master's first frame, so the ISP's switch
#                   learns the shared MAC on this port; a client without a lease yet asks for one
#   wan_speak free  what a node that is no longer part of a pair needs: the table gone, the client
#                   resumed

# The WAN device, from the loaded table (what the node runs with), else from the generated file
# (the one place ha-pair wrote it, validated)
wan_device() {
	{ nft list chain netdev ha_pair_wan wan_egress 2>/dev/null || cat "$HA_WAN_SILENCE" 2>/dev/null; } |
		sed -n 's/.*hook egress device "\([^"]*\)".*/\1/p' | head -n 1
}

# netifd's udhcpc on that device (OpenWrt's dhcp.sh: -p /var/run/udhcpc-<device>.pid)
wan_dhcp_client() {
	local device pid
	device="$(wan_device)"
	[ -n "$device" ] || return 0
	read -r pid < "${HA_PAIR_ROOT:-}/var/run/udhcpc-$device.pid" 2>/dev/null || return 0
	[ -n "$pid" ] || return 0
	for signal in "$@"; do kill "-$signal" "$pid" 2>/dev/null; done
	return 0
}

wan_speak() {
	[ "$1" = free ] || [ -f "$HA_WAN_SILENCE" ] || return 0
	case "$1" in
		yes)
			nft flush chain netdev ha_pair_wan wan_backup || return 1
			wan_dhcp_client CONT USR1
			;;
		no)
			printf 'flush chain netdev ha_pair_wan wan_backup\nadd rule netdev ha_pair_wan wan_backup counter drop\n' |
				nft -f - || return 1
			wan_dhcp_client STOP
			;;
		free)
			wan_dhcp_client CONT
			nft delete table netdev ha_pair_wan 2>/dev/null
			return 0
			;;
	esac
}
