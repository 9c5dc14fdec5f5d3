"""OpenWrt's own components for the tests: found, built once into build/openwrt/, reused.

OpenWrt's programs (ubusd, rpcd, uhttpd, procd, netifd, opkg, apk, ...) are not in Debian. Their
pristine sources sit at pinned commits in ../shared/vendor/openwrt/ beside the project root (see
its README). A test asks for a component with `require(name)`; the first call builds it (and what
it depends on) from those archives, later calls and later runs reuse the result.

Where the sources come from, in order:
1. $HA_PAIR_VENDOR, else ../shared/vendor/openwrt/ beside the project root: the archive;
2. otherwise the upstream repository at the same commit, when the network allows;
3. otherwise the component is unavailable: the test skips with a message saying how to get the
   sources, or fails under CI=true (CI must never pass by skipping).

Nothing built here is ever committed: build/ is ignored. Recipes live beside this file, one
module per group of components; each registers itself with `@recipe`.

Layout of build/openwrt/:
  stage/       install prefix shared by every component (bin, sbin, lib, include, share)
  src/NAME/    unpacked sources of the last build
  stamps/NAME  the build key of what is installed in stage/ (sources, recipe version, deps)
  logs/NAME.log  the last build's output
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tarfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("HA_PAIR_OPENWRT_BUILD", REPO / "build" / "openwrt"))
STAGE = BUILD / "stage"
VENDOR_ENV = "HA_PAIR_VENDOR"
HOW_TO_GET = (
    "OpenWrt's sources are not here: put the pinned archives in ../shared/vendor/openwrt/ beside the "
    f"project root (or point ${VENDOR_ENV} at them), or give this machine access to git.openwrt.org "
    "and github.com so the same commits can be cloned"
)


class Unavailable(Exception):
    """A component cannot be built here (no sources, no network, missing build tools)."""


class BuildFailed(Exception):
    """The build itself failed; the message names the log."""


@dataclass(frozen=True)
class Source:
    """One pinned upstream tree: the archive of it in the vendor folder, or the repository."""

    archive: str  # file name in the vendor folder
    commit: str  # full commit id (what `zcat ARCHIVE | git get-tar-commit-id` prints)
    upstream: str  # git URL with the same commit

    def key(self) -> str:
        return self.commit


@dataclass(frozen=True)
class Recipe:
    name: str
    sources: tuple[Source, ...]
    deps: tuple[str, ...]
    build: Callable[["Context"], None]
    version: int  # bump when the build steps change: the stamp then no longer matches
    tools: tuple[str, ...] = ()  # host programs the build needs (from apt)


@dataclass
class Context:
    """What a recipe's build function gets: its unpacked sources, the stage, a logged runner."""

    recipe: Recipe
    sources: dict[str, Path]  # archive name -> unpacked top directory
    stage: Path
    work: Path  # scratch directory of this build (build dirs go here)
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def src(self) -> Path:
        """The single source tree (recipes with one source)."""
        (only,) = self.sources.values()
        return only

    def run(self, *argv: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        with open(self.log, "a") as log:
            log.write(f"\n$ {' '.join(map(str, argv))}\n")
            log.flush()
            merged = {**os.environ, **self.env, **(env or {})}
            proc = subprocess.run([str(a) for a in argv], cwd=cwd, env=merged, stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            tail = self.log.read_text(errors="replace").splitlines()[-25:]
            raise BuildFailed(f"{self.recipe.name}: {' '.join(map(str, argv))} exited {proc.returncode} "
                              f"(log {self.log}):\n" + "\n".join(tail))

    def cmake(self, source: Path, *options: str, name: str = "", c_flags: str = "",
              build_dir: Path | None = None) -> None:
        """Configure, build and install one cmake project into the stage (build_dir=source: in-tree,
        for projects whose build steps run scripts relative to the build directory)."""
        build_dir = build_dir or self.work / f"build-{name or source.name}"
        flags = f"-I{self.stage}/include {c_flags}".strip()
        self.run("cmake", "-S", source, "-B", build_dir, f"-DCMAKE_INSTALL_PREFIX={self.stage}",
                 f"-DCMAKE_PREFIX_PATH={self.stage}", f"-DCMAKE_INSTALL_RPATH={self.stage}/lib",
                 "-DCMAKE_BUILD_WITH_INSTALL_RPATH=OFF", f"-DCMAKE_C_FLAGS={flags}",
                 f"-DCMAKE_EXE_LINKER_FLAGS=-L{self.stage}/lib", f"-DCMAKE_SHARED_LINKER_FLAGS=-L{self.stage}/lib",
                 *options)
        self.run("make", "-C", build_dir, f"-j{os.cpu_count() or 1}")
        self.run("make", "-C", build_dir, "install")


RECIPES: dict[str, Recipe] = {}


def recipe(name: str, sources: tuple[Source, ...], deps: tuple[str, ...] = (), version: int = 1,
           tools: tuple[str, ...] = ()) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    """Register a build function for component `name`."""
    def register(function: Callable[[Context], None]) -> Callable[[Context], None]:
        if name in RECIPES:
            raise ValueError(f"recipe {name} registered twice")
        RECIPES[name] = Recipe(name, sources, deps, function, version, tools)
        return function
    return register


def vendor_dir() -> Path | None:
    """The folder of pinned archives, if this machine has it."""
    configured = os.environ.get(VENDOR_ENV)
    candidates = [Path(configured)] if configured else [REPO.parent / "shared" / "vendor" / "openwrt"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


def vendor_file(name: str) -> Path | None:
    """A file of the vendor folder (an archive, or a loose file like luci.mk-<commit>)."""
    folder = vendor_dir()
    if folder is not None and (folder / name).is_file():
        return folder / name
    return None


def _load_recipes() -> None:
    # the recipe modules register themselves on import
    from . import base  # noqa: F401
    for module in sorted(Path(__file__).parent.glob("*.py")):
        if module.stem not in ("__init__", "__main__", "base"):
            __import__(f"{__name__}.{module.stem}")


def _key(recipe_: Recipe) -> str:
    parts = [recipe_.name, str(recipe_.version), *(s.key() for s in recipe_.sources)]
    parts += [f"{dep}={_key(RECIPES[dep])}" for dep in recipe_.deps]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@contextmanager
def _locked(name: str) -> Iterator[None]:
    """One builder per component at a time (parallel pytest workers, two checkouts sharing a build)."""
    BUILD.mkdir(parents=True, exist_ok=True)
    with open(BUILD / f".lock-{name}", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _unpack(source: Source, into: Path) -> Path:
    """The source tree of `source` under `into`: from the vendor archive, else cloned upstream."""
    archive = vendor_file(source.archive)
    if archive is not None:
        with tarfile.open(archive) as tar:
            top = tar.getmembers()[0].name.split("/")[0]
            tar.extractall(into, filter="tar") if hasattr(tarfile, "tar_filter") else tar.extractall(into)
        return into / top
    target = into / source.archive.split(".tar")[0]
    if shutil.which("git") is None:
        raise Unavailable(f"{source.archive}: not in the vendor folder and no git to clone it. {HOW_TO_GET}")
    clone = subprocess.run(["git", "clone", "--quiet", source.upstream, str(target)], capture_output=True,
                           text=True, timeout=600, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    if clone.returncode != 0:
        raise Unavailable(f"{source.archive}: not in the vendor folder and {source.upstream} could not be "
                          f"cloned ({clone.stderr.strip()[-200:]}). {HOW_TO_GET}")
    checkout = subprocess.run(["git", "-C", str(target), "checkout", "--quiet", source.commit],
                              capture_output=True, text=True)
    if checkout.returncode != 0:
        raise Unavailable(f"{source.upstream} has no commit {source.commit}. {HOW_TO_GET}")
    return target


def _missing_tools(recipe_: Recipe) -> list[str]:
    return [tool for tool in ("cc", "make", "cmake", "pkg-config", *recipe_.tools) if shutil.which(tool) is None]


def build(name: str) -> Path:
    """Build `name` (and its dependencies) unless the stage already holds this exact build.
    Returns the stage. Raises Unavailable or BuildFailed."""
    _load_recipes()
    if name not in RECIPES:
        raise KeyError(f"no recipe for {name}; known: {', '.join(sorted(RECIPES))}")
    recipe_ = RECIPES[name]
    for dep in recipe_.deps:
        build(dep)
    key = _key(recipe_)
    stamp = BUILD / "stamps" / name
    with _locked(name):
        if stamp.exists() and stamp.read_text().strip() == key:
            return STAGE
        missing = _missing_tools(recipe_)
        if missing:
            raise Unavailable(f"{name}: build tools missing: {', '.join(missing)} (`make test` installs them)")
        work = BUILD / "src" / name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        log = BUILD / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"# build of {name}, key {key}\n")
        sources = {s.archive: _unpack(s, work) for s in recipe_.sources}
        STAGE.mkdir(parents=True, exist_ok=True)
        recipe_.build(Context(recipe_, sources, STAGE, work, log))
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(key + "\n")
    return STAGE


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(*names: str) -> Path:
    """For tests: build what is named and return the stage; skip when the sources cannot be had
    here (fail instead under CI=true), fail when a build breaks."""
    import pytest

    try:
        for name in names:
            build(name)
    except Unavailable as exc:
        if in_ci():
            pytest.fail(f"CI=true and an OpenWrt component is unavailable: {exc}", pytrace=False)
        pytest.skip(str(exc))
    except BuildFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    return STAGE


def library_path() -> str:
    """LD_LIBRARY_PATH entry for programs built here (they also carry the stage in their rpath)."""
    return str(STAGE / "lib")
