"""The SDK package Makefile: shape, dependencies that match the imports, conffiles, installed files."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAKEFILE = (REPO / "openwrt-feed" / "ha-pair" / "Makefile").read_text()

# Standard library modules that OpenWrt ships outside python3-light, by subpackage
# (openwrt/packages lang/python/python3/files/python3-package-*.mk). fractions and statistics
# import decimal.
NOT_IN_LIGHT = {
    "asyncio": "python3-asyncio", "ctypes": "python3-ctypes", "logging": "python3-logging",
    "unicodedata": "python3-codecs", "urllib": "python3-urllib", "http": "python3-urllib",
    "email": "python3-email", "ssl": "python3-openssl", "_hashlib": "python3-openssl",
    "unittest": "python3-unittest", "xml": "python3-xml", "sqlite3": "python3-sqlite3",
    "multiprocessing": "python3-multiprocessing", "decimal": "python3-decimal",
    "fractions": "python3-decimal", "statistics": "python3-decimal", "uuid": "python3-uuid",
    "lzma": "python3-lzma", "pydoc": "python3-pydoc", "doctest": "python3-pydoc",
    "readline": "python3-readline", "curses": "python3-ncurses", "dbm": "python3-dbm",
    "venv": "python3-venv", "webbrowser": "python3-webbrowser", "cgi": "python3-cgi",
    "lib2to3": "python3-lib2to3", "distutils": "python3-distutils",
}


def variable(name: str) -> str:
    match = re.search(rf"^\s*{name}:=(.*)$", MAKEFILE, re.M)
    assert match, name
    return match.group(1).strip()


def imported_modules() -> set[str]:
    found = set()
    for path in (REPO / "src" / "ha_pair").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_package_identity():
    import ha_pair

    assert variable("PKG_NAME") == "ha-pair"
    # version and release come from openwrt-feed/ha-pair.mk, the version from ha_pair.__version__
    assert variable("PKG_VERSION") == "$(HA_PAIR_VERSION)" and variable("PKG_RELEASE") == "$(HA_PAIR_RELEASE)"
    shared = (REPO / "openwrt-feed" / "ha-pair.mk").read_text()
    assert "src/ha_pair/__init__.py" in shared.split("HA_PAIR_VERSION:=", 1)[1].splitlines()[0]
    assert re.fullmatch(r"\d+\.\d+\.\d+", ha_pair.__version__), "apk needs x.y.z"
    release = re.search(r"^HA_PAIR_RELEASE:=(.*)$", shared, re.M)
    assert release and release.group(1).strip().isdigit(), "apk needs an integer release"
    assert variable("PKGARCH") == "all"
    assert "$(eval $(call BuildPackage,ha-pair))" in MAKEFILE


def test_depends_name_the_daemons_and_every_python_subpackage_imported_directly():
    depends = set(variable("DEPENDS").split())
    assert {"+keepalived", "+conntrackd", "+python3-light"} <= depends
    needed = {NOT_IN_LIGHT[m] for m in imported_modules() if m in NOT_IN_LIGHT}
    declared = {d.lstrip("+") for d in depends if d.startswith("+python3-") and d != "+python3-light"}
    assert needed <= declared


def test_no_third_party_imports():
    import sys
    stdlib = set(sys.stdlib_module_names)
    newer_stdlib = {"_sha2"}  # Python 3.12+'s name for _sha256, tried first where it exists
    foreign = {m for m in imported_modules() if m not in stdlib | newer_stdlib and m != "ha_pair"}
    assert not foreign, f"src/ must use the standard library only: {sorted(foreign)}"


def test_conffiles_keep_config_and_state_directory():
    block = MAKEFILE[MAKEFILE.index("define Package/ha-pair/conffiles"):]
    block = block[: block.index("endef")]
    assert "/etc/config/ha" in block and "/etc/ha-pair/" in block


def test_every_file_under_files_is_installed():
    install = MAKEFILE[MAKEFILE.index("define Package/ha-pair/install"):]
    for path in (REPO / "files").rglob("*"):
        if path.is_file():
            relative = "/" + str(path.relative_to(REPO / "files"))
            directory = str(Path(relative).parent)
            assert (f"files{relative}" in install or f"files{directory}/*" in install
                    or f"files{directory}/{path.name}" in install), f"{relative} is not installed"


ROUTER_RUN = """
import sys
early = [m for m in sys.modules if m.split('.')[0] in BLOCKED + ['pathlib']]
assert not early, 'imported before the blocker: ' + repr(early)
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ImportError('not installed on the router: ' + name)
sys.meta_path.insert(0, Blocker())
import ha_pair.cli, ha_pair.commands.config, ha_pair.commands.status, ha_pair.agent.loop, ha_pair.ubus, ha_pair.leases
sys.exit(ha_pair.cli.main(['--root', ROOT, 'show']))
"""


def run_as_on_router(root, declared: set[str]):
    """ha-pair with every module of an undeclared subpackage made unimportable, as on a router
    with only python3-light and `declared` installed (optional imports such as shutil's lzma then
    fall back as they do there). -S: site must not pre-import anything."""
    import subprocess
    import sys

    blocked = sorted(m for m, package in NOT_IN_LIGHT.items() if package not in declared)
    code = f"BLOCKED = {blocked!r}\nROOT = {str(root)!r}\n" + ROUTER_RUN
    return subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"})


def test_runs_with_only_light_and_the_declared_subpackages_each_of_them_needed(tmp_path):
    from tests.support import pair, tree

    root = tree.make_tree(tmp_path / "r1", pair.configs("r1"))
    declared = {d.lstrip("+") for d in variable("DEPENDS").split() if d.startswith("+python3-")}
    proc = run_as_on_router(root, declared)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "vrrp_sync_group ha" in proc.stdout
    for package in declared - {"python3-light"}:
        without = run_as_on_router(root, declared - {package})
        assert without.returncode != 0, f"{package} is declared but ha-pair runs without it"


# What ha-pair's generated nftables tables use beyond kmod-nft-core (firewall4's dependency: nf_tables
# with the inet, bridge and netdev families, meta mark and oifkind, counter, payload), by the kernel
# package that brings it on OpenWrt 24.10 and 25.12 (README "Packages" gives the sources):
# (table family, what its text contains) -> package
KERNEL_FEATURES = {
    # CONFIG_NFT_BRIDGE_META=m: nf_tables refuses a meta expression in a bridge table (ENOENT)
    # unless nft_meta_bridge, kmod-nft-bridge's module, can be loaded
    ("bridge", "meta "): "kmod-nft-bridge",
    # CONFIG_NETFILTER_EGRESS=y is in kmod-nft-netdev's KCONFIG; without it the chain is refused
    ("netdev", "hook egress "): "kmod-nft-netdev",
}
CORE_FAMILIES = {"inet", "bridge", "netdev"}


def test_depends_name_the_kernel_packages_the_generated_tables_need():
    from tests.unit.render_cases import CASES
    from tests.unit.test_ipv6_lan import tables
    from tests.unit.test_render_golden import render_case

    needed: dict[str, set[str]] = {}
    for case in CASES:
        for filename, text in render_case(case).items():
            if not filename.endswith(".nft"):
                continue
            for table, chains in tables(text).items():
                family = table.split()[0]
                assert family in CORE_FAMILIES, f"{filename}: table {table}: which kernel package has its family?"
                body = "".join(chains.values())
                for (wanted_family, feature), package in KERNEL_FEATURES.items():
                    if family == wanted_family and feature in body:
                        needed.setdefault(package, set()).add(case)
    # every feature is exercised by some case (the check above is not vacuous), and declared
    assert set(needed) == set(KERNEL_FEATURES.values()), needed
    assert needed["kmod-nft-netdev"] == {"single-wan"}
    depends = {d.lstrip("+") for d in variable("DEPENDS").split()}
    assert set(needed) <= depends
