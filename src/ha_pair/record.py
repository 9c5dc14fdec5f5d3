"""`@record`: the part of dataclasses ha-pair uses, without importing dataclasses.

dataclasses imports inspect (and with it ast, dis, tokenize, ...): 1.3 MB of the long-running
agent's memory on a router, for classes that need only an __init__, equality, a hash when frozen
and a repr. Supported: `frozen`, `slots`, defaults, `field(default=, default_factory=, init=,
repr=, compare=)`, `__post_init__`, and `replace()`. No inheritance between records, no ordering.
Annotations are never evaluated (every module has `from __future__ import annotations`).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any, Callable, TypeVar

    T = TypeVar("T")

_MISSING = object()


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen record."""


class Field:
    __slots__ = ("name", "default", "default_factory", "init", "repr", "compare")

    def __init__(self, default: Any = _MISSING, default_factory: Any = _MISSING, init: bool = True,
                 repr: bool = True, compare: bool = True) -> None:  # noqa: A002 (dataclasses' names)
        if default is not _MISSING and default_factory is not _MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name = ""
        self.default, self.default_factory = default, default_factory
        self.init, self.repr, self.compare = init, repr, compare


def field(*, default: Any = _MISSING, default_factory: Any = _MISSING, init: bool = True, repr: bool = True,
          compare: bool = True) -> Any:  # noqa: A002
    return Field(default, default_factory, init, repr, compare)


def fields(obj_or_class: Any) -> tuple[Field, ...]:
    return obj_or_class.__record_fields__


def replace(obj: T, **changes: Any) -> T:
    """A copy with some fields changed, built by __init__ (so __post_init__ checks it again)."""
    for name in changes:
        spec = next((f for f in obj.__record_fields__ if f.name == name), None)
        if spec is None or not spec.init:
            raise TypeError(f"{type(obj).__name__}.{name} cannot be given to replace()")
    for spec in obj.__record_fields__:
        if spec.init and spec.name not in changes:
            changes[spec.name] = getattr(obj, spec.name)
    return type(obj)(**changes)


def _fields(cls: type) -> tuple[Field, ...]:
    out = []
    for name in cls.__dict__.get("__annotations__", {}):
        value = cls.__dict__.get(name, _MISSING)
        spec = value if isinstance(value, Field) else Field(default=value)
        spec.name = name
        out.append(spec)
    return tuple(out)


def _init(cls: type, specs: tuple[Field, ...], frozen: bool) -> Callable:
    """__init__ compiled from source, as dataclasses does: as fast as a hand-written one."""
    scope: dict[str, Any] = {"_MISSING": _MISSING, "_set": object.__setattr__}
    params, body = [], []
    defaulted = False
    for spec in specs:
        value = spec.name
        if spec.default_factory is not _MISSING:
            scope[f"_factory_{spec.name}"] = spec.default_factory
            if spec.init:
                params.append(f"{spec.name}=_MISSING")
                defaulted = True
                value = f"_factory_{spec.name}() if {spec.name} is _MISSING else {spec.name}"
            else:
                value = f"_factory_{spec.name}()"
        elif spec.init:
            if spec.default is not _MISSING:
                scope[f"_default_{spec.name}"] = spec.default
                params.append(f"{spec.name}=_default_{spec.name}")
                defaulted = True
            elif defaulted:
                raise TypeError(f"{cls.__name__}: non-default field {spec.name!r} follows a default one")
            else:
                params.append(spec.name)
        elif spec.default is not _MISSING:
            scope[f"_default_{spec.name}"] = spec.default
            value = f"_default_{spec.name}"
        else:
            continue  # init=False without a default: __post_init__ sets it
        body.append(f"  _set(self, {spec.name!r}, {value})" if frozen else f"  self.{spec.name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("  self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "  pass") + "\n"
    exec(source, scope)  # noqa: S102 (our own text, from the class's field names)
    function = scope["__init__"]
    function.__qualname__ = f"{cls.__qualname__}.__init__"
    return function


def record(cls: type | None = None, *, frozen: bool = False, slots: bool = False) -> Any:
    """Class decorator: see the module docstring."""
    if cls is None:
        return lambda c: record(c, frozen=frozen, slots=slots)
    specs = _fields(cls)
    compared = tuple(f.name for f in specs if f.compare)
    shown = tuple(f.name for f in specs if f.repr)
    namespace: dict[str, Any] = {}

    def __eq__(self, other):  # noqa: N807
        if other.__class__ is not self.__class__:
            return NotImplemented
        return tuple(getattr(self, n) for n in compared) == tuple(getattr(other, n) for n in compared)

    def __repr__(self):  # noqa: N807
        return f"{type(self).__qualname__}(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in shown) + ")"

    namespace.update(__eq__=__eq__, __repr__=__repr__, __record_fields__=specs)
    if frozen:
        def __setattr__(self, name, value):  # noqa: N807
            raise FrozenInstanceError(f"cannot assign to field {name!r}")

        def __delattr__(self, name):  # noqa: N807
            raise FrozenInstanceError(f"cannot delete field {name!r}")

        def __hash__(self):  # noqa: N807
            return hash(tuple(getattr(self, n) for n in compared))

        namespace.update(__setattr__=__setattr__, __delattr__=__delattr__, __hash__=__hash__)
    else:
        namespace["__hash__"] = None  # mutable and compared by value: unhashable, as dataclasses does
    if slots:  # a new class (slots are fixed at creation); else the class itself, no garbage class left
        body = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
        for spec in specs:  # defaults live in __init__; a class attribute would clash with a slot
            body.pop(spec.name, None)
        cls = type(cls)(cls.__name__, cls.__bases__, {**body, **namespace, "__slots__": tuple(f.name for f in specs)})
    else:
        for spec in specs:
            if isinstance(cls.__dict__.get(spec.name), Field):
                delattr(cls, spec.name)  # field(...) markers; plain defaults stay, as with dataclasses
        for name, value in namespace.items():
            setattr(cls, name, value)
    cls.__init__ = _init(cls, specs, frozen)
    return cls
