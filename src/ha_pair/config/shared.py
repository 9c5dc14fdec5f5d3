"""Which options of /etc/config/ha belong to one node and which the pair shares: the shared part's
digest is what the two nodes compare (status `config.peer_match`), and the VRRP values whose
mismatch makes both nodes master (status `peer_view.vrrp_mismatch`)."""

from __future__ import annotations

from .. import leanjson
from ..sha256 import sha256

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any
    from ..uci import Package  # only annotations: the agent uses this module without the UCI parser
    from .model import Model

# (section type, option): differ between the two nodes by design
PER_NODE = frozenset({
    ("global", "role"), ("global", "priority"), ("global", "peer"), ("global", "node_name"),
    ("vip", "unicast_peer"), ("vip", "unicast_src"),
})


def shared_part(ha: Package) -> Package:
    """/etc/config/ha without the per-node options: what config sync sends to the peer."""
    out = ha.copy()
    for section in out.sections:
        for option in [o for o in section.options if (section.type, o) in PER_NODE]:
            section.delete(option)
    return out


def per_node_options(ha: Package) -> list[str]:
    """The per-node options present in `ha` as uci paths (a sync message must carry none)."""
    return [f"ha.{ha.ref(s)}.{o}" for s in ha.sections for o in s.options if (s.type, o) in PER_NODE]


def merge_shared(local: Package, shared: Package) -> Package:
    """The peer's shared part with this node's own per-node values put back: a global section's
    role, priority, peer and node_name, and a vip section's unicast addresses (by section name)."""
    out = shared.copy()
    for section in out.sections:
        mine = local.find(section.name) if section.name is not None else None
        if section.type == "global" and mine is None:
            mine = next(iter(local.of_type("global")), None)
        if mine is None or mine.type != section.type:
            continue
        for option, value in mine.options.items():
            if (section.type, option) in PER_NODE:
                section.options[option] = value
    return out


def shared_digest(ha: Package) -> str:
    """A fingerprint of everything both nodes should agree on (status shows it: the password is
    left out, as in the full digest)."""
    content = []
    for section_type, name, options in ha.content():
        shared = {k: ("<secret>" if k == "auth_pass" else v) for k, v in options.items()
                  if (section_type, k) not in PER_NODE}
        content.append([section_type, name, shared])
    return sha256(leanjson.dumps(content, sort_keys=True).encode("utf-8", "surrogateescape")).hexdigest()


def vrrp_profile(model: "Model") -> dict[str, Any]:
    """What the two nodes' VRRP must agree on, or adverts are dropped and both become master: the
    protocol version, the advert interval (VRRPv2 drops an advert with another interval) and, per
    interface, the VRID and the addresses. Nothing secret: status and the peer report carry it."""
    return {
        "version": model.node.vrrp_version, "advert_cs": model.node.advert_centis,
        "instances": {vip.interface: {"vrid": vip.vrid, "addresses": sorted(str(a) for a in vip.addresses)}
                      for vip in model.vips},
    }


def vrrp_auth(model: "Model") -> str:
    """A fingerprint of the VRRP authentication, for the peer to compare: never the password itself.
    (auth_type pass sends the password in clear in every advert anyway; this only travels to the
    peer over SSH, and status never shows it.)"""
    node = model.node
    if node.auth_type != "pass":
        return node.auth_type
    digest = sha256(b"ha-pair vrrp auth\0" + (node.auth_pass or "").encode("utf-8", "surrogateescape"))
    return "pass:" + digest.hexdigest()[:16]
