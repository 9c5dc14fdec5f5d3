"""`make package`: both packages from one feed, built by OpenWrt 24.10 (ipk) and 25.12 (apk), with
the identity, dependencies and files they should have."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.package import build, contents
from tests.package.conftest import Packages, built
from tests.vendor.packaging import RELEASES

REPO = build.REPO


def project_version() -> str:
    """ha_pair.__version__ plus ha-pair.mk's release: what both packages must be versioned."""
    namespace: dict = {}
    exec((REPO / "src/ha_pair/__init__.py").read_text(), namespace)
    return f"{namespace['__version__']}-r{build.mk_variable('HA_PAIR_RELEASE')}"


@pytest.mark.parametrize("series", list(RELEASES))
def test_one_feed_line_finds_both_packages(series: str, tmp_path: Path) -> None:
    release = RELEASES[series]
    # src-link to a checkout (this one), and src-git to a clone of it
    assert built(lambda: build.feed_index(release, f"src-link hapair {REPO}")) == ["ha-pair", "luci-app-ha"]
    clone = build.copy_project(tmp_path / "ha-pair")
    git = ["git", "-C", str(clone), "-c", "user.name=test", "-c", "user.email=test@localhost"]
    for step in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "ha-pair"]):
        subprocess.run(git + step, check=True, capture_output=True)
    assert built(lambda: build.feed_index(release, f"src-git hapair {clone}")) == ["ha-pair", "luci-app-ha"]


def test_both_packages_carry_the_project_identity(packages: Packages) -> None:
    version = project_version()
    maintainer = build.mk_variable("HA_PAIR_MAINTAINER")
    url = build.mk_variable("HA_PAIR_URL")
    for name, path in packages.current.files.items():
        info = contents.metadata(path)
        assert info["Version" if path.suffix == ".ipk" else "version"] == version, (name, info)
        assert info["Maintainer" if path.suffix == ".ipk" else "maintainer"] == maintainer, (name, info)
        assert info["License" if path.suffix == ".ipk" else "license"] == "GPL-2.0-only", (name, info)
        # luci.mk's own address must not replace the project's
        assert info.get("URL" if path.suffix == ".ipk" else "url", "") == url, (name, info)
    ha_pair = contents.metadata(packages.current["ha-pair"])
    depends = {d.strip() for d in ha_pair.get("Depends", ha_pair.get("depends", "")).split(",")}
    assert {"keepalived", "conntrackd", "nftables", "dropbear", "python3-light", "python3-ctypes",
            "kmod-nft-bridge", "kmod-nft-netdev"} <= depends
    if packages.release.manager == "opkg":
        assert ha_pair["LicenseFiles"] == "LICENSE"
    luci = contents.metadata(packages.current["luci-app-ha"])
    assert {"luci-base", "ha-pair"} <= {d.strip() for d in luci.get("Depends", luci.get("depends", "")).split(",")}
    # a later build of the project is an upgrade for both package managers
    upgrade = contents.metadata(packages.upgrade["luci-app-ha"])
    assert upgrade.get("Version", upgrade.get("version")) != version


def test_license_file_is_the_declared_licence() -> None:
    text = (REPO / "LICENSE").read_text()
    assert text.lstrip().startswith("GNU GENERAL PUBLIC LICENSE\n                       Version 2, June 1991")
    assert build.mk_variable("HA_PAIR_LICENSE") == "GPL-2.0-only"
    assert build.mk_variable("HA_PAIR_LICENSE_FILES") == "LICENSE"


def test_package_files_are_the_sources(packages: Packages, tmp_path: Path) -> None:
    """Byte for byte what src/ and files/ hold, at the paths the package promises; nothing else
    (no bytecode); the state directory root-only; the directories kept across sysupgrade."""
    unpacked = contents.files(packages.current["ha-pair"], tmp_path / "ha-pair")
    expected: dict[str, Path] = {}
    for source in (REPO / "src/ha_pair").rglob("*.py"):
        expected[f"usr/lib/ha-pair/python/{source.relative_to(REPO / 'src')}"] = source
    for source in (REPO / "files").rglob("*"):
        if source.is_file():
            expected[str(source.relative_to(REPO / "files"))] = source
    found = {str(p.relative_to(unpacked)): p for p in unpacked.rglob("*") if p.is_file()}
    generated = {"lib/upgrade/keep.d/ha-pair"} | {f for f in found if f.startswith("lib/apk/packages/")}
    assert set(found) - generated == set(expected)
    for rel, source in expected.items():
        assert found[rel].read_bytes() == source.read_bytes(), rel
        assert found[rel].stat().st_mode & 0o111 == source.stat().st_mode & 0o111, rel
    assert (unpacked / "etc/ha-pair").stat().st_mode & 0o777 == 0o700
    assert (unpacked / "lib/upgrade/keep.d/ha-pair").read_text().split() == ["/etc/ha-pair/", "/etc/hotplug.d/ha/"]
    luci = contents.files(packages.current["luci-app-ha"], tmp_path / "luci-app-ha")
    app = REPO / "luci-app-ha"
    for source in [*(app / "htdocs").rglob("*"), *(app / "root").rglob("*")]:
        if source.is_file():
            rel = source.relative_to(app)
            target = Path("www", *rel.parts[1:]) if rel.parts[0] == "htdocs" else Path(*rel.parts[1:])
            assert (luci / target).read_bytes() == source.read_bytes(), rel


def test_editing_the_sources_rebuilds_the_package(tmp_path: Path) -> None:
    """The sources live outside the package directory (PKG_FILE_DEPENDS): a changed module must
    be in the next build, not the previous build's copy."""
    release = RELEASES["24.10"]  # the same package.mk logic on both releases
    project = build.copy_project(tmp_path / "ha-pair")
    directory = project / "openwrt-feed" / "ha-pair"
    module = project / "src/ha_pair/__init__.py"
    first = built(lambda: build.compile_package(release, directory))
    shutil.copy2(first, tmp_path / first.name)
    module.write_text(module.read_text() + "# edited after the first build\n")
    second = built(lambda: build.compile_package(release, directory))
    packaged = contents.files(second, tmp_path / "second") / "usr/lib/ha-pair/python/ha_pair/__init__.py"
    assert packaged.read_text() == module.read_text()


def test_readme_gives_the_sdk_steps_make_package_runs() -> None:
    """README's SDK commands are the ones `make package` runs in both buildroots every time."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Packages"):readme.index("### Configuration")]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    assert [line for line in block.splitlines() if line.strip()] == list(build.SDK_STEPS)
    assert "src-link hapair /path/to/a/clone" in section and "src-git hapair" in section
