"""The agent hands the C heap's free pages back after starting and after each validation."""

from __future__ import annotations

import ctypes

from ha_pair.agent import heap, loop


def test_free_heap_is_released_where_the_c_library_can():
    assert heap.release_free_heap() is hasattr(ctypes.CDLL(None), "malloc_trim")


def test_the_agent_releases_it_after_validating(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(loop, "release_free_heap", lambda: calls.append(1) or True)
    monkeypatch.setattr(loop, "validate", lambda paths: loop.Result(model=None, errors=(), warnings=()))
    agent = loop.Agent.__new__(loop.Agent)
    agent.paths = None
    agent._validate_disk(())
    assert calls == [1]
