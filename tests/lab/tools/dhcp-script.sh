#!/bin/sh
# Lab stand-in for OpenWrt's /usr/lib/dnsmasq/dhcp-script.sh, copied into each router tree:
# dnsmasq's lease events (add/old/del) become hotplug "dhcp" events, i.e. every hook in
# $root/etc/hotplug.d/dhcp/ runs with ACTION, MACADDR, IPADDR, HOSTNAME set.
# usage (by dnsmasq): dhcp-script.sh ACTION MAC IP [NAME]
root="${0%/usr/lib/dnsmasq/dhcp-script.sh}"
case "$1" in add|old|del|update) ;; *) exit 0 ;; esac
export ACTION="$1" MACADDR="$2" IPADDR="$3" HOSTNAME="$4" HA_PAIR_ROOT="$root"
for hook in "$root"/etc/hotplug.d/dhcp/*; do
	[ -f "$hook" ] && ( . "$hook" )
done
exit 0
