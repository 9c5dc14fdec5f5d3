"""The agent and `ha-pair status` do not import `typing`: the agent's RSS on a lab router went
from 16.5 MB to 16.0 MB without it (two runs each; a bare python3 there: 7.9 MB). Nor
`dataclasses`, which imports inspect, ast, dis and tokenize: 1.3 MB of the agent's imports
(ha_pair.record does the part ha-pair uses). Annotations are never evaluated (`from __future__ import annotations`), so
every module takes typing's names only under `if TYPE_CHECKING:` (a local False constant).

The agent also goes without socket.py (its enums: _socket is its C core), queue, copy, weakref,
contextlib and subprocess (with locale and warnings; ha_pair.spawn starts its children): about
870 kB of its imports on the lab router's python3; and without json (leanjson writes and reads
its records, digests, ubus replies and peer messages on _json's C code): 160 kB more. `ha-pair status`
goes without json (re, enum, collections, functools: leanjson uses _json), socket, selectors,
importlib and types: about 10 ms of its start-up. The agent never loads the UCI parser and the
validation rules (VALIDATOR): a child validates for it; nor selectors, signal and threading (their
C cores do the agent's part). tests/system/test_agent_process.py checks the running agent, reloads
included."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def _typing_imports_outside_type_checking(tree: ast.Module) -> list[int]:
    lines = []
    for node in tree.body:  # module level only: a function may import what it needs when it runs
        if isinstance(node, ast.Import) and any(a.name == "typing" for a in node.names):
            lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module == "typing":
            lines.append(node.lineno)
    return lines


def test_no_module_imports_typing_at_run_time():
    found = []
    for module in sorted((SRC / "ha_pair").rglob("*.py")):
        tree = ast.parse(module.read_text())
        found += [f"{module.relative_to(SRC)}:{line}" for line in _typing_imports_outside_type_checking(tree)]
        if "if TYPE_CHECKING:" in module.read_text():  # its names exist only for the type checker
            assert "from __future__ import annotations" in module.read_text(), f"{module}: annotations evaluated"
    assert found == []


HEAVY = ("typing", "dataclasses", "inspect", "ast", "dis", "tokenize")


def test_no_module_imports_dataclasses():
    found = [str(module.relative_to(SRC)) for module in sorted((SRC / "ha_pair").rglob("*.py"))
             if any(isinstance(node, (ast.Import, ast.ImportFrom))
                    and "dataclasses" in ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module])
                    for node in ast.walk(ast.parse(module.read_text())))]
    assert found == []


def _loaded(modules: str, unwanted: tuple[str, ...]) -> str:
    """Which of `unwanted` a fresh interpreter (no site) has loaded after importing `modules`."""
    probe = ("import sys; sys.dont_write_bytecode = True; sys.path.insert(0, sys.argv[1]); "
             f"import {modules}; print(sorted(m for m in {unwanted!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-S", "-I", "-c", probe, str(SRC)], capture_output=True, text=True,
                         check=True)
    return out.stdout.strip() + out.stderr


AGENT = "ha_pair.agent.loop, ha_pair.ubus.registration, ha_pair.inotify, ha_pair.operate.peer, ha_pair.cli, " \
        "ha_pair.commands.status"
# the UCI parser and the validation rules run in the agent's configuration child (agent/config_child.py)
VALIDATOR = ("ha_pair.uci", "ha_pair.uci.parser", "ha_pair.config.load", "ha_pair.config.validate",
             "ha_pair.config.schema", "ha_pair.config.grammar", "ha_pair.config.values", "ha_pair.config.network",
             "ha_pair.config.single_wan")
# selectors, signal and threading: ha_pair.epoll_selector, _signal and ha_pair.leanthreads instead
# ha_pair.leasesync.peer: the forced command's side of lease sync, never the agent's (~50 kB)
NOT_IN_THE_AGENT = HEAVY + ("socket", "queue", "heapq", "copy", "weakref", "subprocess", "contextlib", "locale",
                            "warnings", "json", "selectors", "signal", "threading", "ha_pair.leasesync.peer") + VALIDATOR
# the status command's path: cli and commands.status (the agent's answer and the offline report
# import more when they run)
STATUS = "ha_pair.cli, ha_pair.commands.status"
NOT_IN_STATUS = HEAVY + ("json", "re", "enum", "collections", "functools", "socket", "selectors", "importlib", "types",
                         "warnings", "ha_pair.agent.control", "ha_pair.config.load", "argparse")


def test_the_agent_and_the_status_command_load_without_typing_or_dataclasses():
    assert _loaded(AGENT, HEAVY) == "[]"


def test_the_agent_loads_without_socket_py_queue_copy_weakref_subprocess_json_threading_or_the_validator():
    assert _loaded(AGENT, NOT_IN_THE_AGENT) == "[]"


def test_the_status_command_loads_without_json_re_enum_or_socket_py():
    assert _loaded(STATUS, NOT_IN_STATUS) == "[]"


HOOKS_PROBE = """
import sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
from ha_pair.agent.split_brain import SplitBrainHandling
from ha_pair.paths import Paths
handling = SplitBrainHandling()
handling.paths = Paths(sys.argv[2])
handling.run_hooks("split_brain", {"HA_CAUSE": "probe"})
out = handling.paths.run_dir / "hooks.out"
for _ in range(500):
    if out.exists() and out.read_text():
        break
    time.sleep(0.01)
print(out.read_text().strip(), "subprocess" in sys.modules, "threading" in sys.modules)
"""


def test_the_split_brain_hooks_run_without_subprocess_or_threading(tmp_path):
    """The agent runs the user's hooks on a split brain: through ha_pair.spawn, not subprocess
    (which would bring threading and its own imports back into the agent for good)."""
    runner = tmp_path / "usr/libexec/ha-pair/hooks"
    runner.parent.mkdir(parents=True)
    (tmp_path / "var/run/ha-pair").mkdir(parents=True)
    runner.write_text(f'#!/bin/sh\necho "$ACTION $HA_CAUSE" > {tmp_path}/var/run/ha-pair/hooks.out\n')
    runner.chmod(0o755)
    out = subprocess.run([sys.executable, "-S", "-I", "-c", HOOKS_PROBE, str(SRC), str(tmp_path)],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.split() == ["split_brain", "probe", "False", "False"], out.stdout + out.stderr
