"""The agent hands the C heap's free pages back once it has started (agent/heap.py). Validation,
which used to allocate a few MB in the agent after start, now runs in a child (agent/config_child.py)."""

from __future__ import annotations

import ctypes

from ha_pair.agent import heap


def test_free_heap_is_released_where_the_c_library_can():
    assert heap.release_free_heap() is hasattr(ctypes.CDLL(None), "malloc_trim")
