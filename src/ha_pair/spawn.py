"""Child processes for the agent without the subprocess module: it loads locale, contextlib and
warnings with it, ~470 kB of the long-running agent's memory on the lab router's python3, for
the SSH client of every peer poll and lease exchange and the lease import helper. os.posix_spawn
with what subprocess.Popen would do for these calls: pipes or /dev/null on 0-2, a new session,
SIGPIPE and SIGXFSZ back to their defaults (Python ignores SIGPIPE), and no other descriptor
(close_fds: Python's own are close-on-exec, the inheritable rest is closed in the child)."""

from __future__ import annotations

import os
import select
import _signal  # signal.py's C core, without its enums of every signal and handler (~50 kB of the agent)
import time

PIPE = -1
DEVNULL = -3


def _inheritable() -> list[int]:
    """Descriptors above 2 a program started now would inherit (from our parent, or opened by C
    code such as libubus without close-on-exec)."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if fd > 2 and os.get_inheritable(fd):
                found.append(fd)
        except OSError:  # listdir's own descriptor, closed by now
            pass
    return found


class Child:
    """One started program. `stdin`/`stdout`/`stderr`: this side's end of each PIPE (a raw
    descriptor), else None."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None, stdin: int = DEVNULL,
                 stdout: int = DEVNULL, stderr: int = DEVNULL, new_session: bool = False) -> None:
        actions: list[tuple] = [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inheritable()]
        ends: list[int | None] = []
        child_ends: list[int] = []
        try:
            for target, how in ((0, stdin), (1, stdout), (2, stderr)):
                if how == PIPE:
                    read, write = os.pipe()  # close-on-exec: the child keeps only its dup2 copy
                    mine, theirs = (write, read) if target == 0 else (read, write)
                    child_ends.append(theirs)
                    ends.append(mine)
                    actions.append((os.POSIX_SPAWN_DUP2, theirs, target))
                else:
                    ends.append(None)
                    actions.append((os.POSIX_SPAWN_OPEN, target, os.devnull, os.O_RDWR, 0))
            self.pid = os.posix_spawn(argv[0], argv, os.environ if env is None else env, file_actions=actions,
                                      setsid=new_session, setsigdef=(_signal.SIGPIPE, _signal.SIGXFSZ))
        except BaseException:
            for fd in ends + child_ends:
                if fd is not None:
                    os.close(fd)
            raise
        for fd in child_ends:
            os.close(fd)
        self.stdin, self.stdout, self.stderr = ends
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (negative: the signal); TimeoutError when it runs past `timeout` s."""
        if timeout is None:
            if self.returncode is None:
                self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
            return self.returncode
        deadline = time.monotonic() + timeout
        delay = 0.001
        while self.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            time.sleep(min(delay, left))
            delay = min(delay * 2, 0.05)
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, _signal.SIGKILL)
            except ProcessLookupError:
                pass

    def close(self, *names: str) -> None:
        """Close this side's pipe ends: those named ("stdin", "stdout", "stderr"), else all."""
        for name in names or ("stdin", "stdout", "stderr"):
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)


def run(argv: list[str], timeout: float, env: dict[str, str] | None = None, new_session: bool = False,
        out: int = DEVNULL) -> tuple[int, bytes, bytes]:
    """Run to the end with stdin from /dev/null and stderr (and stdout with out=PIPE) captured:
    (exit code, stdout, stderr). Killed and TimeoutError past `timeout` s; OSError when it cannot
    start."""
    child = Child(argv, env, DEVNULL, out, PIPE, new_session)
    deadline = time.monotonic() + timeout
    out_fd, err_fd = child.stdout, child.stderr
    captured: dict[int, list[bytes]] = {fd: [] for fd in (out_fd, err_fd) if fd is not None}
    try:
        open_fds = list(captured)
        while open_fds:
            left = deadline - time.monotonic()
            if left <= 0:
                child.kill()
                raise TimeoutError
            readable, _, _ = select.select(open_fds, [], [], left)
            for fd in readable:
                chunk = os.read(fd, 65536)
                if chunk:
                    captured[fd].append(chunk)
                else:
                    open_fds.remove(fd)
        code = child.wait(max(0.0, deadline - time.monotonic()))
    except BaseException:
        child.kill()
        child.wait()
        raise
    finally:
        child.close()
    return code, b"".join(captured[out_fd]) if out_fd is not None else b"", b"".join(captured[err_fd])
