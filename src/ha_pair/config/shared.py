"""Which options of /etc/config/ha belong to one node and which the pair shares: the shared part's
digest is what the two nodes compare (status `config.peer_match`)."""

from __future__ import annotations

import json

from ..sha256 import sha256
from ..uci import Package

# (section type, option): differ between the two nodes by design
PER_NODE = frozenset({
    ("global", "role"), ("global", "priority"), ("global", "peer"), ("global", "node_name"),
    ("vip", "unicast_peer"), ("vip", "unicast_src"),
})


def shared_digest(ha: Package) -> str:
    """A fingerprint of everything both nodes should agree on (status shows it: the password is
    left out, as in the full digest)."""
    content = []
    for section_type, name, options in ha.content():
        shared = {k: ("<secret>" if k == "auth_pass" else v) for k, v in options.items()
                  if (section_type, k) not in PER_NODE}
        content.append([section_type, name, shared])
    return sha256(json.dumps(content, sort_keys=True).encode("utf-8", "surrogateescape")).hexdigest()
