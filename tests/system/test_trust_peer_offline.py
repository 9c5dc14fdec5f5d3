"""trust-peer with no peer to answer, in an empty network namespace (needs root): the peer address of
the example configuration is never contacted on the host's network. It fails plainly and pins
nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import pair, tree
from tests.support.privileges import isolated_net

REPO = Path(__file__).resolve().parents[2]


def test_trust_peer_without_yes_and_without_a_terminal_does_not_pin(tmp_path: Path):
    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    # no peer answers here: the command must fail plainly, never pin anything
    out = subprocess.run([*isolated_net(), sys.executable, "-m", "ha_pair", "--root", str(root), "trust-peer"],
                         capture_output=True, text=True, input="", env={**os.environ, "PYTHONPATH": str(REPO / "src")},
                         timeout=60)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert not (root / "etc/ha-pair/.ssh/known_hosts").exists()
