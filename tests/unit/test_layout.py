"""`make unit` needs neither root nor daemons: what does lives in tests/system (namespaces, keepalived,
conntrackd, dnsmasq, nft, ubusd) or tests/lab (the two-router lab)."""

from __future__ import annotations

import ast
from pathlib import Path

UNIT = Path(__file__).resolve().parent
NEEDS_ROOT_OR_DAEMONS = {"tests.support.privileges", "tests.support.ubusd", "tests.vendor", "tests.lab",
                         "tests.controlplane"}


def test_unit_tests_import_nothing_that_needs_root_or_daemons():
    for path in sorted(p for p in UNIT.glob("*.py") if p.name != "test_layout.py"):
        tree = ast.parse(path.read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert not {m for m in imported if m.split(".")[:3] and any(
            m == n or m.startswith(n + ".") for n in NEEDS_ROOT_OR_DAEMONS)}, path.name
        strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
        assert not strings & {"unshare", "netns", "dnsmasq", "ubusd"}, path.name  # commands of tests/system
