"""ha_pair.record behaves as the dataclasses it replaces: construction with defaults and factories,
__post_init__, equality and hashing by the compared fields, frozen and slotted instances, repr
without the hidden fields, replace() running __post_init__ again."""

from __future__ import annotations

import dataclasses

import pytest

from ha_pair.record import FrozenInstanceError, field, record, replace


@record(frozen=True)
class Point:
    x: int
    y: int = 0
    tags: tuple = field(default_factory=tuple)
    secret: str | None = field(default=None, repr=False)
    derived: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "derived", self.x * 10 + self.y)


@dataclasses.dataclass(frozen=True)
class PointDC:
    x: int
    y: int = 0
    tags: tuple = dataclasses.field(default_factory=tuple)
    secret: str | None = dataclasses.field(default=None, repr=False)
    derived: int = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "derived", self.x * 10 + self.y)


@record
class Mutable:
    a: int
    b: dict = field(default_factory=dict)


@record(frozen=True, slots=True)
class Slotted:
    a: int
    b: bytes | None = None


def test_construction_defaults_and_post_init_match_dataclasses():
    for args, kwargs in (((1,), {}), ((1, 2), {}), ((1,), {"y": 5, "secret": "s"}), ((3, 4, (1,)), {})):
        ours, theirs = Point(*args, **kwargs), PointDC(*args, **kwargs)
        assert (ours.x, ours.y, ours.tags, ours.secret, ours.derived) == \
            (theirs.x, theirs.y, theirs.tags, theirs.secret, theirs.derived)
        assert repr(ours) == repr(theirs).replace("PointDC(", "Point(")  # hidden fields stay hidden (a secret is never printed)
    assert Mutable(1).b is not Mutable(1).b  # a fresh default per instance
    with pytest.raises(TypeError):
        Point()  # a field without a default is required
    with pytest.raises(TypeError):
        Point(1, derived=3)  # init=False: not a parameter


def test_equality_and_hash_use_the_compared_fields_only():
    a, b = Point(1, 2), Point(1, 2)
    object.__setattr__(b, "derived", 99)  # compare=False
    assert a == b and hash(a) == hash(b)
    assert a != Point(1, 3) and a != PointDC(1, 2)  # another class never equals
    assert len({Slotted(1), Slotted(1), Slotted(2)}) == 2
    with pytest.raises(TypeError):
        hash(Mutable(1))  # mutable and compared by value: unhashable, as with dataclasses
    assert Mutable(1) == Mutable(1, {}) and Mutable(1) != Mutable(2)


def test_frozen_and_slots():
    p = Point(1)
    with pytest.raises(FrozenInstanceError):
        p.x = 2
    with pytest.raises(AttributeError):
        del p.x
    s = Slotted(1)
    assert not hasattr(s, "__dict__") and Slotted.__slots__ == ("a", "b")
    with pytest.raises(AttributeError):
        s.a = 5
    m = Mutable(1)
    m.a = 2
    assert m.a == 2


def test_replace_builds_through_init():
    p = Point(1, 2, secret="s")
    q = replace(p, y=5)
    assert (q.x, q.y, q.secret, q.derived) == (1, 5, "s", 15)  # __post_init__ ran again
    assert replace(Slotted(1, b"x"), a=2) == Slotted(2, b"x")
    with pytest.raises(TypeError):
        replace(p, derived=1)
    with pytest.raises(TypeError):
        replace(p, nonsense=1)


def test_a_required_field_after_a_default_is_refused():
    with pytest.raises(TypeError):
        @record
        class Bad:
            a: int = 1
            b: int
