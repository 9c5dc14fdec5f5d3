"""What the tests look for in a router's syslog (OpenWrt's logread), in one place."""

from __future__ import annotations

import re

# A send the kernel refused, as OpenWrt's DHCP daemons log it: odhcpd "Failed to send to ... (%m)"
# (daemon.err), dnsmasq "Error sending DHCP packet to ...: %s" (daemon.warn, tag dnsmasq-dhcp).
_SEND_FAILED = re.compile(r"\b(?:odhcpd|dnsmasq\S*)\[\d+\]: (?:Failed to send|Error sending)")


def failed_sends(log: str) -> list[str]:
    """The lines of `log` in which odhcpd or dnsmasq says a packet it sent was refused."""
    return [line for line in log.splitlines() if _SEND_FAILED.search(line)]


# OpenWrt's own harmless error lines, not ha-pair's:
# - "procd: Got unexpected signal 1": procd's SIGHUP handler (signal.c, signal_dummy), in a child
#   procd has just forked for dnsmasq's instance and that has not exec'd yet. OpenWrt's dnsmasq init
#   `reload` (reload_service: start_service, then procd_send_signal dnsmasq) has procd restart the
#   instance whose configuration changed and signal the service's instances at once; the new child
#   gets the SIGHUP first, logs this, and then execs dnsmasq all the same. Traced with the kernel's
#   signal_generate and sched_process_exec events: /etc/init.d/dnsmasq runs, 6 ms later procd sends
#   SIGHUP to a process still named procd, which execs /usr/sbin/dnsmasq 0.35 ms after.
OPENWRT_OWN_ERRORS = ("procd: Got unexpected signal 1",)
_ERROR_PRIORITY = re.compile(r"\s[a-z]+\.err\s")


def errors(log: str) -> list[str]:
    """The lines of `log` logged with priority err (daemon.err, user.err, ...), but for OpenWrt's
    own harmless ones (OPENWRT_OWN_ERRORS)."""
    return [line for line in log.splitlines()
            if _ERROR_PRIORITY.search(line) and not any(known in line for known in OPENWRT_OWN_ERRORS)]
