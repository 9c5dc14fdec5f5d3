"""ha_pair.leanthreads does what the agent asked of threading: a started thread can be joined, an
event wakes a waiter at once, stays set until cleared, and times out when never set."""

from __future__ import annotations

import time

from ha_pair import leanthreads


def test_a_thread_runs_its_target_and_can_be_joined():
    ran = []
    gate = leanthreads.Event()
    thread = leanthreads.Thread(lambda: (gate.wait(5), ran.append(leanthreads.get_ident())))
    thread.start()
    assert thread.is_alive()
    thread.join(0.05)  # not done yet: join times out
    assert thread.is_alive() and ran == []
    gate.set()
    thread.join(5)
    assert not thread.is_alive() and ran and ran[0] != leanthreads.MAIN


def test_a_thread_that_raises_still_ends(capsys):
    def fail() -> None:
        raise RuntimeError("boom")

    thread = leanthreads.Thread(fail)
    thread.start()
    thread.join(5)
    assert not thread.is_alive()
    err = capsys.readouterr().err
    assert "thread test_a_thread_that_raises_still_ends.<locals>.fail failed" in err and "RuntimeError: boom" in err


def test_event_set_wait_clear_and_timeout():
    event = leanthreads.Event()
    start = time.monotonic()
    assert event.wait(0.05) is False and time.monotonic() - start >= 0.05
    assert event.wait(0) is False and not event.is_set()
    event.set()
    event.set()  # twice is still set once
    assert event.wait(0) is True and event.wait(None) is True and event.is_set()  # stays set
    event.clear()
    event.clear()
    assert not event.is_set() and event.wait(0) is False


def test_an_event_set_by_another_thread_wakes_the_waiter_at_once():
    event = leanthreads.Event()
    setter = leanthreads.Thread(lambda: (time.sleep(0.05), event.set()))
    start = time.monotonic()
    setter.start()
    assert event.wait(10) is True
    assert time.monotonic() - start < 5
    setter.join(5)


def test_sets_racing_with_a_waiter_leave_it_set():
    event = leanthreads.Event()
    done = leanthreads.Event()

    def hammer() -> None:
        for _ in range(20000):
            event.set()
        done.set()

    thread = leanthreads.Thread(hammer)
    thread.start()
    while not done.is_set():
        assert event.wait(5) is True  # never a RuntimeError from a lock released twice
    thread.join(5)
    assert event.is_set()
