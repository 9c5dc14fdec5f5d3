"""Merge time for two large lease databases, for the benchmark harness."""

from __future__ import annotations

import ipaddress
import time

from ha_pair.leases import Lease, LeaseDb, merge

NOW = 1_800_000_000


def lease(index: int, expiry: int) -> Lease:
    """Lease number `index`: its own MAC, client-id and IPv4 address (10.0.0.0/8)."""
    octets = index.to_bytes(5, "big")
    return Lease(expiry, ipaddress.IPv4Address(0x0A000000 + index), b"host%d" % index,
                 client_id="01:" + octets.hex(":"), mac="02:" + octets.hex(":"))


def two_dbs(n: int = 50_000) -> tuple[LeaseDb, LeaseDb]:
    """n leases each, the second half of a's being b's first half, renewed later on b."""
    a = LeaseDb(tuple(lease(i, NOW + 3600 + i % 600) for i in range(n)))
    b = LeaseDb(tuple(lease(i, NOW + 7200 + i % 600) for i in range(n // 2, n // 2 + n)))
    return a, b


def bench_merge(n: int = 50_000) -> float:
    """Milliseconds to merge two n-lease databases that overlap by half."""
    a, b = two_dbs(n)
    start = time.perf_counter()
    merge(a, b, NOW)
    return (time.perf_counter() - start) * 1000


if __name__ == "__main__":
    print(f"merge of two 50k-lease dbs: {bench_merge():.0f} ms")
