"""Run `keepalived -t` on rendered text: the same parser the daemon will use."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
import os


@dataclass(frozen=True)
class KeepalivedTest:
    ran: bool
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return not self.ran or self.returncode == 0


def keepalived_test(text: str, binary: str = "keepalived", timeout: float = 20) -> KeepalivedTest:
    """Exit codes (keepalived 2.2+): 0 fine, 3 cannot run, 4 errors but would run, 5 security or
    missing interfaces. Not installed: not run, which is not a failure."""
    path = shutil.which(binary)
    if path is None:
        return KeepalivedTest(False, 0, f"{binary} not installed: configuration test skipped")
    with tempfile.TemporaryDirectory(prefix="ha-pair-test.") as tmp:
        conf = os.path.join(tmp, "keepalived.conf")
        with open(conf, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(conf, 0o600)
        try:
            proc = subprocess.run([path, "-t", "-l", "-f", str(conf)], capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return KeepalivedTest(True, -1, f"keepalived -t did not finish within {timeout} s")
    output = (proc.stdout + proc.stderr).replace(str(conf), "keepalived.conf")
    return KeepalivedTest(True, proc.returncode, output.strip())
