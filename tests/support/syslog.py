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
# - "procd: Got unexpected signal 1": dnsmasq's init `reload` (reload_service: start_service, then
#   procd_send_signal dnsmasq) has procd restart the instance whose configuration changed and signal
#   the service's instances at once. A SIGHUP that reaches the freshly forked child before it execs
#   dnsmasq runs the handler the child inherited from procd (procd's signal.c, signal_dummy), which
#   logs this; the child then execs dnsmasq all the same. Traced in the package lab with the
#   kernel's signal_generate event: SIGHUP from procd to a process still named procd, once in a
#   full run (24.10's fresh router, during the boot's interface reloads).
OPENWRT_OWN_ERRORS = ("procd: Got unexpected signal 1",)
_ERROR_PRIORITY = re.compile(r"\s[a-z]+\.err\s")


def errors(log: str) -> list[str]:
    """The lines of `log` logged with priority err (daemon.err, user.err, ...), but for OpenWrt's
    own harmless ones (OPENWRT_OWN_ERRORS)."""
    return [line for line in log.splitlines()
            if _ERROR_PRIORITY.search(line) and not any(known in line for known in OPENWRT_OWN_ERRORS)]
