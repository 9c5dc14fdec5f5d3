"""ha_pair.epoll_selector answers as the stdlib's selectors.EpollSelector, side by side on the same
pipes: what is ready and for what, hang-ups, modify/unregister, timeouts and the errors."""

from __future__ import annotations

import os
import selectors
import time
from pathlib import Path

import pytest

from ha_pair import epoll_selector

IMPLEMENTATIONS = (selectors.EpollSelector, epoll_selector.EpollSelector)


def ready(selector, timeout: float | None = 0) -> list[tuple[int, int, object]]:
    return sorted((key.fd, events, key.data) for key, events in selector.select(timeout))


def test_same_answers_as_selectors_on_pipes():
    answers = []
    for cls in IMPLEMENTATIONS:
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        with cls() as selector:
            selector.register(r1, 1, "r1")
            selector.register(w2, 2, "w2")
            seen = [ready(selector)]  # w2 writable, r1 empty
            os.write(w1, b"x")
            seen.append(ready(selector))  # both
            selector.modify(w2, 1, "w2-read")  # the write end never becomes readable
            seen.append(ready(selector))
            os.close(w1)
            os.read(r1, 1)
            seen.append(ready(selector))  # end of file: readable
            selector.unregister(r1)
            seen.append(ready(selector))
            seen.append(sorted(selector.get_map()) == [w2])
        for fd in (r1, r2, w2):
            os.close(fd)
        answers.append([[(fd == w2, fd == r1, events, data) for fd, events, data in step] if isinstance(step, list)
                        else step for step in seen])
    assert answers[0] == answers[1]
    assert answers[1][1] == [(False, True, 1, "r1"), (True, False, 2, "w2")]


def test_a_closed_peer_wakes_a_writer_with_the_events_it_asked_for():
    r, w = os.pipe()
    os.close(r)
    with epoll_selector.EpollSelector() as selector:
        selector.register(w, epoll_selector.EVENT_WRITE)
        assert [(key.fd, events) for key, events in selector.select(1)] == [(w, epoll_selector.EVENT_WRITE)]
    os.close(w)


def test_timeouts_wait_and_poll():
    r, w = os.pipe()
    with epoll_selector.EpollSelector() as selector:
        selector.register(r, epoll_selector.EVENT_READ)
        start = time.monotonic()
        assert selector.select(0) == [] and selector.select(-1) == []
        assert selector.select(0.05) == []
        assert time.monotonic() - start >= 0.05  # never early (rounded up to the millisecond)
        os.write(w, b"x")
        assert len(selector.select(None)) == 1
    os.close(r)
    os.close(w)


def test_the_errors_of_selectors(tmp_path: Path):
    r, w = os.pipe()
    plain = tmp_path / "file"
    plain.write_text("x")
    with open(plain) as handle, epoll_selector.EpollSelector() as selector:
        selector.register(r, epoll_selector.EVENT_READ)
        with pytest.raises(KeyError):
            selector.register(r, epoll_selector.EVENT_READ)
        with pytest.raises(ValueError):
            selector.register(w, 4)
        with pytest.raises(PermissionError):  # leasesync.message reads a regular file directly then
            selector.register(handle, epoll_selector.EVENT_READ)
        with pytest.raises(KeyError):
            selector.unregister(w)
        os.close(r)
        selector.unregister(r)  # closed first: still forgotten, no error
    os.close(w)
