"""What a built .ipk or .apk holds: its metadata fields and its files (with modes)."""

from __future__ import annotations

import gzip
import io
import subprocess
import tarfile
from pathlib import Path

from tests.vendor.packaging import stage_tool


def _ipk_member(path: Path, name: str) -> tarfile.TarFile:
    outer = tarfile.open(path, "r:gz")
    member = outer.extractfile(f"./{name}") or outer.extractfile(name)
    assert member is not None, f"{path}: no {name}"
    return tarfile.open(fileobj=io.BytesIO(gzip.decompress(member.read())), mode="r:")


def metadata(path: Path) -> dict[str, str]:
    """ipk: the control file's fields; apk: the info block of `apk adbdump` (lists joined by ', ')."""
    if path.suffix == ".ipk":
        control = _ipk_member(path, "control.tar.gz")
        text = control.extractfile("./control").read().decode()  # type: ignore[union-attr]
        fields: dict[str, str] = {}
        for line in text.splitlines():
            if line[:1] not in (" ", "") and ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        return fields
    dump = subprocess.run([str(stage_tool("apk")), "adbdump", str(path)], capture_output=True, text=True,
                          check=True).stdout
    info: dict[str, str] = {}
    key = None
    for line in dump.split("\npaths:", 1)[0].splitlines():
        if line.startswith("  ") and not line.startswith("    ") and ":" in line:
            key, value = line.strip().split(":", 1)
            value = value.strip()
            info[key] = "" if value.startswith("#") or value == "|" else value
        elif line.startswith("    ") and key:
            item = line.strip().removeprefix("- ")
            info[key] = f"{info[key]}, {item}" if info[key] else item
    return info


def files(path: Path, into: Path) -> Path:
    """Unpack the package's files into `into` (modes kept) and return it."""
    into.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".ipk":
        _ipk_member(path, "data.tar.gz").extractall(into)
    else:
        subprocess.run([str(stage_tool("apk")), "extract", "--allow-untrusted", "--destination", str(into), str(path)],
                       capture_output=True, check=True)
    return into


def control_file(path: Path, name: str) -> str | None:
    """An ipk's maintainer script or conffiles list (None when absent)."""
    control = _ipk_member(path, "control.tar.gz")
    try:
        member = control.extractfile(f"./{name}")
    except KeyError:
        return None
    return member.read().decode() if member else None
