"""A router's file tree in a directory: the package's files plus /etc/config, for --root.

Used by unit tests, the lab and the demo, so all of them run exactly what the package installs.
"""

from __future__ import annotations

import hashlib
import py_compile
import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FILES = REPO / "files"
SRC = REPO / "src"


def modules_with_bytecode() -> Path:
    """src/ha_pair with the bytecode the package compiles on a router when it is installed
    (files/etc/uci-defaults/ha-pair: py_compile, checked hashes); ha-pair itself never writes
    any. Compiled once per state of the sources into build/, then copied into each tree."""
    sources = sorted(p for p in (SRC / "ha_pair").rglob("*.py") if "__pycache__" not in p.parts)
    digest = hashlib.sha256()
    for path in sources:
        digest.update(str(path.relative_to(SRC)).encode() + b"\0" + path.read_bytes())
    cache = REPO / "build" / "tree-modules" / digest.hexdigest()[:16]
    if not (cache / "ha_pair").is_dir():
        cache.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".new-", dir=cache.parent))  # renamed into place when done
        shutil.copytree(SRC / "ha_pair", scratch / "ha_pair", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for path in (scratch / "ha_pair").rglob("*.py"):
            py_compile.compile(str(path), doraise=True, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
        try:
            scratch.rename(cache)
        except OSError:  # another process got there first
            shutil.rmtree(scratch, ignore_errors=True)
    return cache / "ha_pair"


def install_package_files(root: Path) -> None:
    """Copy files/ and the Python modules into root where the package installs them (files/ at
    their paths, src/ha_pair under /usr/lib/ha-pair/python, with the bytecode the package
    compiles on install), keeping modes; not group/world writable, as keepalived's script
    security demands."""
    modules = root / "usr/lib/ha-pair/python/ha_pair"
    if modules.exists():
        shutil.rmtree(modules)
    shutil.copytree(modules_with_bytecode(), modules)
    for source in FILES.rglob("*"):
        target = root / source.relative_to(FILES)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode & 0o7777
        path.chmod(mode & ~0o022)


def write_config(root: Path, package: str, text: str) -> Path:
    path = root / "etc" / "config" / package
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def make_tree(root: Path, configs: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    install_package_files(root)
    for package, text in configs.items():
        write_config(root, package, text)
    return root
