# A switched nftables chain, as the DHCP guard and the WAN silence each have one: empty, it lets
# everything pass; holding the backup's rule alone, it drops what that rule matches. Either way
# one nft call, one transaction. Sourced after paths.sh, before dhcp-guard.sh and wan-silence.sh.
#
#   nft_switch_open TABLE CHAIN          empty the chain
#   nft_switch_close TABLE CHAIN RULE    the chain holds RULE alone
# TABLE is family and name (e.g. "inet NAME"), as paths.sh spells it.

nft_switch_open() {
	nft flush chain $1 $2
}

nft_switch_close() {
	printf 'flush chain %s %s\nadd rule %s %s %s\n' "$1" "$2" "$1" "$2" "$3" | nft -f -
}
