"""ha_pair.spawn starts the agent's SSH clients and lease import helper as subprocess.Popen did:
0-2 plumbed, no other descriptor inherited, SIGPIPE at its default, a new session on request, a
deadline that kills."""

from __future__ import annotations

import os
import time

import pytest

from ha_pair import spawn


def sh(script: str, **kw) -> tuple[int, bytes, bytes]:
    return spawn.run(["/bin/sh", "-c", script], 10, out=spawn.PIPE, **kw)


def test_output_errors_and_exit_codes():
    assert sh("echo out; echo err >&2; exit 3") == (3, b"out\n", b"err\n")
    assert spawn.run(["/bin/sh", "-c", "echo out; echo err >&2"], 10) == (0, b"", b"err\n")  # stdout to /dev/null
    assert sh("kill -TERM $$")[0] == -15


def test_stdin_is_dev_null_and_env_is_what_is_given():
    assert sh("cat; echo \"[$HA_SPAWN_TEST]\"", env={"HA_SPAWN_TEST": "x", "PATH": "/usr/bin:/bin"})[1] == b"[x]\n"


def test_no_descriptor_is_inherited_beyond_0_1_2():
    read, write = os.pipe()
    os.set_inheritable(write, True)  # as a parent's or a C library's descriptor can be
    try:
        listed = sh("ls /proc/$$/fd")[1].split()
    finally:
        os.close(read)
        os.close(write)
    assert str(write).encode() not in listed
    assert {b"0", b"1", b"2"} <= set(listed)


def test_sigpipe_is_back_at_its_default_and_the_session_is_new():
    # Python ignores SIGPIPE; an ignored signal stays ignored across exec unless reset
    status = sh("grep -E '^SigIgn' /proc/$$/status")[1].split()[1]
    assert int(status, 16) & (1 << (13 - 1)) == 0
    session = sh("cut -d' ' -f6 /proc/$$/stat", new_session=True)[1].strip()
    pid = sh("echo $$", new_session=True)[1].strip()
    assert session != str(os.getsid(0)).encode() and pid


def test_a_deadline_kills_the_child():
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        spawn.run(["/bin/sleep", "30"], 0.3)
    assert time.monotonic() - started < 5


def test_a_missing_program_is_an_oserror():
    with pytest.raises(OSError):
        spawn.run(["/nonexistent/program"], 1)


def test_pipes_both_ways():
    child = spawn.Child(["/bin/sh", "-c", "cat; echo done >&2"], stdin=spawn.PIPE, stdout=spawn.PIPE,
                        stderr=spawn.PIPE, new_session=True)
    os.write(child.stdin, b"hello")
    os.close(child.stdin)
    child.stdin = None
    assert os.read(child.stdout, 100) == b"hello"
    assert os.read(child.stderr, 100) == b"done\n"
    assert child.wait(5) == 0
    child.close()
