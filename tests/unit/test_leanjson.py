"""leanjson (the JSON of the status path and of the agent, without the json package) gives exactly
what json gives."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings, strategies as st

from ha_pair import leanjson

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                      | st.dictionaries(st.text(), inner, max_size=4), max_leaves=30)


def _same(a, b) -> bool:
    """Equal, NaN equal to NaN (json.loads gives NaN for NaN)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=300)
@given(values)
def test_pretty_output_is_jsons(value):
    assert leanjson.dumps_pretty(value) == json.dumps(value, indent=2, sort_keys=True, default=str)


@settings(max_examples=300)
@given(values, st.sampled_from(["", " ", "\n", " \t\r\n"]))
def test_loads_gives_what_json_loads_gives(value, space):
    text = space + json.dumps(value) + space
    assert _same(leanjson.loads(text), json.loads(text))
    assert _same(leanjson.loads(text.encode()), json.loads(text))


class Thing:
    def __str__(self) -> str:
        return "thing é"


@pytest.mark.parametrize("value", [
    {"a": Thing(), "b": [Thing(), float("inf"), -float("inf"), float("nan"), 1e100, -0.0]},
    {2: "two", 10: "ten"}, {1.5: [], 0.25: {}}, {True: 1, False: 0}, {None: None}, (1, [2, (3,)]),
])
def test_other_values_and_keys_as_json_writes_them(value):
    assert leanjson.dumps_pretty(value) == json.dumps(value, indent=2, sort_keys=True, default=str)


def test_keys_that_cannot_be_sorted_are_refused_as_json_refuses_them():
    with pytest.raises(TypeError):
        json.dumps({"a": 1, 2: 3}, indent=2, sort_keys=True)
    with pytest.raises(TypeError):
        leanjson.dumps_pretty({"a": 1, 2: 3})


@pytest.mark.parametrize("text", ["", "  ", "{", '{"a": 1} x', "[1,]", "nul", '"\\x"', "{'a': 1}", "1 2"])
def test_bad_input_raises_jsons_error(text):
    with pytest.raises(ValueError) as ours:
        leanjson.loads(text)
    with pytest.raises(ValueError) as theirs:
        json.loads(text)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("method", ["status", "history", "peer_report", 'odd "name" é'])
def test_request_line_is_jsons(method):
    """The control client's request line (agent/control_client.py)."""
    for args in ({}, {"x": 1}):
        assert leanjson.dumps({"method": method, "args": args}) == json.dumps({"method": method, "args": args})


# the agent's calls: history and hold records, config digests, ubus replies, jsonsafe, the peer
ONE_LINE = [{}, {"sort_keys": True}, {"ensure_ascii": False, "allow_nan": False},
            {"separators": (",", ":"), "allow_nan": False, "default": str}]


def _one_line_as_json(value, options) -> None:
    """leanjson.dumps gives json.dumps's text, or raises its exception with its message."""
    try:
        expected = json.dumps(value, **options)
    except (TypeError, ValueError) as exc:
        with pytest.raises(type(exc)) as ours:
            leanjson.dumps(value, **options)
        assert str(ours.value) == str(exc)
    else:
        assert leanjson.dumps(value, **options) == expected


@settings(max_examples=300)
@given(values, st.sampled_from(ONE_LINE))
def test_one_line_output_is_jsons(value, options):
    _one_line_as_json(value, options)


@pytest.mark.parametrize("value", [{"a": Thing()}, [Thing()], {2: "two", 1.5: None, True: 0, None: 1},
                                   [float("nan")], {"a": float("inf")}, {"a": 1, 2: 3}])
@pytest.mark.parametrize("options", ONE_LINE)
def test_one_line_other_values_and_errors_are_jsons(value, options):
    _one_line_as_json(value, options)


def _refuse(name):
    raise ValueError(f"{name} refused")


@pytest.mark.parametrize("text", ["[NaN]", '{"a": Infinity}', "-Infinity"])
def test_parse_constant_is_called_as_json_calls_it(text):
    with pytest.raises(ValueError, match="refused"):
        leanjson.loads(text, parse_constant=_refuse)
    assert _same(leanjson.loads(text, parse_constant=lambda name: name), json.loads(text, parse_constant=lambda n: n))


def test_many_parse_constants_leave_the_default_scanner_working():
    for _ in range(10):
        assert leanjson.loads("[NaN]", parse_constant=lambda name: name) == ["NaN"]
    assert math.isnan(leanjson.loads("[NaN]")[0])
