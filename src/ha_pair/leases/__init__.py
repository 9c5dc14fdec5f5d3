"""DHCP lease synchronisation core: dnsmasq's lease file parsed, written and merged.

Pure functions only; moving files between the routers is done elsewhere.
"""

from . import lines
from .merge import INFINITE_TOMBSTONE_TTL, TOMBSTONE_GRACE, MergeResult, diff, merge
from .model import Lease, LeaseDb, LeaseError, Tombstone
from .parse import LineProblem, ParseResult, parse_leases, parse_state
from .write import serialise, serialise_state

__all__ = [
    "INFINITE_TOMBSTONE_TTL", "TOMBSTONE_GRACE", "Lease", "LeaseDb", "LeaseError", "LineProblem",
    "MergeResult", "ParseResult", "Tombstone", "diff", "merge", "parse_leases", "parse_state",
    "serialise", "serialise_state", "lines",
]
