"""A router's file tree in a directory: the package's files plus /etc/config, for --root.

Used by unit tests, the lab and the demo, so all of them run exactly what the package installs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FILES = REPO / "files"
SRC = REPO / "src"


def install_package_files(root: Path) -> None:
    """Copy files/ and the Python modules into root where the package installs them (files/ at
    their paths, src/ha_pair under /usr/lib/ha-pair/python), keeping modes; not group/world
    writable, as keepalived's script security demands."""
    modules = root / "usr/lib/ha-pair/python/ha_pair"
    if modules.exists():
        shutil.rmtree(modules)
    shutil.copytree(SRC / "ha_pair", modules, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
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
