"""The syslog patterns the lab and package tests look for match the lines OpenWrt's logread shows."""

from tests.support.syslog import errors, failed_sends

# as logread shows them (odhcpd's since the guard used an IP output hook; dnsmasq's for a late offer)
ODHCPD = ("Wed Dec  2 04:12:01 2026 daemon.err odhcpd[1702]: Failed to send to ff02::1%br-lan@br-lan "
          "(Operation not permitted)")
DNSMASQ = ("Wed Dec  2 04:12:02 2026 daemon.warn dnsmasq-dhcp[1893]: Error sending DHCP packet to "
           "192.168.50.113: Operation not permitted")
FINE = ("Wed Dec  2 04:12:03 2026 daemon.info dnsmasq-dhcp[1893]: DHCPOFFER(br-lan) 192.168.50.113 "
        "02:00:00:00:00:13", "Wed Dec  2 04:12:04 2026 daemon.notice netifd: Interface 'lan' is now up")


def test_a_refused_send_of_odhcpd_or_dnsmasq_is_found_and_nothing_else():
    log = "\n".join([FINE[0], ODHCPD, FINE[1], DNSMASQ])
    assert failed_sends(log) == [ODHCPD, DNSMASQ]
    assert failed_sends("\n".join(FINE)) == []


def test_error_lines_are_those_of_priority_err_but_openwrts_own_harmless_one():
    procd = "Wed Dec  2 05:13:44 2026 daemon.err procd: Got unexpected signal 1"
    user = "Wed Dec  2 05:13:45 2026 user.err ha-pair: could not load /var/etc/ha-pair/wan-silence.nft"
    log = "\n".join([procd, FINE[0], ODHCPD, DNSMASQ, user, FINE[1]])
    assert errors(log) == [ODHCPD, user], "dnsmasq's is a warning; procd's child is OpenWrt's own race"
