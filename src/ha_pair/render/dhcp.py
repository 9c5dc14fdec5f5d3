"""DHCP settings in /etc/config/dhcp: pure functions from (package, model, last record) to
(new package, new record).

For every managed `config dhcp` section ha-pair gives clients the VIP as gateway (option 3)
and DNS server (option 6), and sets `force '1'` because OpenWrt's dnsmasq init otherwise
refuses to serve DHCP on a link where it sees another DHCP server (the peer). Whatever it
changed is recorded, so the next run first undoes exactly that and nothing else: the user's
own settings in the file are never touched, and turning ha-pair off restores them.

With lease sync on, each `config dnsmasq` section also gets `dhcphostsfile` pointing to the
reservations the lease sync keeps (leases/reservations.py): how a running dnsmasq learns, on
SIGHUP, the leases the peer granted that it never saw. A section with a hostsfile of the user's
own is left alone (dnsmasq's init passes only one).
"""

from __future__ import annotations

from ..record import record

from ..config.model import Model
from ..paths import DHCP_RESERVATIONS
from ..uci import Package, Section

# dhcp_option forms that set the router or DNS option for every client of the section.
_ROUTER = {"3", "option:router"}
_DNS = {"6", "option:dns-server"}


@record(frozen=True)
class SectionChange:
    """What ha-pair did to one dhcp section."""

    section: str
    added: tuple[str, ...] = ()  # dhcp_option items ha-pair appended
    removed: tuple[str, ...] = ()  # the user's dhcp_option items ha-pair took out (they conflicted)
    force_before: str | None = None  # `force` before ha-pair set it ("" = unset); None = untouched
    hostsfile_set: bool = False  # a dnsmasq section: ha-pair set `dhcphostsfile` (it was unset)

    def as_dict(self) -> dict:
        return {"section": self.section, "added": list(self.added), "removed": list(self.removed),
                "force_before": self.force_before, "hostsfile_set": self.hostsfile_set}

    @classmethod
    def from_dict(cls, data: dict) -> "SectionChange":
        return cls(str(data["section"]), tuple(map(str, data.get("added", ()))),
                   tuple(map(str, data.get("removed", ()))), data.get("force_before"),
                   data.get("hostsfile_set") is True)


def _option_code(item: str) -> str:
    return item.split(",", 1)[0].strip()


def _set_list(section: Section, option: str, items: list[str]) -> None:
    if items:
        section.options[option] = items
    else:
        section.delete(option)


def undo(dhcp: Package, changes: list[SectionChange]) -> Package:
    """The package as it was before `changes` (as far as the user has not edited it since)."""
    result = dhcp.copy()
    for change in changes:
        section = result.find(change.section)
        if section is None:
            continue
        items = section.get_list("dhcp_option")
        for item in change.added:
            if item in items:
                items.remove(item)
        items += [item for item in change.removed if item not in items]
        _set_list(section, "dhcp_option", items)
        if change.hostsfile_set and section.get("dhcphostsfile") == DHCP_RESERVATIONS:
            section.delete("dhcphostsfile")
        if change.force_before is not None and section.get("force") == "1":
            if change.force_before == "":
                section.delete("force")
            else:
                section.set("force", change.force_before)
    return result


def apply(dhcp: Package, model: Model | None, previous: list[SectionChange]) -> tuple[Package, list[SectionChange]]:
    """Undo `previous`, then apply what `model` asks (nothing when disabled or unmanaged)."""
    result = undo(dhcp, previous)
    if model is None or not model.node.enabled or not model.dhcp.managed:
        return result, []
    changes: list[SectionChange] = []
    for managed in model.dhcp.sections:
        section = result.find(managed.section)
        if section is None:
            continue
        wanted = [f"3,{managed.gateway}", f"6,{managed.gateway}"]
        items = section.get_list("dhcp_option")
        removed = [i for i in items if _option_code(i) in _ROUTER | _DNS and i not in wanted]
        kept = [i for i in items if i not in removed]
        added = [w for w in wanted if w not in kept]
        _set_list(section, "dhcp_option", kept + added)
        force_before = None
        if section.get("force") != "1":
            force_before = section.get("force") or ""
            section.set("force", "1")
        changes.append(SectionChange(managed.section, tuple(added), tuple(removed), force_before))
    if model.dhcp.lease_sync:
        for dnsmasq in result.of_type("dnsmasq"):
            if dnsmasq.get("dhcphostsfile") is None:
                dnsmasq.set("dhcphostsfile", DHCP_RESERVATIONS)
                changes.append(SectionChange(result.ref(dnsmasq), hostsfile_set=True))
    return result, changes
