"""Bring dnsmasq's lease file up to date: stop dnsmasq, swap the file, start dnsmasq.

dnsmasq reads its lease file only at start, so an import stops it for a moment. Whoever dies in
that moment must not leave the router without DNS and DHCP. So the sequence runs in a process of
its own (`ha-pair lease-import`, a new session: a signal to the agent or to the forced command,
or their death, does not reach it; it ignores SIGTERM/SIGHUP/SIGINT until done), under an import
lock, with a marker file that exists only while dnsmasq may be stopped on its behalf. If that
process itself dies (SIGKILL, OOM), its caller starts dnsmasq again at once, and so does the
agent when it starts (recover()). No lease is lost at any step: dnsmasq writes its file on every
change (not at stop: dnsmasq.c, EVENT_TERM), the swap folds that file in first, and the knowledge
it swaps in stays in leases.state.
"""

from __future__ import annotations

import fcntl
import os
import _signal  # not signal.py: see spawn.py
import time

from .. import spawn
from ..paths import Paths
from ..runfiles import dhcp_answering
from .store import LeaseStore

HELPER_TIMEOUT_S = 90  # two init script calls of 30 s each, and the swap


def _init_script(paths: Paths) -> str | None:
    script = paths.dnsmasq_init
    return str(script) if os.access(script, os.X_OK) else None


PROCD_LOCK_FD = 1000  # procd.sh's lock descriptor: an init script run with it open and locked goes on


def _dnsmasq(paths: Paths, action: str, locked: bool = False) -> None:
    """dnsmasq's init `action`; `locked`: under the dnsmasq lock this process holds (_dnsmasq_lock)."""
    script = _init_script(paths)
    if script:
        import subprocess  # pass_fds; in the helper process, and in the agent only to recover

        subprocess.run([script, action], stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                       pass_fds=(PROCD_LOCK_FD,) if locked else ())


def _dnsmasq_lock(paths: Paths) -> None:
    """Take dnsmasq's own procd lock for the whole stop/swap/start, on the descriptor procd.sh
    uses: the init calls above find it held by their caller and go on, while a reload from one of
    procd's triggers waits. Without it such a reload can start dnsmasq between the stop and the
    swap (it would read the old lease file, and write it back later) or restart it and SIGHUP the
    new process at once. Released when the helper process exits."""
    paths.dnsmasq_lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(paths.dnsmasq_lock, os.O_WRONLY | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    if fd != PROCD_LOCK_FD:
        os.dup2(fd, PROCD_LOCK_FD)
        os.close(fd)


def reread_reservations(paths: Paths) -> int:
    """SIGHUP to every running dnsmasq of OpenWrt's init (its pid files): it re-reads the
    dhcp-hostsfile, keeps its leases and keeps serving. Returns how many got it."""
    signalled = 0
    try:
        names = sorted(n for n in os.listdir(paths.dnsmasq_pid_dir) if n.startswith("dnsmasq") and n.endswith(".pid"))
    except OSError:
        return 0
    for name in names:
        try:
            pid = int((paths.dnsmasq_pid_dir / name).read_text().strip())
            with open(f"/proc/{pid}/comm") as comm:  # a stale pid file names some other process
                if comm.read().strip() != "dnsmasq":
                    continue
            if not _catches_sighup(pid):
                continue  # still starting: it reads the hostsfile itself; a SIGHUP now would kill it
            os.kill(pid, _signal.SIGHUP)
            signalled += 1
        except (OSError, ValueError):
            continue
    return signalled


def _catches_sighup(pid: int, wait_s: float = 1.0) -> bool:
    """Whether the process has its SIGHUP handler in place (SigCgt in /proc/PID/status), waiting
    up to `wait_s` for it. A dnsmasq that procd has just (re)started has not yet: SIGHUP's default
    action ends it (seen in the lab as procd's respawn with exit code 129)."""
    deadline = time.monotonic() + wait_s
    while True:
        with open(f"/proc/{pid}/status") as status:
            caught = next(int(line.split()[1], 16) for line in status if line.startswith("SigCgt:"))
        if caught & (1 << (_signal.SIGHUP - 1)):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _lock(paths: Paths, blocking: bool):
    """The import lock, held for the whole sequence; None when someone else holds it."""
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    handle = open(paths.import_lock, "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _pause_for_test(step: str) -> None:
    # Tests stop the helper at a step (SIGSTOP), then kill it there: each step must be survivable.
    if os.environ.get("HA_PAIR_IMPORT_PAUSE") == step:
        os.kill(os.getpid(), _signal.SIGSTOP)


def run_import(paths: Paths, now: int) -> bool:
    """The sequence itself (the helper process's body). Returns whether the file changed, or
    dnsmasq's memory was behind it (store.write_ahead): either way dnsmasq was restarted on news."""
    for signum in (_signal.SIGTERM, _signal.SIGHUP, _signal.SIGINT):
        _signal.signal(signum, _signal.SIG_IGN)
    store = LeaseStore(paths)
    with _lock(paths, blocking=True):
        _dnsmasq_lock(paths)
        marker = paths.import_marker
        with open(marker, "w") as handle:
            handle.write(f"{os.getpid()}\n")
        # cleared before the stop: a file written ahead after this is either read by the start
        # below or owes a restart of its own (its writer marks again); if this process dies from
        # here on, the import marker has dnsmasq started again, on the current file
        behind = paths.dnsmasq_behind.exists()
        paths.dnsmasq_behind.unlink(missing_ok=True)
        _pause_for_test("stop")
        _dnsmasq(paths, "stop", locked=True)
        _pause_for_test("swap")
        with store.locked():
            written = store.swap_into_dnsmasq_file(now)
        _pause_for_test("start")
        _dnsmasq(paths, "start", locked=True)
        _pause_for_test("done")
        marker.unlink(missing_ok=True)
    return written or behind


def recover(paths: Paths) -> bool:
    """dnsmasq stopped by an import that never finished (its process died): start it again.
    Returns whether it had to. Does nothing while an import is running."""
    if not paths.import_marker.exists():
        return False
    handle = _lock(paths, blocking=False)
    if handle is None:
        return False  # an import is running: it starts dnsmasq itself
    try:
        if not paths.import_marker.exists():
            return False
        _dnsmasq(paths, "start")
        paths.import_marker.unlink(missing_ok=True)
        return True
    finally:
        handle.close()


def answering_dhcp(paths: Paths) -> bool:
    """For lease imports: an unknown DHCP guard state (runfiles.dhcp_answering None) counts as
    answering, so that a node whose state is unknown is never restarted for a sync."""
    return dhcp_answering(paths) is not False


def apply_to_dnsmasq(paths: Paths, now: int) -> bool:
    """Run the import in its own process and wait for it; returns whether the file changed.
    Without a dnsmasq init script there is nothing to stop: the swap happens here."""
    if _init_script(paths) is None:
        store = LeaseStore(paths)
        with store.locked():
            paths.dnsmasq_behind.unlink(missing_ok=True)  # no dnsmasq of OpenWrt's here to owe a restart
            return store.swap_into_dnsmasq_file(now)
    helper = paths.command
    try:
        code, _, err = spawn.run([str(helper), "--root", str(paths.root), "lease-import", "--now", str(now)],
                                 HELPER_TIMEOUT_S, new_session=True)
    except TimeoutError:  # killed
        code, err = -_signal.SIGKILL, f"no end within {HELPER_TIMEOUT_S} s".encode()
    if code not in (0, 3):
        recover(paths)  # killed mid-way: dnsmasq must not stay stopped
        raise RuntimeError(f"lease import failed (exit {code}): {err.decode(errors='replace')[-300:]}")
    return code == 0
