"""An OpenWrt image build into a lab router's flash, before its first boot.

A lab router's root is the shared read-only image of tests/lab/rootfs.py under an overlay whose
upper layer is the router's flash. Here that overlay is mounted in a mount namespace of its own
(the host's mounts never see it) and the image build's steps (tests/package/rootfs.image: the
real opkg or apk installing the packages with their scripts suppressed, every postinst with
IPKG_INSTROOT, every init script enabled) run on it: what they add or change lands in the flash,
as if the router's image had been built with these packages.

    unshare --mount --propagation private python3 -m tests.package.flash SERIES IMAGE ROUTER_DIR SCRATCH FILES PACKAGE...

(FILES: the image build's files overlay, or "" for none.) `build_into()` runs that.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.lab.router import Router
from tests.package import rootfs
from tests.vendor.packaging import RELEASES, Release

REPO = Path(__file__).resolve().parents[2]


def build_into(router: Router, release: Release, packages: list[Path], scratch: Path,
               files: Path | None = None) -> str:
    """The image build of `packages` into the router's flash (the router is off); returns the
    image build's transcript."""
    argv = ["unshare", "--mount", "--propagation", "private", sys.executable, "-m", "tests.package.flash",
            release.series, str(router.image), str(router.dir), str(scratch), str(files or ""), *map(str, packages)]
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO)
    if done.returncode != 0:
        raise AssertionError(f"the image build into {router.name}'s flash failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def main(argv: list[str]) -> int:
    series, image, router_dir, scratch, files, *packages = argv
    directory = Path(router_dir)
    root = directory / "root"  # where the router mounts the same overlay when it boots
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={image},upperdir={directory / 'upper'},workdir={directory / 'work'}", str(root)],
                   check=True)
    try:
        print(rootfs.image(root, RELEASES[series], [Path(p) for p in packages], Path(scratch),
                           Path(files) if files else None))
    finally:
        # the flash is the router's next: no overlay may hold it when it boots
        subprocess.run(["umount", str(root)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
