"""`make package`: ha-pair and luci-app-ha built by OpenWrt's own package build.

For each release (24.10: .ipk for opkg, 25.12: .apk for apk-tools) in the minimal buildroot that
tests/vendor/packaging.py prepares: the checkout is the feed `hapair` (one `src-link` line finds
both packages), luci.mk the feed `luci`, then the steps README.md gives an SDK user (SDK_STEPS).
The results go to build/packages/ and are reused while nothing that goes into them changed.

    python3 -m tests.package.build [OUT]      (what `make package` runs)
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from tests import vendor
from tests.vendor.packaging import RELEASES, Release

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "build" / "packages"
PACKAGES = ("ha-pair", "luci-app-ha")
# what goes into the packages (the Makefiles' PKG_FILE_DEPENDS plus their own directories)
INPUTS = ("src/ha_pair", "files", "openwrt-feed", "luci-app-ha", "LICENSE")


@dataclass(frozen=True)
class Built:
    release: Release
    files: dict[str, Path]  # package name -> .ipk/.apk

    def __getitem__(self, name: str) -> Path:
        return self.files[name]


def input_files(project: Path) -> list[Path]:
    found: list[Path] = []
    for entry in INPUTS:
        path = project / entry
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        found += [p for p in candidates if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    return found


def inputs_key(project: Path) -> str:
    digest = hashlib.sha256(str(project).encode())
    for path in input_files(project):
        digest.update(f"\0{path.relative_to(project)}\0{path.stat().st_mode & 0o777:o}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def package_file(release: Release, name: str, version: str, arch: str = "all") -> str:
    """The file name OpenWrt's package-pack.mk gives a package."""
    return f"{name}-{version}.apk" if release.uses_apk else f"{name}_{version}_{arch}.ipk"


_held: set[str] = set()


@contextmanager
def _locked(release: Release) -> Iterator[None]:
    """One package build per buildroot at a time (make package and tests, two checkouts);
    re-entrant within this process."""
    if release.name in _held:
        yield
        return
    lock = release.tree.parent / ".package-build.lock"
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        _held.add(release.name)
        try:
            yield
        finally:
            _held.discard(release.name)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(argv: list[str], tree: Path, log: Path, env: dict[str, str] | None = None) -> None:
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.run(argv, cwd=tree, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise vendor.BuildFailed(f"{' '.join(argv)} exited {proc.returncode} in {tree} (log {log}):\n{tail}")


def forget_feed_scan(tree: Path) -> None:
    """scripts/feeds keeps each Makefile's scan result until the Makefile changes: a scan made
    while luci.mk was missing, or before openwrt-feed/ha-pair.mk changed, would stay."""
    shutil.rmtree(tree / "feeds" / "hapair.tmp", ignore_errors=True)


def feeds_conf(release: Release, hapair_line: str) -> str:
    """feeds.conf as a user has it: the luci feed (from feeds.conf.default; here a directory with
    luci.mk), then the one line README adds for this repository."""
    return f"src-link luci {release.luci_feed}\n{hapair_line}\n"


def _cached(release: Release, out: Path, key: str, produce: Callable[[], dict[str, Path]]) -> Built:
    """The packages recorded in `out` under `key`, else what produce() builds (then recorded)."""
    vendor.build(release.name)
    key = f"{key} {(vendor.BUILD / 'stamps' / release.name).read_text().strip()}"
    record = out / f".{release.series}.built"
    out.mkdir(parents=True, exist_ok=True)
    with _locked(release):
        if record.exists():
            lines = record.read_text().splitlines()
            files = {name: out / file for name, file in (line.split(" ", 1) for line in lines[1:])}
            if lines[0] == key and set(files) == set(PACKAGES) and all(p.exists() for p in files.values()):
                return Built(release, files)
        files = produce()
        record.write_text(key + "\n" + "".join(f"{name} {path.name}\n" for name, path in files.items()))
        return Built(release, files)


# What README.md tells an SDK user to run after adding the feed line (a test keeps them the same).
# An SDK's Makefile sets SDK=1: its host tools are prebuilt (here: links made by tests/vendor).
SDK_STEPS = (
    "./scripts/feeds update -a",
    "./scripts/feeds install ha-pair luci-app-ha",
    "printf 'CONFIG_PACKAGE_ha-pair=m\\nCONFIG_PACKAGE_luci-app-ha=m\\n' >> .config",
    "make defconfig",
    "make package/ha-pair/compile package/luci-app-ha/compile",
)


def _build_in_tree(release: Release, project: Path, out: Path) -> dict[str, Path]:
    tree = release.tree
    log = vendor.BUILD / "logs" / f"package-{release.series}.log"
    log.write_text(f"# ha-pair packages for {release.tag} from {project}\n")
    (tree / "feeds.conf").write_text(feeds_conf(release, f"src-link hapair {project}"))
    forget_feed_scan(tree)
    (tree / ".config").write_text("")
    feed_bin = tree / "bin" / "packages" / release.arch / "hapair"
    shutil.rmtree(feed_bin, ignore_errors=True)
    for step in SDK_STEPS:
        _run(["bash", "-c", step], tree, log, env={"SDK": "1"})
    files = {}
    for name in PACKAGES:
        (built,) = feed_bin.glob(f"{name}[-_][0-9]*")
        for old in out.glob(f"{name}[-_][0-9]*{built.suffix}"):
            old.unlink()
        shutil.copy2(built, out / built.name)
        files[name] = out / built.name
    return files


def mk_variable(name: str, project: Path = REPO) -> str:
    """A value of openwrt-feed/ha-pair.mk (the project's one place for version, maintainer, ...)."""
    for line in (project / "openwrt-feed" / "ha-pair.mk").read_text().splitlines():
        if line.startswith(f"{name}:="):
            return line.split(":=", 1)[1].strip()
    raise KeyError(name)


def feed_index(release: Release, line: str) -> list[str]:
    """The packages `./scripts/feeds update` indexes for the feed line `line` (feed hapair)."""
    vendor.build(release.name)
    tree = release.tree
    log = vendor.BUILD / "logs" / f"feed-{release.series}.log"
    log.write_text(f"# {line}\n")
    with _locked(release):
        feed = tree / "feeds" / "hapair"
        # a src-git feed over a src-link one would `git pull` inside the linked checkout
        if feed.is_symlink():
            feed.unlink()
        elif feed.exists():
            shutil.rmtree(feed)
        (tree / "feeds.conf").write_text(feeds_conf(release, line))
        forget_feed_scan(tree)
        _run(["./scripts/feeds", "update", "-a"], tree, log)  # README's step (luci.mk must be there)
        index = (tree / "feeds" / "hapair.index").read_text()
    return sorted(entry.split(":", 1)[1].strip() for entry in index.splitlines() if entry.startswith("Package:"))


def compile_package(release: Release, directory: Path, name: str = "ha-pair") -> Path:
    """`make -C DIRECTORY compile` in the release's buildroot (a package outside any feed);
    returns the newest package file `name` (unchanged when make saw nothing to do)."""
    vendor.build(release.name)
    tree = release.tree
    log = vendor.BUILD / "logs" / f"compile-{release.series}.log"
    with open(log, "a") as out:
        out.write(f"# {directory}\n")
    with _locked(release):
        _run(["make", "-C", str(directory), f"TOPDIR={tree}", f"CONFIG_PACKAGE_{name}=m", "compile"], tree, log)
        made = sorted((tree / "bin").rglob(f"{name}[-_][0-9]*"), key=lambda p: p.stat().st_mtime)
    assert made, f"no package {name} from {directory} in {tree / 'bin'}"
    return made[-1]


def build(release: Release, project: Path = REPO, out: Path = OUT) -> Built:
    """Build both packages of `project` for `release` into `out` (cached). Raises
    vendor.Unavailable without OpenWrt's sources, vendor.BuildFailed when the build breaks."""
    return _cached(release, out, inputs_key(project), lambda: _build_in_tree(release, project, out))


UPGRADE_CONFFILE_LINE = "# (a later release of the package changed this shipped file)\n"


def copy_project(into: Path, project: Path = REPO) -> Path:
    """What the packages are built from, copied (outside the repository: the feed must not see it)."""
    for entry in INPUTS:
        source = project / entry
        if source.is_dir():
            shutil.copytree(source, into / entry, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.exists():
            shutil.copy2(source, into / entry)
    return into


def build_upgrade(release: Release) -> Built:
    """The next package release of this checkout: HA_PAIR_RELEASE + 1, and a shipped
    /etc/config/ha that differs (an upgrade must keep the user's changed one)."""
    out = vendor.BUILD.parent / "package-tests" / release.series / "upgrade"

    def produce() -> dict[str, Path]:
        with tempfile.TemporaryDirectory(prefix="ha-pair-upgrade-") as scratch:
            project = copy_project(Path(scratch))
            # the release number, in whichever file holds it (ha-pair.mk; older trees: the Makefile)
            for makefile in (project / "openwrt-feed" / "ha-pair.mk", project / "openwrt-feed" / "ha-pair" / "Makefile"):
                if makefile.exists():
                    makefile.write_text(re.sub(r"^((?:HA_PAIR|PKG)_RELEASE):=(\d+)$",
                                               lambda m: f"{m.group(1)}:={int(m.group(2)) + 1}",
                                               makefile.read_text(), flags=re.M))
            with open(project / "files" / "etc" / "config" / "ha", "a") as conffile:
                conffile.write(UPGRADE_CONFFILE_LINE)
            # built outside the feed (how does not matter here, and this skips the feed steps)
            files = {}
            for name, directory in (("ha-pair", project / "openwrt-feed" / "ha-pair"),
                                    ("luci-app-ha", project / "luci-app-ha")):
                made = compile_package(release, directory, name)
                files[name] = out / made.name
                shutil.copy2(made, files[name])
            return files

    return _cached(release, out, "upgrade " + inputs_key(REPO), produce)


def main(argv: list[str]) -> int:
    out = Path(argv[0]).resolve() if argv else OUT
    status = 0
    for release in RELEASES.values():
        started = time.monotonic()
        try:
            built = build(release, REPO, out)
        except (vendor.Unavailable, vendor.BuildFailed) as exc:
            print(f"{release.tag}: {exc}", file=sys.stderr)
            status = 1
            continue
        for path in built.files.values():
            print(f"{release.tag}: {os.path.relpath(path)} ({path.stat().st_size} bytes)")
        print(f"{release.tag}: {time.monotonic() - started:.1f} s")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
