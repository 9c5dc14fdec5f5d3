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
