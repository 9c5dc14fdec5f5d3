"""Run each daemon's own parser on rendered text: `keepalived -t`, conntrackd's config parser and
`nft -c`. `check` reports them and `render` (so `start` and `reload`) writes nothing that fails
one. A daemon that is not installed is not run, which is not a failure.

Interfaces that do not exist yet are a warning, not a failure: at boot ha-pair renders (START=18)
before netifd creates bridges and protocol devices (network, START=20)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from ..record import record

from ..config.model import Model
from ..fspath import FsPath

TIMEOUT_S = 20
# keepalived -t: exit 0 fine, 3 cannot run, 4 errors but would run, 5 security or missing interfaces
_KEEPALIVED_MISSING = re.compile(r"doesn't exist$|^Non-existent interface specified in configuration$")
# after parsing, -s asks the running daemon: no daemon ("can't connect") is no finding
_CONNTRACKD_FAILED = re.compile(r"\[ERROR\] (?!can't connect)")


@record(frozen=True)
class DaemonTest:
    program: str  # as shown: "keepalived -t", "conntrackd", "nft -c"
    ran: bool
    ok: bool
    output: str
    warning: str = ""  # a finding that does not stop a start (interfaces not there yet)

    def as_dict(self) -> dict:
        return {"program": self.program, "ran": self.ran, "ok": self.ok, "output": self.output,
                "warning": self.warning or None}


def _run(argv: list[str], text: str, name: str, after: tuple[str, ...] = ()) -> tuple[int, str] | None:
    """Write `text` to a private temporary file, run argv + [file] + after; None when not installed."""
    binary = shutil.which(argv[0])
    if binary is None:
        return None
    with tempfile.TemporaryDirectory(prefix="ha-pair-test.") as tmp:
        path = os.path.join(tmp, name)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as handle:
            handle.write(text)
        try:
            proc = subprocess.run([binary, *argv[1:], path, *after], capture_output=True, text=True,
                                  errors="replace", timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return -1, f"did not finish within {TIMEOUT_S} s"
    return proc.returncode, (proc.stdout + proc.stderr).replace(path, name).strip()


def keepalived_test(text: str, name: str) -> DaemonTest:
    ran = _run(["keepalived", "-t", "-l", "-f"], text, name)
    if ran is None:
        return DaemonTest("keepalived -t", False, True, "keepalived not installed: configuration test skipped")
    code, output = ran
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if code == 5 and lines and all(_KEEPALIVED_MISSING.search(line) for line in lines):
        missing = sorted({m.group(1) for m in (re.search(r"interface (\S+) for", line) for line in lines) if m})
        return DaemonTest("keepalived -t", True, True, output,
                          f"interfaces not present (yet): {', '.join(missing) or 'see output'}; keepalived "
                          "needs them when it starts")
    return DaemonTest("keepalived -t", True, code == 0, f"exit {code}: {output}" if code else output)


def conntrackd_test(text: str, name: str) -> DaemonTest:
    """conntrackd has no test mode: a stats request (-s) parses the whole file first, then only
    asks the running daemon, if any, over the file's UNIX socket."""
    ran = _run(["conntrackd", "-C"], text, name, ("-s",))
    if ran is None:
        return DaemonTest("conntrackd", False, True, "conntrackd not installed: configuration test skipped")
    code, output = ran
    failed = code == -1 or bool(_CONNTRACKD_FAILED.search(output))
    warning = "; ".join(line.split("] ", 2)[-1] for line in output.splitlines() if "[warning]" in line)
    return DaemonTest("conntrackd", True, not failed, output, warning)


def nft_test(text: str, name: str) -> DaemonTest:
    ran = _run(["nft", "-c", "-f"], text, name)
    if ran is None:
        return DaemonTest("nft -c", False, True, "nft not installed: ruleset test skipped")
    code, output = ran
    return DaemonTest("nft -c", True, code == 0, output)


def test_files(model: Model, files: dict[FsPath, str]) -> list[DaemonTest]:
    """The parser of every daemon that reads one of `files` (the output of generated_files)."""
    paths = model.paths
    tests = {paths.keepalived_conf: keepalived_test, paths.conntrackd_conf: conntrackd_test,
             paths.dhcp_guard: nft_test, paths.wan_silence: nft_test}
    return [tests[path](text, path.name) for path, text in files.items() if path in tests]
