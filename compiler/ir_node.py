"""`@node`: a frozen dataclass whose methods are shared functions instead of generated code.

Why: `@dataclass(frozen=True)` compiles six methods per class from source text at import time
(`exec`), which made importing the IR's ~50 classes cost ~50 ms, a quarter of a whole
`mlopsc validate` run. `@node` still makes a real dataclass (`dataclasses.fields`, `replace`,
`asdict` and `is_dataclass` work, `__dataclass_params__` says frozen and eq) but lets
`dataclasses` generate nothing: `__init__` is a closure over the field names and `__eq__`,
`__hash__`, `__repr__` and the frozen `__setattr__`/`__delattr__` are shared by every node.
`__post_init__`, when the class has one, runs after the fields are set.
They behave like the generated ones: equality and hashing over the fields as a tuple, the same
repr, FrozenInstanceError on assignment, TypeError for a missing or unknown argument
(tests/language/test_ir_node.py compares each IR class with a plain frozen dataclass).

The compile path's modules name `typing` only under `TYPE_CHECKING = False` (the constant type
checkers treat as true): importing `typing` cost ~2.5 ms of each `mlopsc validate`, and nothing
of it is used at run time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING, FrozenInstanceError
from operator import attrgetter

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2.5 ms of every validate: see above)
if TYPE_CHECKING:
    from typing import Any, dataclass_transform
else:
    def dataclass_transform(**_):  # read by type checkers only
        return lambda decorated: decorated


class Node:
    """Methods shared by every @node class; the per-class parts are set by `node`."""

    __slots__ = ()
    _key: Any  # fields compared and hashed, as a tuple
    _repr_names: tuple[str, ...]

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._key() == other._key()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        parts = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._repr_names)
        return f"{self.__class__.__qualname__}({parts})"


def _compare(op: str):
    def method(self, other):
        if other.__class__ is self.__class__:
            return getattr(self._key(), op)(other._key())
        return NotImplemented

    method.__name__ = op
    return method


_ORDER = {op: _compare(op) for op in ("__lt__", "__le__", "__gt__", "__ge__")}


def _key_getter(names: list[str]):
    """self -> tuple of the named fields (attrgetter returns a bare value for one name)."""
    if len(names) > 1:
        getter = attrgetter(*names)
        return lambda self: getter(self)
    if names:
        one = attrgetter(names[0])
        return lambda self: (one(self),)
    return lambda self: ()


def _init(qualname: str, fields: tuple[dataclasses.Field, ...], post_init=None):
    names = tuple(f.name for f in fields)
    count = len(names)
    defaults = {f.name: f.default for f in fields if f.default is not MISSING}
    factories = {f.name: f.default_factory for f in fields if f.default_factory is not MISSING}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) > count:
            raise TypeError(f"{qualname}.__init__() takes {count + 1} positional arguments "
                            f"but {len(args) + 1} were given")
        values = self.__dict__  # frozen: fill the instance dict, as dataclasses' object.__setattr__ does
        values.update(zip(names, args))
        for name in names[len(args):]:
            if name in kwargs:
                values[name] = kwargs.pop(name)
            elif name in defaults:
                values[name] = defaults[name]
            elif name in factories:
                values[name] = factories[name]()
            else:
                raise TypeError(f"{qualname}.__init__() missing 1 required argument: '{name}'")
        if kwargs:
            name = next(iter(kwargs))
            problem = "got multiple values for argument" if name in names else "got an unexpected keyword argument"
            raise TypeError(f"{qualname}.__init__() {problem} '{name}'")
        if post_init is not None:
            post_init(self)

    __init__.__qualname__ = f"{qualname}.__init__"
    return __init__


@dataclass_transform(frozen_default=True, eq_default=True)
def node(cls: type | None = None, *, order: bool = False):
    """Make `cls` (a subclass of Node) a frozen dataclass; `order=True` adds <, <=, >, >=."""

    def wrap(cls: type) -> type:
        return _dataclass(cls, order=order, frozen=True)

    return wrap if cls is None else wrap(cls)


class Record:
    """Methods shared by every @record class: a mutable dataclass's equality and repr."""

    __slots__ = ()
    _key: Any
    _repr_names: tuple[str, ...]
    __eq__ = Node.__eq__
    __repr__ = Node.__repr__
    __hash__ = None  # type: ignore[assignment]  # mutable and compared by value: unhashable, as @dataclass makes it


@dataclass_transform(eq_default=True)
def record(cls: type) -> type:
    """Make `cls` (a subclass of Record) a mutable dataclass, as `@dataclass` would, without generated code."""
    return _dataclass(cls, order=False, frozen=False)


def _dataclass(cls: type, *, order: bool, frozen: bool) -> type:
    if not cls.__doc__:  # dataclasses would build one with inspect.signature: ~3 ms for the first class
        cls.__doc__ = f"{cls.__name__}({', '.join(cls.__dict__.get('__annotations__', ()))})"
    cls = dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
    fields = dataclasses.fields(cls)
    cls.__init__ = _init(cls.__qualname__, fields, getattr(cls, "__post_init__", None))
    cls._key = _key_getter([f.name for f in fields if f.compare])
    cls._repr_names = tuple(f.name for f in fields if f.repr)
    if order:
        for op, method in _ORDER.items():
            setattr(cls, op, method)
    params = cls.__dataclass_params__  # describe what the class does, as @dataclass(frozen=...) would
    for flag in ("init", "repr", "eq"):
        setattr(params, flag, True)
    params.frozen, params.order = frozen, order
    return cls
