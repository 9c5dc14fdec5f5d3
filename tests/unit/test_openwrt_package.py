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
    assert variable("PKG_NAME") == "ha-pair"
    assert re.fullmatch(r"\d+\.\d+\.\d+", variable("PKG_VERSION")), "apk needs x.y.z"
    assert variable("PKG_RELEASE").isdigit(), "apk needs an integer release"
    assert variable("PKGARCH") == "all"
    assert "$(eval $(call BuildPackage,ha-pair))" in MAKEFILE


def test_depends_name_exactly_the_python_subpackages_imported():
    depends = set(variable("DEPENDS").split())
    assert {"+keepalived", "+conntrackd", "+python3-light"} <= depends
    needed = {NOT_IN_LIGHT[m] for m in imported_modules() if m in NOT_IN_LIGHT}
    declared = {d.lstrip("+") for d in depends if d.startswith("+python3-") and d != "+python3-light"}
    assert declared == needed


def test_no_third_party_imports():
    import sys
    stdlib = set(sys.stdlib_module_names)
    foreign = {m for m in imported_modules() if m not in stdlib and m != "ha_pair"}
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
