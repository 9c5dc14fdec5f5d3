"""Lease sync's I/O edge around the pure core in leases/: this node's knowledge on disk and
dnsmasq's lease file (store), the dnsmasq import (importer), SSH to the peer (transport), the
forced command the peer runs here (peer), one round of sync (sync)."""
