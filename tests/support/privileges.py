"""Skip conditions for tests that need root, network namespaces or real daemons."""

from __future__ import annotations

import os
import shutil

import pytest


def require_root_and(*binaries: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces): run `make test` as root")
    missing = [b for b in ("ip", *binaries) if shutil.which(b) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (`make test` installs them)")


def isolated_net() -> list[str]:
    """A command prefix that runs a program in a new, empty network namespace (loopback only):
    for an agent or ha-pair command outside the lab, whose peer address must never be sent
    anything on the host's network. Unix sockets (control socket, ubusd) still work."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to keep the agent off the host's network")
    return ["unshare", "--net", "--"]
