"""Every file name ha-pair's Python side and its shell scripts share is spelled once, in paths.py:
the shell scripts source /usr/share/ha-pair/paths.sh, generated from it."""

from __future__ import annotations

import re

import ast
import os
import subprocess
from pathlib import Path

from ha_pair import shell_paths
from ha_pair.paths import Paths

REPO = Path(__file__).resolve().parents[2]
FRAGMENT = REPO / shell_paths.TARGET
SCRIPTS = [REPO / "files/etc/init.d/ha-pair", REPO / "files/etc/hotplug.d/dhcp/50-ha-pair",
           *sorted((REPO / "files/usr/libexec/ha-pair").iterdir())]
OURS = ("/var/run/ha-pair", "/var/etc/ha-pair", "/etc/ha-pair")


def properties() -> dict[str, str]:
    """Every path Paths names, for the root /."""
    paths = Paths("/")
    return {name: str(getattr(paths, name)) for name, value in vars(Paths).items() if isinstance(value, property)}


def test_the_shipped_fragment_is_generated_from_paths_py():
    assert FRAGMENT.read_text() == shell_paths.fragment(), (
        f"{shell_paths.TARGET} is stale: regenerate it with "
        f"`PYTHONPATH=src python3 -m ha_pair.shell_paths > {shell_paths.TARGET}`")
    assert str(Paths("/").shell_paths) == "/" + shell_paths.TARGET.removeprefix("files/")


def test_sourced_by_sh_it_names_what_paths_names(tmp_path: Path):
    """Run by a real sh with a router tree's root, each variable is that root's Paths value."""
    names = [name for name, _ in shell_paths.VARIABLES]
    script = f'. "{FRAGMENT}"\n' + "".join(f'printf "%s\\n" "${name}"\n' for name in names)
    out = subprocess.run(["sh", "-c", script], env={"HA_PAIR_ROOT": str(tmp_path), "PATH": os.environ["PATH"]},
                         capture_output=True, text=True, check=True).stdout.splitlines()
    paths = Paths(str(tmp_path))
    assert dict(zip(names, out)) == {name: str(getattr(paths, attribute)) for name, attribute in shell_paths.VARIABLES}


def test_no_shell_script_spells_a_file_of_ours_itself():
    """Only through the fragment's variables; the one path a script spells is the fragment's own
    (and its own location, from which it learns the root)."""
    for script in SCRIPTS:
        text = script.read_text()
        for directory in OURS:
            assert f"{directory}/" not in text and f'{directory}"' not in text, (script.name, directory)
        # a file in the run or generated directory has a variable of its own, not "$HA_RUN_DIR/name"
        for variable in ("HA_RUN_DIR", "HA_GENERATED_DIR"):
            assert f"${variable}/" not in text and f"${{{variable}}}/" not in text, (script.name, variable)
        if script.name not in ("openwrt-services", "conntrackd-run", "keepalived-run"):  # OpenWrt's services; a file argument
            assert "/usr/share/ha-pair/paths.sh" in text, script.name


def test_no_module_spells_a_run_directory_file_name_outside_paths_py():
    names = {Path(p).name for p in properties().values() if p.startswith(OURS)}
    names -= {"ha-pair", "checks", "state", "dhcp", "history"}  # also ordinary words of the code
    found = []
    for module in sorted((REPO / "src/ha_pair").rglob("*.py")):
        if module.name in ("paths.py", "shell_paths.py"):
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and any(
                    node.value == n or node.value.endswith("/" + n) for n in names):
                found.append(f"{module.relative_to(REPO)}:{node.lineno}: {node.value!r}")
    assert found == []


def test_no_shell_script_spells_an_nftables_name_itself():
    """The tables and chains the scripts switch come from the renderers, through paths.sh."""
    shared = REPO / "files/usr/share/ha-pair"
    names = [value for _, value in shell_paths.NFT_NAMES]
    for script in [*SCRIPTS, *(p for p in sorted(shared.iterdir()) if p != FRAGMENT)]:
        text = script.read_text()
        for value in names:
            assert value not in text, (script.name, value)
    assert all(f'{name}="{value}"' in FRAGMENT.read_text() for name, value in shell_paths.NFT_NAMES)


def test_no_shell_script_spells_a_tracked_number_itself():
    """The hold's and the sync gate's numbers come from operate/hold.py, through paths.sh."""
    for script in SCRIPTS:
        text = script.read_text()
        for _, value in shell_paths.TRACK_VALUES:
            assert not re.search(rf"(?<![\w-]){value}(?!\w)", text), (script.name, value)
    assert all(f'{name}="{value}"' in FRAGMENT.read_text() for name, value in shell_paths.TRACK_VALUES)


def test_a_switched_chain_is_switched_only_by_nft_switch_sh():
    """The DHCP guard and the WAN silence flip their chains through nft-switch.sh's two functions:
    no other script spells the flush (or the flush-and-add transaction) itself."""
    shared = REPO / "files/usr/share/ha-pair"
    switch = shared / "nft-switch.sh"
    assert "flush chain" in switch.read_text()
    for script in [*SCRIPTS, *(p for p in sorted(shared.iterdir()) if p not in (FRAGMENT, switch))]:
        for line in script.read_text().splitlines():
            assert not re.search(r"\bnft\b.*flush chain|flush chain %s %s\\nadd rule", line), (script.name, line)
