"""What the tests look for in a router's syslog (OpenWrt's logread), in one place."""

from __future__ import annotations

import re

# A send the kernel refused, as OpenWrt's DHCP daemons log it: odhcpd "Failed to send to ... (%m)"
# (daemon.err), dnsmasq "Error sending DHCP packet to ...: %s" (daemon.warn, tag dnsmasq-dhcp).
_SEND_FAILED = re.compile(r"\b(?:odhcpd|dnsmasq\S*)\[\d+\]: (?:Failed to send|Error sending)")


def failed_sends(log: str) -> list[str]:
    """The lines of `log` in which odhcpd or dnsmasq says a packet it sent was refused."""
    return [line for line in log.splitlines() if _SEND_FAILED.search(line)]
