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
#   procd has just forked for a service instance and that has not exec'd yet: a reload signal sent
#   to that instance (procd's `service signal`, which OpenWrt's dnsmasq init sends right after its
#   start_service in reload_service; or an instance's reload_signal) reaches the child first; it
#   logs this and then execs the service all the same. Seen in a full run with the kernel's
#   signal_generate event: SIGHUP from a router's procd to a process still named procd (its
#   instance child), once (24.10's fresh router); which service it was for was not caught.
OPENWRT_OWN_ERRORS = ("procd: Got unexpected signal 1",)
_ERROR_PRIORITY = re.compile(r"\s[a-z]+\.err\s")


def errors(log: str) -> list[str]:
    """The lines of `log` logged with priority err (daemon.err, user.err, ...), but for OpenWrt's
    own harmless ones (OPENWRT_OWN_ERRORS)."""
    return [line for line in log.splitlines()
            if _ERROR_PRIORITY.search(line) and not any(known in line for known in OPENWRT_OWN_ERRORS)]
