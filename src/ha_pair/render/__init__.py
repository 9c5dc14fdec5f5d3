"""Renderers: pure functions from the validated Model to configuration text."""

from __future__ import annotations

from ..fspath import FsPath

from ..config.model import Model
from .conntrackd import render_conntrackd
from .dhcp_guard import devices as dhcp_guard_devices
from .dhcp_guard import render_dhcp_guard
from .keepalived import render_keepalived
from .wan_silence import device as wan_silence_device
from .wan_silence import render_wan_silence


def generated_files(model: Model) -> dict[FsPath, str]:
    """Every file ha-pair generates under /var/etc/ha-pair, by its path under the root."""
    files = {model.paths.keepalived_conf: render_keepalived(model)}
    if model.conntrack.enabled:
        files[model.paths.conntrackd_conf] = render_conntrackd(model)
    if model.dhcp.managed and dhcp_guard_devices(model):
        files[model.paths.dhcp_guard] = render_dhcp_guard(model)
    if wan_silence_device(model):
        files[model.paths.wan_silence] = render_wan_silence(model)
    return files


def redact(text: str) -> str:
    """The text with secrets masked, for anything shown to a person or another program."""
    lines = []
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip()
        if stripped.startswith("auth_pass "):
            indent = line[: len(line) - len(stripped)]
            line = f"{indent}auth_pass ********\n"
        lines.append(line)
    return "".join(lines)
