# The DHCP guard (ha.dhcp.managed): only the master answers DHCP and DHCPv6 and advertises itself
# as IPv6 router. Sourced after paths.sh and nft-switch.sh by keepalived's notify script and the
# init script; acts only when ha-pair generated $HA_DHCP_GUARD (the tables $HA_NFT_DHCP_TABLE and
# $HA_NFT_DHCP_BRIDGE_TABLE, see src/ha_pair/render/dhcp_guard.py for how they work).
#
#   dhcp_guard_switch yes|no   answer (master) or not (backup, fault): one nft call, one transaction
#   dhcp_guard_load            (re)load the generated tables, whether this node answers kept as
#                              the notify script last recorded it ($HA_DHCP_ANSWERING): a reload
#                              neither silences a master nor opens a backup, and a changed file
#                              (other LAN devices, a package upgrade) takes effect
#   dhcp_guard_remove          delete both tables, in one transaction: DHCP is answered normally

dhcp_guard_switch() {
	if [ "$1" = yes ]; then
		nft_switch_open "$HA_NFT_DHCP_TABLE" "$HA_NFT_DHCP_SWITCH"
	else
		nft_switch_close "$HA_NFT_DHCP_TABLE" "$HA_NFT_DHCP_SWITCH" "$HA_NFT_DHCP_BACKUP_RULE"
	fi
}

dhcp_guard_load() {
	# under the notify script's lock: a transition's serialised run switches after this, on the
	# latest state (its early "stop answering", outside the lock, is repeated inside it)
	(
		flock 9
		if [ "$(cat "$HA_DHCP_ANSWERING" 2>/dev/null)" = yes ]; then
			{ cat "$HA_DHCP_GUARD" && printf 'flush chain %s %s\n' "$HA_NFT_DHCP_TABLE" "$HA_NFT_DHCP_SWITCH"; } |
				nft -f -
		else
			nft -f "$HA_DHCP_GUARD" && echo no > "$HA_DHCP_ANSWERING"
		fi
	) 9>>"$HA_NOTIFY_LOCK"
}

dhcp_guard_remove() {
	# `table X` before `delete table X`: no error for a table that is not there
	printf 'table %s\ndelete table %s\ntable %s\ndelete table %s\n' "$HA_NFT_DHCP_TABLE" "$HA_NFT_DHCP_TABLE" \
		"$HA_NFT_DHCP_BRIDGE_TABLE" "$HA_NFT_DHCP_BRIDGE_TABLE" | nft -f -
	rm -f "$HA_DHCP_ANSWERING"
}
