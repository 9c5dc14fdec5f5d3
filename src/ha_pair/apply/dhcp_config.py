"""Apply ha-pair's DHCP settings to /etc/config/dhcp, remembering exactly what it changed."""

from __future__ import annotations

import json
import os

from ..config.model import Model
from ..paths import Paths
from ..render import dhcp as dhcp_render
from ..uci import Package, dump
from ..fs import KEEP_MODE, atomic_write


def read_record(paths: Paths) -> list[dhcp_render.SectionChange]:
    try:
        data = json.loads(paths.dhcp_record.read_text())
        return [dhcp_render.SectionChange.from_dict(item) for item in data.get("sections", [])]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RuntimeError(f"{paths.dhcp_record}: unreadable record of ha-pair's DHCP changes: {exc}") from exc


def plan(paths: Paths, dhcp: Package | None, model: Model | None) -> tuple[str | None, list[dhcp_render.SectionChange]]:
    """The new /etc/config/dhcp text (None when it stays as it is) and the new record."""
    if dhcp is None:
        return None, []
    previous = read_record(paths)
    updated, changes = dhcp_render.apply(dhcp, model, previous)
    if updated.content() == dhcp.content():
        return None, changes
    return dump(updated), changes


def write(paths: Paths, text: str | None, changes: list[dhcp_render.SectionChange]) -> bool:
    """Record first, then the file: a crash in between leaves a record the next run can undo."""
    record = json.dumps({"sections": [c.as_dict() for c in changes]}, indent=1) + "\n"
    if changes or paths.dhcp_record.exists():
        atomic_write(paths.dhcp_record, record, 0o600)
    if text is None:
        return False
    return atomic_write(paths.config("dhcp"), text, KEEP_MODE)  # the user's file: its mode stays


def keep_reservations_file(paths: Paths, changes: list[dhcp_render.SectionChange]) -> None:
    """The reservations file exists exactly while /etc/config/dhcp points dnsmasq to it: OpenWrt's
    dnsmasq init passes --dhcp-hostsfile only for a file that exists when dnsmasq starts (render
    runs before it at boot). An existing file keeps its content (the lease sync's)."""
    path = paths.dhcp_reservations
    if any(change.hostsfile_set for change in changes):
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)  # dnsmasq reads it as user dnsmasq
            os.fchmod(fd, 0o644)
            os.close(fd)
    else:
        path.unlink(missing_ok=True)
