"""OpenWrt's image build, replayed on a root file system, and what a router's flash holds.

An image build (package/Makefile's install step, then include/rootfs.mk's prepare_rootfs) installs
every package with its scripts suppressed, runs each postinst in the target root with
IPKG_INSTROOT set, in name order, and then enables every rc.common init script. `image()` replays
that order with the real opkg or apk-tools and the release's ipkg-build/apk tooling on a root that
already holds base-files (a lab router's, tests/package/flash.py): the commands are those of the
two makefiles, the replay is ours.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

from tests.vendor.packaging import Release, stage_tool

# /var is a link to /tmp on OpenWrt (base-files' Makefile makes it); both are tmpfs at run time
RUNTIME = ("tmp", "var")


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def apk_index(directory: Path, packages: list[Path]) -> Path:
    """A repository of `packages` (apk mkndx, as package/Makefile's index step)."""
    directory.mkdir(parents=True, exist_ok=True)
    for package in packages:
        shutil.copy2(package, directory / package.name)
    names = sorted(p.name for p in directory.glob("*.apk"))
    _run([stage_tool("apk"), "mkndx", "--allow-untrusted", "--output", "packages.adb", *names], cwd=directory)
    return directory / "packages.adb"


def package_name(path: Path) -> str:
    """ha-pair_0.1.0-r1_all.ipk / ha-pair-0.1.0-r1.apk -> ha-pair"""
    if path.suffix == ".ipk":
        return path.name.split("_", 1)[0]
    return re.match(r"(.+?)-\d", path.name).group(1)  # type: ignore[union-attr]  # versions start with a digit


def install_offline(root: Path, release: Release, packages: list[Path], scratch: Path) -> None:
    """Install `packages` into root as the image build does: scripts suppressed."""
    if release.uses_apk:
        index = apk_index(scratch / "image-repo", packages)
        env = {**os.environ, "IPKG_INSTROOT": str(root)}
        _run(["fakeroot", stage_tool("apk"), "--root", root, "--keys-dir", release.tree, "--no-cache", "--no-logfile",
              "--preserve-env", "add", "--initdb", "--no-scripts", "--arch", release.arch, "--repositories-file",
              "/dev/null", "--repository", f"file://{index}", "--allow-untrusted",
              *sorted({package_name(p) for p in packages})], env=env)
    else:
        env = {**os.environ, "IPKG_NO_SCRIPT": "1", "IPKG_INSTROOT": str(root), "TMPDIR": str(root / "tmp")}
        _run([stage_tool("opkg"), "--offline-root", root, "--force-postinstall", "--add-dest", "root:/",
              "--add-arch", "all:100", "--add-arch", f"{release.arch}:200", "install", *packages], env=env)


RC_COMMON = "#!/bin/sh /etc/rc.common"


def _fix_opkg_status(status: Path) -> None:
    """prepare_rootfs's awk over usr/lib/opkg/status: packages installed by the image build are
    not "user" installed ($3 == "user" becomes "ok", else "user" leaves the flag list)."""
    lines = []
    for line in status.read_text().splitlines():
        fields = line.split()
        if fields[:1] == ["Status:"] and len(fields) > 2:
            if fields[2] == "user":
                fields[2] = "ok"
            else:
                fields[2] = ",".join(flag for flag in fields[2].split(",") if flag != "user")
            line = " ".join(fields)
        lines.append(line)
    status.write_text("\n".join(lines) + "\n")


def prepare_rootfs(root: Path, release: Release, files: Path | None = None) -> str:
    """include/rootfs.mk's prepare_rootfs, step by step: the files overlay (ImageBuilder FILES=),
    every postinst in name order with IPKG_INSTROOT set (apk: the post-install members of
    lib/apk/db/scripts.tar.gz, removed from it afterwards), the opkg status fix, then
    `rc.common <script> enable` for every rc.common init script. Returns a transcript.

    apk's scripts.tar is edited with Python's tarfile: Debian bookworm's GNU tar 1.34 drops
    neighbouring members when it deletes one from that archive (the buildroot uses its own tar)."""
    transcript = []
    if files is not None:
        shutil.copytree(files, root, symlinks=True, dirs_exist_ok=True)
    (root / "etc/rc.d").mkdir(parents=True, exist_ok=True)
    (root / "var/lock").mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "IPKG_INSTROOT": str(root)}
    scripts_tar = root / "lib/apk/db/scripts.tar.gz"
    if release.uses_apk:
        with tarfile.open(scripts_tar) as archive:
            members = [(m, archive.extractfile(m).read()) for m in archive.getmembers()]  # type: ignore[union-attr]
        postinsts = []
        for member, data in members:
            if member.name.endswith(".post-install"):
                path = root / "lib/apk/db" / member.name
                path.write_bytes(data)
                path.chmod(member.mode)
                postinsts.append(path)
    else:
        postinsts = list((root / "usr/lib/opkg/info").glob("*.postinst"))
    for script in sorted(postinsts, key=lambda p: p.name.encode()):
        proc = subprocess.run(["bash", script], cwd=root, env=env, capture_output=True, text=True)
        transcript.append(f"postinst {script.name}: {proc.returncode}\n{proc.stdout}{proc.stderr}")
        if proc.returncode != 0:
            raise AssertionError(f"postinst script {script} has failed:\n" + "".join(transcript))
    if release.uses_apk:
        with gzip.GzipFile(scripts_tar, "wb", compresslevel=9, mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as out:
            for member, data in members:
                if not member.name.endswith(".post-install"):
                    out.addfile(member, io.BytesIO(data))
    else:
        _fix_opkg_status(root / "usr/lib/opkg/status")
    for script in sorted((root / "etc/init.d").iterdir(), key=lambda p: p.name.encode()):
        if RC_COMMON not in script.read_text(errors="replace"):
            continue
        proc = subprocess.run(["bash", "./etc/rc.common", f"./etc/init.d/{script.name}", "enable"], cwd=root,
                              env=env, capture_output=True, text=True)
        transcript.append(f"enabling {script.name}: {proc.returncode} {proc.stdout}{proc.stderr}")
    for leftover in [*(root / "var/lock").glob("*.lock"), *(root / "lib/apk/db").glob("*.post-install*"),
                     *(root / "usr/lib/opkg/info").glob("*.postinst*"), *(root / "tmp").iterdir()]:
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
        else:
            leftover.unlink(missing_ok=True)
    return "".join(transcript)


def image(root: Path, release: Release, packages: list[Path], scratch: Path, files: Path | None = None) -> str:
    """The image build of these packages on `root` (which holds base-files already)."""
    install_offline(root, release, packages, scratch)
    return prepare_rootfs(root, release, files)


def rc_d(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "etc/rc.d").iterdir())


def tree_listing(root: Path, exclude: tuple[str, ...] = (), below: Path | None = None) -> dict[str, str]:
    """Every path under root (but /tmp, /var and `exclude`) -> its type and mode, and for
    regular files their content hash: what "nothing left behind" is checked against. For a
    router's flash (root) above its image (below): what the router changed, i.e. whiteouts (the
    overlay's record of a file of the image removed) and what differs from the image (not the
    directories the overlay copied up unchanged)."""
    listing = {}
    skip = tuple(f"/{top}" for top in RUNTIME) + exclude
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = "/" + os.path.relpath(dirpath, root).lstrip(".")
        rel_dir = "/" if rel_dir == "/" else rel_dir.rstrip("/")
        for name in dirnames + filenames:
            rel = (rel_dir.rstrip("/") + "/" + name)
            if rel.startswith(skip):
                continue
            described = _describe(Path(dirpath) / name)
            if below is None or described != _describe(below / rel.lstrip("/")):
                listing[rel] = described
        dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]
    return listing


def _describe(path: Path) -> str | None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    if path.is_symlink():
        return f"link {os.readlink(path)}"
    if path.is_dir():
        return f"dir {st.st_mode & 0o7777:o}"
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        return "whiteout"
    return f"file {st.st_mode & 0o7777:o} {hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"
