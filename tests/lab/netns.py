"""Network-namespace primitives for the ha-pair lab (stdlib only).

Why this module exists: the lab runs a whole router pair inside Linux network
namespaces on one machine, and a careless harness can damage the host (links
created in the root namespace, `pkill keepalived` hitting the host's daemon) or
leak daemons between runs (a backgrounded shell function gives the PID of a
subshell, not of the daemon).  So:

* every command that touches the network runs with ``ip -n NS`` or
  ``ip netns exec NS`` -- nothing is ever created in the root namespace (veth
  pairs are created directly between two namespaces);
* long-running programs are started with ``Popen(["ip", "netns", "exec", NS,
  prog, ...])``: ``ip`` execs the program, so ``Popen.pid`` is the program's
  real PID; every such process is registered here and can always be stopped;
* processes are killed by PID only, never by name;
* :func:`cleanup_prefix` removes only namespaces whose name starts with the
  lab's prefix, after killing every process inside them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import IO, Iterable, Sequence

__all__ = [
    "NetnsError", "run", "ns_run", "ip", "list_ns", "add_ns", "del_ns",
    "ns_pids", "veth", "bridge", "enslave", "link_set", "addr_add", "addr_del",
    "route_add", "sysctl", "spawn", "kill_pid", "is_alive", "tracked_pids",
    "stop_tracked", "kill_in_ns", "cleanup_prefix",
]


class NetnsError(RuntimeError):
    """A lab command failed; the message carries the command, exit code and stderr."""

    def __init__(self, cmd: Sequence[str], returncode: int | None, stdout: str, stderr: str):
        self.cmd = list(cmd)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        detail = (stderr or stdout or "").strip()
        super().__init__(f"command {' '.join(self.cmd)!r} failed (exit {returncode}): {detail}")


def run(cmd: Sequence[str], *, check: bool = True, input: str | None = None,
        timeout: float = 30.0) -> subprocess.CompletedProcess:
    """Run a command with captured text output; raise NetnsError on failure if check."""
    try:
        cp = subprocess.run(list(cmd), input=input, capture_output=True, text=True,
                            timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise NetnsError(cmd, None, str(exc.stdout or ""),
                         f"timed out after {timeout}s") from None
    except OSError as exc:
        raise NetnsError(cmd, None, "", str(exc)) from None
    if check and cp.returncode != 0:
        raise NetnsError(cmd, cp.returncode, cp.stdout, cp.stderr)
    return cp


def ns_run(ns: str, *cmd: str, check: bool = True, input: str | None = None,
           timeout: float = 30.0) -> subprocess.CompletedProcess:
    """Run ``cmd`` inside namespace ``ns`` (``ip netns exec NS cmd...``)."""
    return run(["ip", "netns", "exec", ns, *cmd], check=check, input=input, timeout=timeout)


def ip(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``ip -n NS args...`` (no process enters the namespace)."""
    return run(["ip", "-n", ns, *args], check=check)


# --- namespaces --------------------------------------------------------------

def list_ns() -> list[str]:
    """Names of all network namespaces (``ip netns list``; ids stripped)."""
    out = run(["ip", "netns", "list"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def add_ns(name: str) -> None:
    """Create a namespace and bring its loopback up."""
    run(["ip", "netns", "add", name])
    ip(name, "link", "set", "lo", "up")


def del_ns(name: str) -> None:
    """Delete a namespace if it exists (its veth ends vanish with it)."""
    if name in list_ns():
        run(["ip", "netns", "delete", name])


def ns_pids(name: str) -> list[int]:
    """PIDs of all processes whose network namespace is ``name``."""
    cp = run(["ip", "netns", "pids", name], check=False)
    return [int(tok) for tok in cp.stdout.split() if tok.isdigit()]


# --- links and addresses ------------------------------------------------------

def veth(ns_a: str, name_a: str, ns_b: str, name_b: str, *, up: bool = True) -> None:
    """Create a veth pair with one end in each namespace, never touching the root ns."""
    ip(ns_a, "link", "add", name_a, "type", "veth", "peer", "name", name_b, "netns", ns_b)
    if up:
        link_set(ns_a, name_a, True)
        link_set(ns_b, name_b, True)


def bridge(ns: str, name: str) -> None:
    """Create a plain switch: STP off, forward_delay 0, no multicast snooping (VRRP is multicast)."""
    ip(ns, "link", "add", name, "type", "bridge", "stp_state", "0", "forward_delay", "0",
       "mcast_snooping", "0")
    link_set(ns, name, True)


def enslave(ns: str, dev: str, master: str) -> None:
    """Make ``dev`` a port of bridge ``master``."""
    ip(ns, "link", "set", dev, "master", master)


def link_set(ns: str, dev: str, up: bool) -> None:
    """Set a link administratively up or down."""
    ip(ns, "link", "set", dev, "up" if up else "down")


def addr_add(ns: str, dev: str, cidr: str) -> None:
    """Add an IPv4 address (``a.b.c.d/len``) to ``dev``."""
    ip(ns, "addr", "add", cidr, "dev", dev)


def addr_del(ns: str, dev: str, cidr: str, *, missing_ok: bool = True) -> None:
    """Delete an address; by default ignore it not being there."""
    cp = ip(ns, "addr", "del", cidr, "dev", dev, check=not missing_ok)
    absent = ("Address not found", "Cannot assign requested address")
    if cp.returncode != 0 and not any(msg in cp.stderr for msg in absent):
        raise NetnsError(["ip", "-n", ns, "addr", "del", cidr, "dev", dev],
                         cp.returncode, cp.stdout, cp.stderr)


def route_add(ns: str, dest: str, via: str) -> None:
    """Add (or replace) a route, e.g. ``default via 192.0.2.1``."""
    ip(ns, "route", "replace", dest, "via", via)


def sysctl(ns: str, key: str, value: str | int) -> None:
    """Set a sysctl inside a namespace (``net.*`` keys are per namespace)."""
    ns_run(ns, "sysctl", "-qw", f"{key}={value}")


# --- processes ---------------------------------------------------------------

_TRACKED: dict[int, subprocess.Popen] = {}


def spawn(ns: str, argv: Sequence[str], *, stdin: int | IO | None = subprocess.DEVNULL,
          stdout: int | IO | None = subprocess.DEVNULL,
          stderr: int | IO | None = subprocess.DEVNULL,
          text: bool = True, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start a long-running program in ``ns``; ``.pid`` is the program's own PID.

    ``ip netns exec`` execs the program (it does not fork), so no wrapper process
    stands between us and it.  The process is tracked until :func:`kill_pid`.
    """
    proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdin=stdin, stdout=stdout,
                            stderr=stderr, text=text, env=env, bufsize=1 if text else -1,
                            start_new_session=True)
    _TRACKED[proc.pid] = proc
    return proc


def is_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # state is the field after the ")" that closes the command name
    state = stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3]
    return state not in (b"Z", b"X")


def _reap(pid: int) -> None:
    proc = _TRACKED.get(pid)
    if proc is not None and proc.poll() is not None:
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
        _TRACKED.pop(pid, None)


def kill_pid(pid: int, *, timeout: float = 3.0, sig: int = signal.SIGTERM) -> bool:
    """Send ``sig`` (default SIGTERM), wait up to ``timeout``, then SIGKILL.

    Reaps the process if it is one of ours.  Returns True once it is gone.
    """
    proc = _TRACKED.get(pid)
    if proc is not None and proc.poll() is not None:
        _reap(pid)
        return True
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        _reap(pid)
        return True
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            break
        if proc is None and not is_alive(pid):
            break
        time.sleep(0.02)
    else:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        else:
            end = time.monotonic() + 5
            while is_alive(pid) and time.monotonic() < end:
                time.sleep(0.02)
    _reap(pid)
    return not is_alive(pid)


def tracked_pids() -> list[int]:
    """PIDs started with :func:`spawn` and not yet stopped."""
    return list(_TRACKED)


def stop_tracked(pids: Iterable[int] | None = None) -> None:
    """Stop (TERM, then KILL) the given tracked PIDs, or all tracked ones."""
    for pid in list(_TRACKED if pids is None else pids):
        kill_pid(pid)


def _is_pid_ns_init(pid: int) -> bool:
    """PID 1 of a pid namespace below ours (a lab router's procd): killing it ends the namespace."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("NSpid:"):
                    numbers = line.split()[1:]
                    return len(numbers) > 1 and numbers[-1] == "1"
    except OSError:
        pass
    return False


def _kill_all(pids: Sequence[int], timeout: float) -> None:
    # a router's PID 1 first, by SIGKILL: the kernel then ends every process of that router at
    # once (a power cut; SIGTERM would start a shutdown of several seconds)
    for pid in [p for p in pids if _is_pid_ns_init(p)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    end = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < end:
            proc = _TRACKED.get(pid)
            if (proc.poll() is not None) if proc is not None else not is_alive(pid):
                break
            time.sleep(0.02)
    for pid in pids:
        if is_alive(pid):
            kill_pid(pid, timeout=2.0, sig=signal.SIGKILL)
        else:
            _reap(pid)


def kill_in_ns(name: str, *, timeout: float = 3.0) -> None:
    """Kill every process in namespace ``name`` (TERM, then KILL), keeping the namespace."""
    _kill_all(sorted(set(ns_pids(name)) - {os.getpid()}), timeout)


def cleanup_prefix(prefix: str, *, timeout: float = 3.0) -> list[str]:
    """Kill every process in, then delete, every namespace named ``prefix*``.

    Safe after a crashed run: it works from ``ip netns list`` alone.  Namespaces
    and processes outside the prefix are never touched.  Returns deleted names.
    """
    if not prefix:
        raise ValueError("refusing to clean up an empty prefix")
    names = [n for n in list_ns() if n.startswith(prefix)]
    pids = sorted({pid for n in names for pid in ns_pids(n)} - {os.getpid()})
    _kill_all(pids, timeout)
    for n in names:
        del_ns(n)
    # reap tracked processes that died with their namespace's inhabitants
    for pid in list(_TRACKED):
        _reap(pid)
    return names
