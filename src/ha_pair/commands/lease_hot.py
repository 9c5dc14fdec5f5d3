"""The two lease commands on the propagation path, in a module of their own: the forced command
(run by dropbear for every push and exchange from the peer) and the import helper (run by the
agent for every import). They start without argparse (cli._quick_parse) and without what the
other lease commands need (config validation, shutil, base64): ~40 % of the forced command's
start-up on a lab router."""

from __future__ import annotations

import os
import sys
import time

from ..paths import Paths
from .output import EXIT_OK

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    import argparse


def lease_peer(args: argparse.Namespace, paths: Paths) -> int:
    """The forced command (run by dropbear for the sync key): the verb is SSH_ORIGINAL_COMMAND."""
    from ..leasesync import peer

    verb = os.environ.get("SSH_ORIGINAL_COMMAND", "").strip()
    peer.bound_process()
    peer.no_cycle_collection()
    return peer.serve(paths, verb, sys.stdin.buffer, sys.stdout.buffer)


def lease_import(args: argparse.Namespace, paths: Paths) -> int:
    """The stop/swap/start sequence in a process of its own (see leasesync/importer.py). Exit 0: the
    file changed, 3: it was already up to date."""
    from ..leasesync.importer import run_import

    now = args.now if args.now is not None else int(time.time())
    return EXIT_OK if run_import(paths, now) else 3
